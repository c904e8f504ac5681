"""What the hashing algorithms hash: the bytes taken from a request, HAProxy's way.

Each ``*_key`` builder returns a function from a ``PickKey`` to the bytes to
hash, or None when the request has nothing to hash; the balancer then falls
back to round robin, as HAProxy does.
"""

from __future__ import annotations

from collections.abc import Callable

from lb.balance.view import PickKey

KeyOf = Callable[[PickKey | None], bytes | None]


def _encode(text: str) -> bytes:
    # Request targets are ASCII on the wire; surrogateescape gives back the
    # original bytes of anything the worker decoded that way.
    return text.encode("utf-8", "surrogateescape")


def uri_path(uri: str) -> str | None:
    """The URI from its path on: the scheme and authority of an absolute URI stripped.

    "/a?b" stays; "http://h:80/a?b" gives "/a?b"; "http://h?b" gives "?b" and
    "http://h" gives "" (an empty path); an authority-form target ("h:443") has
    no path: None.
    """
    if uri.startswith("/"):
        return uri
    scheme_end = uri.find("://")
    if scheme_end < 0:
        return None
    rest = uri[scheme_end + 3 :]
    cut = min((p for p in (rest.find("/"), rest.find("?")) if p >= 0), default=len(rest))
    return rest[cut:]


def uri_hash_input(
    uri: str,
    *,
    length: int | None = None,
    depth: int | None = None,
    whole: bool = False,
    path_only: bool = False,
) -> str | None:
    """The part of ``uri`` that ``balance uri`` hashes (None: nothing to hash).

    By default the part before "?"; ``whole`` keeps the query. ``length`` keeps
    at most that many characters from the start; ``depth`` keeps at most that
    many directory levels, a level being counted at each "/" ("/a/b/c" at depth
    2 is "/a/b"); whichever limit comes first wins. ``path-only`` first strips
    the scheme and authority, so absolute (HTTP/2-style) and origin-form
    targets hash alike.
    """
    if path_only:
        path = uri_path(uri)
        if path is None:
            return None
        uri = path
    if length is not None:
        uri = uri[:length]
    if not whole and (mark := uri.find("?")) >= 0:
        uri = uri[:mark]
    if depth is not None:
        slash = -1
        for _ in range(depth + 1):
            slash = uri.find("/", slash + 1)
            if slash < 0:
                break
        else:
            uri = uri[:slash]  # the slash that opens level depth+1
    return uri


def query_param(uri: str, name: str) -> bytes | None:
    """The value of the first ``name=value`` in the query string with a non-empty value."""
    if (fragment := uri.find("#")) >= 0:
        uri = uri[:fragment]
    mark = uri.find("?")
    if mark < 0:
        return None
    query = uri[mark + 1 :]
    for item in query.split("&"):
        key, equals, value = item.partition("=")
        if key == name and equals and value:
            return _encode(value)
    return None


def domain_only(host: bytes) -> bytes:
    """HAProxy's ``use_domain_only``: "haproxy.1wt.eu" hashes as "1wt"."""
    if not host.startswith(b"["):  # no port strip inside an IPv6 literal
        host = host.partition(b":")[0]
    labels = host.rstrip(b".").split(b".")
    return labels[-2] if len(labels) >= 2 else labels[0]


def source_key(key: PickKey | None) -> bytes | None:
    return (key.source or None) if key is not None else None


def destination_key(key: PickKey | None) -> bytes | None:
    return (key.destination or None) if key is not None else None


def uri_key(
    *,
    length: int | None = None,
    depth: int | None = None,
    whole: bool = False,
    path_only: bool = False,
) -> KeyOf:
    def key_of(key: PickKey | None) -> bytes | None:
        if key is None or key.uri is None:
            return None
        part = uri_hash_input(key.uri, length=length, depth=depth, whole=whole, path_only=path_only)
        return _encode(part) if part is not None else None

    return key_of


def url_param_key(name: str) -> KeyOf:
    """The parameter's value: ``PickKey.param`` if the worker set it, else from the URI."""

    def key_of(key: PickKey | None) -> bytes | None:
        if key is None:
            return None
        if key.param is not None:
            return key.param or None
        return query_param(key.uri, name) if key.uri is not None else None

    return key_of


def header_key(*, use_domain_only: bool = False) -> KeyOf:
    def key_of(key: PickKey | None) -> bytes | None:
        if key is None or not key.header:
            return None  # absent or empty: HAProxy falls back to round robin
        return domain_only(key.header) if use_domain_only else key.header

    return key_of
