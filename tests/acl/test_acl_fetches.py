"""Every fetch: the value a sample expression gets, and what an ACL iterates over.

Expectations are HAProxy 2.6's (checked against the real one: see test_acl_haproxy).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from lb.acl import StaticRuntime
from lb.acl.errors import NotYet, RuleError
from lb.acl.sample import compile_text
from tests.acl.conftest import bare_ctx, txn

IP = ipaddress.ip_address
H = [(b"Host", b"www.example.com"), (b"X", b"a, b"), (b"x", b"c"), (b"Y", b'"q,r", s')]

# (expression, transaction fields, value, all values an ACL sees)
CASES: list[tuple[str, dict[str, Any], object, list[object]]] = [
    ("path", {"url": b"/a/b?c=d"}, b"/a/b", [b"/a/b"]),
    ("path", {"url": b"/a/b"}, b"/a/b", [b"/a/b"]),
    ("path", {"url": b"/a?"}, b"/a", [b"/a"]),
    ("path", {"url": b"http://h.example:81/p/q?z=1"}, b"/p/q", [b"/p/q"]),
    ("path", {"url": b"http://h.example"}, None, []),
    ("path", {"url": b"*"}, None, []),
    ("pathq", {"url": b"http://h/p?z"}, b"/p?z", [b"/p?z"]),
    ("query", {"url": b"/a"}, None, []),
    ("query", {"url": b"/a?"}, b"", [b""]),
    ("query", {"url": b"/a?x=1?y"}, b"x=1?y", [b"x=1?y"]),
    ("url", {"url": b"/a?b"}, b"/a?b", [b"/a?b"]),
    ("url", {"url": b"*"}, b"*", [b"*"]),
    ("base", {"url": b"/p?q", "headers": H}, b"www.example.com/p", [b"www.example.com/p"]),
    ("base", {"url": b"/p?q"}, b"/p", [b"/p"]),
    ("baseq", {"url": b"/p?q", "headers": H}, b"www.example.com/p?q", [b"www.example.com/p?q"]),
    ("url_param(a)", {"url": b"/x?a=1&b=2;a=3"}, b"1", [b"1", b"3"]),
    ("urlp(b)", {"url": b"/x?a=1&b=2;a=3"}, b"2", [b"2"]),
    ("urlp", {"url": b"/x?b=1&a"}, b"1", [b"1"]),
    ("urlp(a)", {"url": b"/x?a"}, None, []),
    ("urlp(a)", {"url": b"/x?a="}, b"", [b""]),
    ("urlp(JSESSIONID,;)", {"url": b"/foo;JSESSIONID=xyz"}, b"xyz", [b"xyz"]),
    ("urlp(a)", {"url": b"/x"}, None, []),
    ("urlp_val(n)", {"url": b"/x?n=42"}, 42, [42]),
    ("req.hdr(x)", {"headers": H}, b"c", [b"a", b"b", b"c"]),
    ("hdr(X)", {"headers": H}, b"c", [b"a", b"b", b"c"]),
    ("req.hdr(x,1)", {"headers": H}, b"a", [b"a"]),
    ("req.hdr(x,-2)", {"headers": H}, b"b", [b"b"]),
    ("req.hdr(x,4)", {"headers": H}, None, []),
    ("req.hdr(y)", {"headers": H}, b"s", [b'"q,r"', b"s"]),
    ("req.hdr(nope)", {"headers": H}, None, []),
    ("req.hdr(x)", {"headers": [(b"X", b"")]}, b"", [b""]),
    ("req.fhdr(x)", {"headers": H}, b"c", [b"a, b", b"c"]),
    ("req.fhdr(y,1)", {"headers": H}, b'"q,r", s', [b'"q,r", s']),
    ("req.hdr_cnt(x)", {"headers": H}, 3, [3]),
    ("hdr_cnt(x)", {"headers": [(b"X", b"")]}, 1, [1]),
    ("req.hdr_cnt(nope)", {"headers": H}, 0, [0]),
    ("req.hdr_cnt", {"headers": H}, 6, [6]),
    ("req.fhdr_cnt(x)", {"headers": H}, 2, [2]),
    ("req.fhdr_cnt", {"headers": H}, 4, [4]),
    ("req.hdr_val(n)", {"headers": [(b"N", b"7x"), (b"N", b"12")]}, 12, [7, 12]),
    ("hdr_val(n)", {"headers": [(b"N", b"abc")]}, None, []),
    (
        "req.hdr_ip(xff)",
        {"headers": [(b"XFF", b"10.0.0.1:8080, 2001:db8::1")]},
        IP("2001:db8::1"),
        [IP("10.0.0.1"), IP("2001:db8::1")],
    ),
    ("method", {"method": b"PURGE"}, b"PURGE", [b"PURGE"]),
    ("req.ver", {"version": "1.0"}, b"1.0", [b"1.0"]),
    ("req_ver", {}, b"1.1", [b"1.1"]),
    ("req.proto_http", {}, True, [True]),
    ("src", {"src": "::1"}, IP("::1"), [IP("::1")]),
    ("src", {"src": ""}, None, []),
    ("dst", {}, IP("127.0.0.1"), [IP("127.0.0.1")]),
    ("src_port", {}, 40000, [40000]),
    ("dst_port", {}, 80, [80]),
    ("fe_name", {}, b"fe", [b"fe"]),
    ("be_name", {}, b"fe", [b"fe"]),
    ("nbsrv(be1)", {}, 1, [1]),
    ("srv_is_up(be1/s1)", {}, True, [True]),
    ("srv_is_up(be1/s2)", {}, False, [False]),
    ("always_true", {}, True, [True]),
    ("always_false", {}, False, [False]),
    ("wait_end", {}, True, [True]),
    ("str(abc)", {}, b"abc", [b"abc"]),
    ("int(-3)", {}, -3, [-3]),
    ("var(txn.nope)", {}, None, []),
    ("var(txn.nope,dflt)", {}, b"dflt", [b"dflt"]),
    ("http_auth_user", {"headers": [(b"Authorization", b"Basic dTpwOng=")]}, b"u", [b"u"]),
    ("http_auth_pass", {"headers": [(b"Authorization", b"basic dTpwOng=")]}, b"p:x", [b"p:x"]),
    ("http_auth_type", {"headers": [(b"Authorization", b"Bearer t")]}, b"Bearer", [b"Bearer"]),
    ("http_auth_user", {"headers": [(b"Authorization", b"Bearer t")]}, None, []),
]


@pytest.mark.parametrize(("expr", "fields", "value", "values"), CASES)
def test_fetch(expr: str, fields: dict[str, Any], value: object, values: list[object]) -> None:
    sample = compile_text(expr, bare_ctx())
    t = txn(**fields)
    rt = StaticRuntime({"be1": ["s1", "s2"]}, down={("be1", "s2")})
    assert sample.one(t, rt) == value
    assert list(sample.values()(t, rt)) == values


RESPONSE = [(b"Server", b"x"), (b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2, c=3")]


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("status", 404),
        ("res.hdr(set-cookie)", b"c=3"),
        ("hdr(set-cookie)", b"c=3"),  # hdr is the response's in response rules
        ("shdr(server)", b"x"),
        ("res.fhdr(set-cookie)", b"b=2, c=3"),
        ("res.hdr_cnt(set-cookie)", 3),
        ("res.fhdr_cnt", 3),
        ("res.ver", b"1.1"),
    ],
)
def test_response_fetch(expr: str, value: object) -> None:
    t = txn()
    t.set_response(404, list(RESPONSE))
    sample = compile_text(expr, bare_ctx("res"))
    assert sample.one(t, StaticRuntime()) == value


def test_rewritten_url_is_seen_by_the_next_fetch() -> None:
    t = txn(b"/a?b")
    path = compile_text("path", bare_ctx())
    assert path.one(t, StaticRuntime()) == b"/a"
    t.set_url(b"/c/d")
    assert path.one(t, StaticRuntime()) == b"/c/d"


@pytest.mark.parametrize(
    ("expr", "direction", "error", "message"),
    [
        ("nosuch", "req", RuleError, "unknown fetch method 'nosuch'"),
        ("path(1)", "req", RuleError, "takes no argument"),
        ("hdr(x,y)", "req", RuleError, "'y' is not an integer"),
        ("nbsrv(nope)", "req", RuleError, "no backend named 'nope'"),
        ("srv_is_up(be1/nope)", "req", RuleError, "no server 'nope' in backend 'be1'"),
        ("srv_is_up(s1)", "req", RuleError, "no backend named 'fe'"),
        ("http_auth(nope)", "req", RuleError, "no userlist named 'nope'"),
        ("srv_is_up", "req", RuleError, "expects 1 argument"),
        ("var(x)", "req", RuleError, "invalid variable name 'x'"),
        ("var(sess.x)", "req", NotYet, "sess.x"),
        ("path", "res", RuleError, "needs the request"),
        ("status", "req", RuleError, "needs the response"),
        ("req.cook(a)", "req", NotYet, "'req.cook' is not supported yet"),
        ("path,nosuch", "req", RuleError, "unknown converter 'nosuch'"),
        ("path,sha1", "req", NotYet, "'sha1' is not supported yet"),
        ("path,field(x,/)", "req", RuleError, "'field': 'x' is not an integer"),
        ("path(", "req", RuleError, "missing ')'"),
    ],
)
def test_fetch_errors(expr: str, direction: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        compile_text(expr, bare_ctx(direction))
    assert message in str(caught.value)
    if error is RuleError:
        assert not isinstance(caught.value, NotYet)
