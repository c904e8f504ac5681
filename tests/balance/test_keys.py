"""What uri, url_param and hdr hash (HAProxy's documented semantics)."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lb.balance.keys import domain_only, query_param, uri_hash_input, uri_path

URI = "/a/b/c/d.html?x=1/2&y=3"
ABSOLUTE = "http://www.example.com:8080/a/b/c/d.html?x=1/2&y=3"


@pytest.mark.parametrize(
    ("uri", "options", "expected"),
    [
        # By default, the left part of the URI, before the question mark.
        (URI, {}, "/a/b/c/d.html"),
        ("/", {}, "/"),
        ("/?q", {}, "/"),
        # whole: the query is kept.
        (URI, {"whole": True}, URI),
        # len: only that many characters from the start.
        (URI, {"length": 4}, "/a/b"),
        (URI, {"length": 1000}, "/a/b/c/d.html"),
        (URI, {"length": 20, "whole": True}, "/a/b/c/d.html?x=1/2&"),
        # depth: one level per slash; stops before the slash of the next level.
        (URI, {"depth": 1}, "/a"),
        (URI, {"depth": 2}, "/a/b"),
        (URI, {"depth": 3}, "/a/b/c"),
        (URI, {"depth": 4}, "/a/b/c/d.html"),
        (URI, {"depth": 9}, "/a/b/c/d.html"),
        # with whole, slashes in the query count as levels too
        (URI, {"depth": 4, "whole": True}, "/a/b/c/d.html?x=1"),
        # len and depth together: whichever is reached first.
        (URI, {"depth": 3, "length": 4}, "/a/b"),
        (URI, {"depth": 1, "length": 6}, "/a"),
        # path-only: the scheme and authority of an absolute URI are ignored...
        (ABSOLUTE, {"path_only": True}, "/a/b/c/d.html"),
        (ABSOLUTE, {"path_only": True, "depth": 2}, "/a/b"),
        (ABSOLUTE, {"path_only": True, "whole": True}, URI),
        # ...without it they are part of the key.
        (ABSOLUTE, {}, "http://www.example.com:8080/a/b/c/d.html"),
        (ABSOLUTE, {"depth": 1}, "http:/"),  # the second slash opens level 2
        ("http://h", {"path_only": True}, ""),
        ("http://h?q=1", {"path_only": True, "whole": True}, "?q=1"),
        ("www.example.com:443", {"path_only": True}, None),  # CONNECT: no path
    ],
)
def test_uri_options(uri: str, options: dict[str, Any], expected: str | None) -> None:
    assert uri_hash_input(uri, **options) == expected


@given(st.text(alphabet="/ab?=&", max_size=30), st.integers(1, 6))
def test_path_only_makes_absolute_and_origin_forms_agree(path: str, depth: int) -> None:
    path = "/" + path
    assert uri_hash_input("https://h.example" + path, depth=depth, path_only=True) == (
        uri_hash_input(path, depth=depth, path_only=True)
    )


@given(st.text(max_size=40), st.integers(1, 50))
def test_len_is_a_prefix(uri: str, length: int) -> None:
    full = uri_hash_input(uri, whole=True)
    assert full is not None
    assert uri_hash_input(uri, length=length, whole=True) == full[:length]


@pytest.mark.parametrize(
    ("uri", "path"),
    [("/x", "/x"), ("http://h/x?y", "/x?y"), ("https://u@h:1/", "/"), ("h:443", None)],
)
def test_uri_path(uri: str, path: str | None) -> None:
    assert uri_path(uri) == path


@pytest.mark.parametrize(
    ("uri", "name", "value"),
    [
        ("/p?userid=42", "userid", b"42"),
        ("/p?a=1&userid=42&b=2", "userid", b"42"),
        ("/p?userid=42#frag", "userid", b"42"),
        ("/p?userid=&userid=7", "userid", b"7"),  # empty value: not found, keep looking
        ("/p?userid", "userid", None),  # no '=' and value
        ("/p?user=1", "userid", None),
        ("/p?xuserid=1", "userid", None),
        ("/p", "userid", None),
        ("/p#?userid=1", "userid", None),
    ],
)
def test_query_param(uri: str, name: str, value: bytes | None) -> None:
    assert query_param(uri, name) == value


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        (b"haproxy.1wt.eu", b"1wt"),  # HAProxy's example
        (b"www.example.com:8080", b"example"),
        (b"example.com.", b"example"),
        (b"localhost", b"localhost"),
    ],
)
def test_domain_only(host: bytes, domain: bytes) -> None:
    assert domain_only(host) == domain
