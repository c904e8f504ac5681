"""ACL lines: matching methods, flags, operators, pattern files, predefined ACLs.

Each row is an ACL line, a request and whether the ACL holds; the HAProxy edge
cases come from its manual and from the real HAProxy 2.6 (see test_acl_haproxy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lb.acl import StaticRuntime
from lb.acl.acl import AclTable, compile_acl_words
from lb.acl.errors import NotYet, RuleError
from tests.acl.conftest import bare_ctx, txn

PNG = b"/images/png/logo/32x32.png"
URL = b"http://www1.dc-eu.example.com:81/blah"

# (ACL words after the name, transaction fields, holds)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    # exact strings; several values OR
    ("path /a /b", {"url": b"/b"}, True),
    ("path /a /b", {"url": b"/c"}, False),
    ("path /a", {"url": b"/a?x"}, True),  # path stops at '?'
    ("path /a", {"url": b"/A"}, False),
    ("path -i /a", {"url": b"/A"}, True),
    # -i applies to the values after it only
    ("path /A -i /b", {"url": b"/a"}, False),
    ("path /A -i /b", {"url": b"/A"}, True),
    ("path /A -i /b", {"url": b"/b"}, True),
    ("path /A -i /b", {"url": b"/B"}, False),  # "-i" after a value is a value
    ("path /A -i /b", {"url": b"-i"}, False),
    ("path -- -i", {"url": b"/-i"}, False),
    ("path_end -- -i", {"url": b"/x-i"}, True),
    ("path_beg -i -- -X", {"url": b"-x/"}, False),  # no path without a leading slash
    # derivatives
    ("path_beg /static /img", {"url": b"/img/a.png"}, True),
    ("path_beg /static", {"url": b"/Static/a"}, False),
    ("path_beg -i /static", {"url": b"/STATIC/a"}, True),
    ("path_end .css .js", {"url": b"/a.css?v=1"}, True),
    ("path_end -i .jpg", {"url": b"/IMG.JPG"}, True),
    ("path_sub /adm", {"url": b"/x/admin/y"}, True),
    ("path_sub -i ADM", {"url": b"/x/admin/y"}, True),
    ("path_reg ^/a.*z$", {"url": b"/abcz"}, True),
    ("path_reg ^/a.*z$", {"url": b"/abcz/"}, False),
    ("path_reg -i ^/A", {"url": b"/abc"}, True),
    ("path_len 2", {"url": b"/a?long"}, True),
    ("path_len gt 3", {"url": b"/abcd"}, True),
    ("path_len gt 3", {"url": b"/ab"}, False),
    # dir: slash-delimited parts (HAProxy's manual says "png" does not match: it does)
    ("path_dir png", {"url": PNG}, True),
    ("path_dir 32x32", {"url": PNG}, False),
    ("path_dir /images", {"url": PNG}, True),
    ("path_dir images/png", {"url": PNG}, True),
    ("path_dir 32x32.png", {"url": PNG}, True),
    ("path_dir /png/logo", {"url": PNG}, True),
    ("path_dir images/", {"url": PNG}, True),
    ("path_dir -i PNG", {"url": PNG}, True),
    # dom: delimited by . : / ?
    ("url_dom www1", {"url": URL}, True),
    ("url_dom :www1:", {"url": URL}, True),
    ("url_dom http", {"url": URL}, True),
    ("url_dom 81", {"url": URL}, True),
    ("url_dom blah", {"url": URL}, True),
    ("url_dom example.com:81", {"url": URL}, True),
    ("url_dom eu", {"url": URL}, False),
    ("url_dom dc", {"url": URL}, False),
    ("url_dom x", {"url": b"/x?y"}, True),
    ("path_dom b", {"url": b"/a/b.c?d"}, True),
    ("hdr_dom(host) -i example.com", {"headers": [(b"Host", b"WWW.Example.COM")]}, True),
    # url and friends
    ("url *", {"url": b"*", "method": b"OPTIONS"}, True),
    ("url_beg /", {"url": b"/x"}, True),
    ("url_len 4", {"url": b"/a?b"}, True),
    ("url_sub ?debug", {"url": b"/a?debug=1"}, True),
    ("url_end =1", {"url": b"/a?debug=1"}, True),
    ("url_reg ^[^/:]*://", {"url": b"http://h/"}, True),
    ("base www.example.com/p", {"url": b"/p?q", "headers": [(b"Host", b"www.example.com")]}, True),
    ("base_beg www.", {"url": b"/p", "headers": [(b"Host", b"www.x")]}, True),
    ("base_reg ^h/", {"url": b"/p", "headers": [(b"Host", b"h")]}, True),
    ("urlp(a) 3", {"url": b"/x?a=1&b=2;a=3"}, True),  # every occurrence is tried
    ("urlp_beg(a) 2", {"url": b"/x?a=1&b=2;a=3"}, False),
    ("urlp_reg(b) ^2$", {"url": b"/x?a=1&b=2;a=3"}, True),
    ("url_param(a) -m found", {"url": b"/x?a"}, False),
    ("query -m found", {"url": b"/a"}, False),
    ("query -m found", {"url": b"/a?"}, True),
    ("query -m len 0", {"url": b"/a?"}, True),
    # headers: every value, names in any case
    ("hdr(x) c", {"headers": [(b"X", b"a, b"), (b"x", b"c")]}, True),
    ("hdr(x) a", {"headers": [(b"X", b"a, b"), (b"x", b"c")]}, True),
    ("hdr(x) a,b", {"headers": [(b"X", b"a, b")]}, False),
    ("req.fhdr(x) -m str a, b", {"headers": [(b"X", b"a, b")]}, False),
    ("req.fhdr(x) -m sub a,", {"headers": [(b"X", b"a, b")]}, True),
    ("hdr(x) -m found", {"headers": [(b"X", b"")]}, True),
    ("hdr(x) -m found", {"headers": []}, False),
    ("hdr_len(x) 0", {"headers": [(b"X", b"")]}, True),
    ("hdr_beg(host) -i www.", {"headers": [(b"Host", b"WWW.example.com")]}, True),
    ("hdr_end(host) :8080", {"headers": [(b"Host", b"h:8080")]}, True),
    ("hdr_sub(user-agent) curl", {"headers": [(b"User-Agent", b"curl/8.0")]}, True),
    ("hdr_reg(x) ^a$", {"headers": [(b"X", b"b, a")]}, True),
    ("hdr_dir(x) b", {"headers": [(b"X", b"/a/b/c")]}, True),
    ("hdr_cnt(x) gt 1", {"headers": [(b"X", b"a, b")]}, True),
    ("req.fhdr_cnt(x) gt 1", {"headers": [(b"X", b"a, b")]}, False),
    ("hdr_val(content-length) gt 0", {"headers": [(b"Content-Length", b"12")]}, True),
    (
        "hdr_ip(x-forwarded-for) 10.0.0.0/8",
        {"headers": [(b"X-Forwarded-For", b"1.2.3.4, 10.1.1.1")]},
        True,
    ),
    ("req.hdr(x),lower -m str abc", {"headers": [(b"X", b"ABC")]}, True),
    ("req.hdr(x) -m sub -i B", {"headers": [(b"X", b"ABC")]}, True),
    ("hdr_beg(x),lower abc", {"headers": [(b"X", b"ABCD")]}, False),  # converters drop the "beg"
    ("hdr(x) -m int gt 5", {"headers": [(b"X", b"7x")]}, True),
    ("hdr(x) -m int gt 5", {"headers": [(b"X", b"abc")]}, False),
    ("hdr(x) -m bin 414243", {"headers": [(b"X", b"ABC")]}, True),
    ("hdr(x) -m bool", {"headers": [(b"X", b"2")]}, True),
    ("hdr(x) -m bool", {"headers": [(b"X", b"0")]}, False),
    # -m on a derivative applies to its fetch
    ("path_beg -m str /a", {"url": b"/ab"}, False),
    ("path_beg -m str /a", {"url": b"/a"}, True),
    ("path_len -m beg 1", {"url": b"/1"}, False),
    ("path_len -m beg /1", {"url": b"/1"}, True),
    ("path -m reg ^/a", {"url": b"/ab"}, True),
    ("path -m found", {"url": b"/"}, True),
    ("path -m found", {"url": b"*"}, False),
    # integers: operators apply to the one value after them; ranges
    ("path_len lt 3 4", {"url": b"/ab"}, False),
    ("path_len lt 3 4", {"url": b"/abc"}, True),
    ("path_len ge 3 le 1", {"url": b"/"}, True),
    ("path_len eq 2 lt 1", {"url": b"/a"}, True),
    ("src_port 1024:", {}, True),
    ("src_port :1023", {}, False),
    ("src_port 39999:40001", {}, True),
    ("dst_port 80 443", {}, True),
    ("dst_port -m int 81", {}, False),
    ("hdr_val(n) lt 0", {"headers": [(b"N", b"-1")]}, True),
    # addresses
    ("src 192.0.2.7", {}, True),
    ("src 192.0.2.0/24", {}, True),
    ("src 192.0.2.0/255.255.255.0", {}, True),
    ("src 192.0.2.0/255.0.255.0", {"src": "192.55.2.9"}, True),  # a non-contiguous mask
    ("src 10.0.0.0/8 192.0.2.7", {}, True),
    ("src 127.1", {"src": "127.0.0.1"}, True),  # abbreviated: 127.0.0.1
    ("src 127/8", {"src": "127.0.0.1"}, False),  # 127 is 0.0.0.127
    ("src 10.12", {"src": "10.0.0.12"}, True),
    ("src ::1", {"src": "127.0.0.1"}, False),
    ("src ::ffff:127.0.0.1", {"src": "127.0.0.1"}, True),
    ("src ::ffff:127.0.0.0/104", {"src": "127.0.0.1"}, True),
    ("src 127.0.0.0/8", {"src": "::ffff:127.0.0.5"}, True),
    ("src 127.0.0.0/8", {"src": "::127.0.0.5"}, True),
    ("src 192.0.2.0/24", {"src": "2002:c000:0207::1"}, True),  # 6to4 of 192.0.2.7
    ("src 2001:db8::/32", {"src": "2001:db8:1::5"}, True),
    ("src 2001:db8::/32", {"src": "2001:db9::5"}, False),
    ("src 10.0.0.0/8", {"src": ""}, False),
    ("src -m beg 192.", {}, True),
    ("dst 127.0.0.1", {}, True),
    ("req.hdr(x) -m ip 10.0.0.0/8", {"headers": [(b"X", b"10.2.3.4")]}, True),
    # methods: known ones by identity (so "get" is not GET, even with -i), others as strings
    ("method GET HEAD", {"method": b"HEAD"}, True),
    ("method GET", {"method": b"get"}, False),
    ("method get", {"method": b"get"}, True),
    ("method -i get", {"method": b"GET"}, False),
    ("method -i get", {"method": b"get"}, True),
    ("method FOO", {"method": b"FOO"}, True),
    ("method foo", {"method": b"FOO"}, False),
    ("method -i foo", {"method": b"FOO"}, True),
    ("method -m beg G", {"method": b"GET"}, True),
    ("method,lower get", {"method": b"GET"}, True),
    # no pattern: never matches (HAProxy warns)
    ("path", {"url": b"/"}, False),
    # booleans
    ("always_true", {}, True),
    ("always_false", {}, False),
    ("nbsrv(be1) ge 1", {}, True),
    ("nbsrv(be1) -m bool", {}, True),
    ("srv_is_up(be1/s2)", {}, False),
    ("src_port -m found", {}, True),
    ("req.ver 1.0", {"version": "1.0"}, True),
    ("req_ver 1.1", {"version": "1.0"}, False),
    ("fe_name fe", {}, True),
    ("var(txn.a) -m found", {}, False),
]


@pytest.mark.parametrize(("words", "fields", "holds"), CASES)
def test_acl(words: str, fields: dict[str, Any], holds: bool) -> None:
    term = compile_acl_words(words.split(" "), bare_ctx())
    rt = StaticRuntime({"be1": ["s1", "s2"]}, down={("be1", "s2")})
    assert term.test(txn(**fields), rt) is holds


def test_pattern_file(tmp_path: Path) -> None:
    """Lines starting with '#' are comments (so " #x" is a pattern), leading blanks go,
    empty lines are skipped; -i before -f applies to the file, not to earlier files."""
    exact = tmp_path / "exact.lst"
    exact.write_text("# comment\n\n  /Exact\n #hash\n/tab\t\r\n")
    loose = tmp_path / "loose.lst"
    loose.write_text("/Loose\n")
    words = ["path", "-f", str(exact), "-i", "-f", str(loose), "/last"]
    test = compile_acl_words(words, bare_ctx()).test
    rt = StaticRuntime()
    results = {
        url: test(txn(url), rt)
        for url in (b"/Exact", b"/exact", b"/loose", b"/LOOSE", b"/LAST", b"/tab\t", b"/tab")
    }
    assert results == {
        b"/Exact": True,
        b"/exact": False,
        b"/loose": True,
        b"/LOOSE": True,
        b"/LAST": True,
        b"/tab\t": True,  # trailing blanks are part of the pattern
        b"/tab": False,
    }
    hashed = compile_acl_words(["hdr(x)", "-f", str(exact)], bare_ctx()).test
    assert hashed(txn(headers=[(b"X", b"#hash")]), rt) is True  # " #hash": not a comment


def test_ip_pattern_file(tmp_path: Path) -> None:
    ips = tmp_path / "ips.lst"
    ips.write_text("# c\n10.1.2.3\n  2001:db8::/32\n")
    test = compile_acl_words(["src", "-f", str(ips)], bare_ctx()).test
    rt = StaticRuntime()
    assert [test(txn(src=s), rt) for s in ("10.1.2.3", "2001:db8::9", "10.1.2.4")] == [
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("words", "error", "message"),
    [
        ("path -x /a", RuleError, "'-x' is not an ACL flag"),
        ("path -f", RuleError, "'-f' expects an argument"),
        ("path -f /nonexistent/x.lst", RuleError, "cannot read '/nonexistent/x.lst'"),
        ("path -m nosuch /a", RuleError, "unknown matching method 'nosuch'"),
        ("path_reg ^(a", RuleError, "regex '^(a' is invalid"),
        ("path_len foo", RuleError, "'foo' is not a number"),
        ("src_port 1:2:3", RuleError, "'1:2:3' is not a valid number range"),
        ("src 300.1.2.3", RuleError, "'300.1.2.3' is not a valid IPv4 or IPv6 address"),
        ("src 1.2.3.4/33", RuleError, "is not a valid IPv4 or IPv6 address"),
        ("src ::1/129", RuleError, "is not a valid IPv4 or IPv6 address"),
        ("src -n localhost", RuleError, "'localhost' is not a valid IPv4 or IPv6 address"),
        ("src localhost", NotYet, "host names in address patterns"),
        ("path -m bin 2", RuleError, "an even number of hex digits"),
        ("var(txn.a) x", RuleError, "give a matching method with '-m'"),
        ("path -M -f x.map", NotYet, "'-M' is not supported yet"),
        ("cook(a) x", NotYet, "'cook' is not supported yet"),
        ("req_rdp_cookie x", NotYet, "'req_rdp_cookie' is not supported yet"),
        ("nosuch x", RuleError, "unknown fetch method 'nosuch'"),
    ],
)
def test_acl_errors(words: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        compile_acl_words(words.split(" "), bare_ctx())
    assert message in str(caught.value)


def test_m_after_f_is_an_error(tmp_path: Path) -> None:
    lst = tmp_path / "p.lst"
    lst.write_text("/a\n")
    with pytest.raises(RuleError, match="'-m' must come before"):
        compile_acl_words(["path", "-f", str(lst), "-m", "beg"], bare_ctx())


PREDEFINED: list[tuple[str, dict[str, Any], bool]] = [
    ("TRUE", {}, True),
    ("FALSE", {}, False),
    ("HTTP", {}, True),
    ("HTTP_1.0", {"version": "1.0"}, True),
    ("HTTP_1.1", {"version": "1.0"}, False),
    ("HTTP_2.0", {}, False),
    ("HTTP_CONTENT", {"headers": [(b"Content-Length", b"3")]}, True),
    ("HTTP_CONTENT", {"headers": [(b"Content-Length", b"0")]}, False),
    ("HTTP_URL_ABS", {"url": b"http://h/"}, True),
    ("HTTP_URL_ABS", {"url": b"/h"}, False),
    ("HTTP_URL_SLASH", {"url": b"/h"}, True),
    ("HTTP_URL_STAR", {"url": b"*"}, True),
    ("LOCALHOST", {"src": "127.0.0.2"}, True),
    ("LOCALHOST", {"src": "::1"}, True),
    ("LOCALHOST", {}, False),
    ("METH_CONNECT", {"method": b"CONNECT"}, True),
    ("METH_DELETE", {"method": b"DELETE"}, True),
    ("METH_GET", {"method": b"HEAD"}, True),
    ("METH_GET", {"method": b"POST"}, False),
    ("METH_HEAD", {"method": b"GET"}, False),
    ("METH_OPTIONS", {"method": b"OPTIONS"}, True),
    ("METH_POST", {"method": b"POST"}, True),
    ("METH_PUT", {"method": b"PUT"}, True),
    ("METH_TRACE", {"method": b"TRACE"}, True),
    ("WAIT_END", {}, True),
]


@pytest.mark.parametrize(("name", "fields", "holds"), PREDEFINED)
def test_predefined(name: str, fields: dict[str, Any], holds: bool) -> None:
    test = AclTable().lookup(name, bare_ctx())
    assert test(txn(**fields), StaticRuntime()) is holds


@pytest.mark.parametrize("name", ["REQ_CONTENT", "RDP_COOKIE"])
def test_predefined_not_yet(name: str) -> None:
    with pytest.raises(NotYet):
        AclTable().lookup(name, bare_ctx())


def test_named_acl_ors_its_lines_and_user_names_win() -> None:
    table = AclTable()
    ctx = bare_ctx()
    table.add("static", ["path_beg", "/static"], ctx)
    table.add("static", ["path_end", ".css"], ctx)
    table.add("TRUE", ["path", "/only"], ctx)  # a user ACL hides a predefined one
    rt = StaticRuntime()
    static = table.lookup("static", ctx)
    assert [static(txn(u), rt) for u in (b"/static/a", b"/a.css", b"/a.js")] == [
        True,
        True,
        False,
    ]
    assert table.lookup("TRUE", ctx)(txn(b"/x"), rt) is False
    with pytest.raises(RuleError, match="no ACL named 'nope'"):
        table.lookup("nope", ctx)
