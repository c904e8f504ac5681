"""Converters, sample-expression arguments, and log-format strings in rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lb.acl import StaticRuntime
from lb.acl.context import Ctx
from lb.acl.errors import NotYet, RuleError
from lb.acl.logformat import compile_format
from lb.acl.sample import compile_text
from lb.acl.syntax import Call, parse_whole
from tests.acl.conftest import bare_ctx, txn

X = b"/aB//c/d"

# (converters after req.hdr(x), header value, result); outputs checked against HAProxy 2.6
CASES: list[tuple[str, bytes, object]] = [
    ("lower", X, b"/ab//c/d"),
    ("upper", X, b"/AB//C/D"),
    ("base64", X, b"L2FCLy9jL2Q="),
    ("hex", X, b"2F61422F2F632F64"),
    ("length", X, 8),
    ("url_dec", b"a%20b+c", b"a b+c"),
    ("url_dec(1)", b"a%20b+c", b"a b c"),
    ("field(2,/)", X, b"aB"),
    ("field(2,/,2)", X, b"aB/"),
    ("field(-1,/)", X, b"d"),
    ("field(-2,/,2)", X, b"/c"),  # backwards from the index
    ("field(5,_)", b"f1_f2_f3__f5", b"f5"),
    ("field(2,_,0)", b"f1_f2_f3__f5", b"f2_f3__f5"),
    ("field(2,_,2)", b"f1_f2_f3__f5", b"f2_f3"),
    ("field(-2,_,3)", b"f1_f2_f3__f5", b"f2_f3_"),
    ("field(-3,_,0)", b"f1_f2_f3__f5", b"f1_f2_f3"),
    ("field(2,/,0)", X, b"aB//c/d"),
    ("field(9,/)", X, b""),
    ("field(2,/.)", b"a.b/c", b"b"),
    ("word(2,/)", X, b"c"),
    ("word(-1,/)", X, b"d"),
    ("word(1,/,0)", X, b"aB//c/d"),
    ("word(1,/,2)", X, b"aB//c"),
    ("regsub(/+,_,g)", X, b"_aB_c_d"),
    ("regsub(/+,_)", X, b"_aB//c/d"),
    ("regsub('^/(a)',<\\1>)", X, b"<a>B//c/d"),
    ("regsub(b,X,ig)", X, b"/aX//c/d"),
    ("regsub(\\.,_,g)", b"a.b", b"a_b"),  # backslash kept for the regex
    ("regsub(\\d,_,g)", b"a1b2", b"a_b_"),
    ('regsub(",",_,g)', b"a,b", b"a_b"),  # quotes protect a comma
    ("regsub('[,(]',_,g)", b"a,b(c", b"a_b_c"),
    ("lower,upper", b"aB", b"AB"),
]


@pytest.mark.parametrize(("convs", "value", "result"), CASES)
def test_converter(convs: str, value: bytes, result: object) -> None:
    sample = compile_text(f"req.fhdr(x),{convs}", bare_ctx())
    assert sample.one(txn(headers=[(b"X", value)]), StaticRuntime()) == result


def test_converter_on_missing_sample_gives_nothing() -> None:
    sample = compile_text("req.hdr(x),lower", bare_ctx())
    assert sample.one(txn(), StaticRuntime()) is None


def test_int_input_is_cast_to_string() -> None:
    sample = compile_text("src_port,field(1,0)", bare_ctx())
    assert sample.one(txn(src_port=40104), StaticRuntime()) == b"4"


MAP = """\
# comment
foo.example  be_foo
  bar.example be_bar extra words

empty
/static st
"""
IP_MAP = "10.0.0.0/8 ten\n10.1.0.0/16 ten-one\n2001:db8::/32 doc\n"


@pytest.fixture
def map_ctx(tmp_path: Path) -> tuple[Ctx, Path]:
    path = tmp_path / "m.map"
    path.write_text(MAP)
    (tmp_path / "ip.map").write_text(IP_MAP)
    return bare_ctx(), path


@pytest.mark.parametrize(
    ("conv", "value", "result"),
    [
        ("map({m})", b"foo.example", b"be_foo"),
        ("map({m})", b"FOO.example", None),  # maps are case-sensitive
        ("lower,map({m})", b"FOO.example", b"be_foo"),
        ("map({m})", b"bar.example", b"be_bar extra words"),
        ("map({m})", b"empty", b""),
        ("map({m},dflt)", b"nope", b"dflt"),
        ("map_str({m})", b"foo.example", b"be_foo"),
        ("map_beg({m})", b"/static/x", b"st"),
        ("map_sub({m})", b"x.bar.example.y", b"be_bar extra words"),
        ("map_end({m})", b"www.foo.example", b"be_foo"),
        ("map_dom({m})", b"www.foo.example", b"be_foo"),
        ("map_reg({m})", b"xbarXexample", b"be_bar extra words"),  # keys are regexes
        ("map_reg({m})", b"nope", None),
        ("map_ip({i})", b"10.1.2.3", b"ten-one"),  # the longest prefix wins
        ("map_ip({i})", b"10.2.0.1", b"ten"),
        ("map_ip({i})", b"2001:db8::5", b"doc"),
        ("map_ip({i},none)", b"11.0.0.1", b"none"),
    ],
)
def test_map(map_ctx: tuple[Ctx, Path], conv: str, value: bytes, result: object) -> None:
    ctx, path = map_ctx
    sample = compile_text("req.fhdr(x)," + conv.format(m=path, i=path.parent / "ip.map"), ctx)
    assert sample.one(txn(headers=[(b"X", value)]), StaticRuntime()) == result


def test_map_int_output(tmp_path: Path) -> None:
    path = tmp_path / "n.map"
    path.write_text("a 1\nb 22\n")
    sample = compile_text(f"req.fhdr(x),map_str_int({path},7)", bare_ctx())
    rt = StaticRuntime()
    assert [sample.one(txn(headers=[(b"X", v)]), rt) for v in (b"b", b"z")] == [22, 7]
    bad = tmp_path / "bad.map"
    bad.write_text("a one\n")
    with pytest.raises(RuleError, match="'one' is not an integer"):
        compile_text(f"req.fhdr(x),map_str_int({bad})", bare_ctx())


@pytest.mark.parametrize(
    ("expr", "error", "message"),
    [
        ("path,map(/nonexistent/m.map)", RuleError, "cannot read '/nonexistent/m.map'"),
        ("path,map", RuleError, "expects at least 1 argument"),
        ("path,regsub(^(a,b)", RuleError, "regex '^(a' is invalid"),
        ("path,regsub(a,b,Z)", RuleError, "invalid regex flag 'Z'"),
        ("path,field(0,/)", RuleError, "index must not be 0"),
        ("path,field(1,)", RuleError, "empty delimiter list"),
        ("path,map_regm(x)", NotYet, "'map_regm' is not supported yet"),
        ("path,json", NotYet, "'json' is not supported yet"),
        ("path,lower(1)", RuleError, "unexpected argument '1'"),
    ],
)
def test_converter_errors(expr: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        compile_text(expr, bare_ctx())


@pytest.mark.parametrize(
    ("text", "fetch", "args", "converters"),
    [
        ("path", "path", None, []),
        ("path()", "path", [], []),
        ("hdr(host,1)", "hdr", ["host", "1"], []),
        ("hdr(host),lower,map(/m,d)", "hdr", ["host"], [Call("lower"), Call("map", ["/m", "d"])]),
        ("urlp(a,;)", "urlp", ["a", ";"], []),
        ("str('a b'),upper", "str", ["a b"], [Call("upper")]),
        ('str("x\\"y")', "str", ['x"y'], []),
        ("str(a\\ b)", "str", ["a b"], []),
        ("str(a\\)", "str", ["a\\"], []),
    ],
)
def test_expression_syntax(
    text: str, fetch: str, args: list[str] | None, converters: list[Call]
) -> None:
    expr = parse_whole(text)
    assert (expr.fetch.name, expr.fetch.args, expr.converters) == (fetch, args, converters)


# --------------------------------------------------------------------------- log-format


@pytest.mark.parametrize(
    ("fmt", "result"),
    [
        ("plain", b"plain"),
        ("", b""),
        ("%[path]", b"/p/q"),
        ("/pre%[path]", b"/pre/p/q"),
        ("%[path]%%ok", b"/p/q%ok"),
        ("[%[query]]", b"[]"),  # a missing sample renders as nothing
        ("%[req.hdr(host),lower]", b"h.example"),
        ("%[src]:%[src_port]", b"192.0.2.7:40000"),
        ("%ci:%cp/%fi:%fp/%f/%b", b"192.0.2.7:40000/127.0.0.1:80/fe/fe"),
        ("%HM %HU %HP %HQ %HV", b"GET /p/q /p/q  HTTP/1.1"),
        ("%{+Q}[path]", b'"/p/q"'),
        ("%[str(a]b)]", b"a]b"),
        ("x%[var(txn.v)]y", b"xy"),
    ],
)
def test_log_format(fmt: str, result: bytes) -> None:
    render = compile_format(fmt, bare_ctx())
    t = txn(b"/p/q", [(b"Host", b"H.Example")])
    assert render(t, StaticRuntime()) == result


@pytest.mark.parametrize(
    ("fmt", "error", "message"),
    [
        ("50%", RuleError, "truncated format after '%'"),
        ("%x", RuleError, "no format variable '%x'"),
        ("%[path", RuleError, "missing ']'"),
        ("%[nosuch]", RuleError, "unknown fetch method 'nosuch'"),
        ("%Tr", NotYet, "'%Tr' is not supported yet"),
        ("%{+X}[path]", NotYet, "'%{+X}' is not supported yet"),
    ],
)
def test_log_format_errors(fmt: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        compile_format(fmt, bare_ctx())
