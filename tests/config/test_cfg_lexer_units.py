"""The HAProxy line lexer, the keepalived tokenizer and the unit parsers, table by table."""

from __future__ import annotations

import re

import pytest

from lb.config.addresses import Address, AddressError, AddressNotYet, parse_address
from lb.config.haproxy_lexer import lex_line
from lb.config.keepalived_lexer import split_line
from lb.config.model import Source
from lb.config.units import parse_int, parse_seconds, parse_size, parse_time

ENV = {"HOST": "10.0.0.1", "PORT": "8080", "EMPTY": "", "LIST": "a b  c", "SP": "x y"}

LEXER_CASES: list[tuple[str, list[str]]] = [
    ("", []),
    ("   \t  ", []),
    ("# only a comment", []),
    ("bind :80", ["bind", ":80"]),
    ("  bind\t:80   # trailing comment", ["bind", ":80"]),
    ("stats realm no\\ entrance", ["stats", "realm", "no entrance"]),
    ("acl a path_beg \\#x", ["acl", "a", "path_beg", "#x"]),
    ("word#comment", ["word"]),  # outside quotes, '#' ends the line even inside a word
    ('log-format "%t %s"', ["log-format", "%t %s"]),
    ("log-format '%t %s'", ["log-format", "%t %s"]),
    ('a"b c"d', ["ab cd"]),
    ("a'b c'd", ["ab cd"]),
    ('""', [""]),
    ("''", [""]),
    ('x "" y', ["x", "", "y"]),
    ('"# not a comment"', ["# not a comment"]),
    ("'# not a comment'", ["# not a comment"]),
    ('"a\\"b"', ['a"b']),
    ("'a\\b'", ["a\\b"]),
    ("\\\\", ["\\"]),
    ("\\'x\\'", ["'x'"]),
    ("a\\tb", ["a\tb"]),
    ("\\x41\\x42", ["AB"]),
    ("\\d+", ["\\d+"]),  # unknown escapes are kept (regexes)
    ("server s $HOST:$PORT", ["server", "s", "10.0.0.1:8080"]),
    ("server s ${HOST}:${PORT}", ["server", "s", "10.0.0.1:8080"]),
    ('x "$HOST"', ["x", "10.0.0.1"]),
    ("x '$HOST'", ["x", "$HOST"]),
    ('x "\\$HOST"', ["x", "$HOST"]),
    ("x \\$HOST", ["x", "$HOST"]),
    ("x ${NOPE-fallback}", ["x", "fallback"]),
    ("x ${EMPTY-fallback}", ["x"]),  # the default replaces unset variables only
    ('x "${EMPTY-fallback}"', ["x", ""]),
    ("x ${LIST[*]} y", ["x", "a", "b", "c", "y"]),
    ('x "$SP"', ["x", "x y"]),
    ("x $SP", ["x", "x y"]),  # no word splitting without [*]
    ("x $EMPTY y", ["x", "y"]),  # an unquoted empty expansion disappears
    ('x "$EMPTY" y', ["x", "", "y"]),
    ("price 5$", ["price", "5$"]),
    ("a $1", ["a", "$1"]),
]


@pytest.mark.parametrize(("line", "words"), LEXER_CASES)
def test_lex_line(line: str, words: list[str]) -> None:
    out = lex_line(line, ENV)
    assert out.error is None
    assert out.words == words


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('bind "unclosed', "unmatched quote"),
        ("bind 'unclosed", "unmatched quote"),
        ("x ${HOST", "unterminated"),
        ("x ${1BAD}", "invalid variable name"),
    ],
)
def test_lex_line_errors(line: str, fragment: str) -> None:
    out = lex_line(line, ENV)
    assert out.error is not None and fragment in out.error


def test_unset_variable_warns() -> None:
    out = lex_line("x ${NOPE}y", ENV)
    assert out.words == ["x", "y"]
    assert out.warnings and "NOPE" in out.warnings[0]
    assert lex_line("x ${NOPE-d}", ENV).warnings == []


SRC = Source("k.conf", 1)


@pytest.mark.parametrize(
    ("line", "tokens"),
    [
        ("vrrp_instance VI_1 {", ["vrrp_instance", "VI_1", "{"]),
        ("track_script {chk}", ["track_script", "{", "chk", "}"]),
        ('script "killall -0 haproxy"  # why', ["script", "killall -0 haproxy"]),
        ("! a comment", []),
        ("priority 100 !comment", ["priority", "100"]),
        ("auth_pass ab#1", ["auth_pass", "ab#1"]),
        ("}", ["}"]),
    ],
)
def test_keepalived_split_line(line: str, tokens: list[str]) -> None:
    out, error = split_line(line, SRC)
    assert error is None
    assert [t.text for t in out] == tokens


def test_keepalived_quoted_brace_is_a_word() -> None:
    out, _ = split_line('x "{"', SRC)
    assert out[1].text == "{" and out[1].quoted and not out[1].is_open


TIMES = [
    ("0", 0),
    ("100", 100),
    ("100ms", 100),
    ("10s", 10_000),
    ("1m", 60_000),
    ("2h", 7_200_000),
    ("1d", 86_400_000),
    ("1us", 1),
    ("1500us", 2),
    ("0us", 0),
    ("2147483647", 2147483647),
]


@pytest.mark.parametrize(("word", "ms"), TIMES)
def test_parse_time(word: str, ms: int) -> None:
    assert parse_time(word) == ms


@pytest.mark.parametrize("word", ["", "s", "10zz", "1.5s", "-1", "10 s", "10S", "25d", "1e3"])
def test_parse_time_invalid(word: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"'{word}'")):
        parse_time(word)


@pytest.mark.parametrize(
    ("word", "size"),
    [("0", 0), ("512", 512), ("16k", 16384), ("16K", 16384), ("1m", 1 << 20), ("2G", 2 << 30)],
)
def test_parse_size(word: str, size: int) -> None:
    assert parse_size(word) == size


@pytest.mark.parametrize("word", ["", "k", "1kb", "1.5k", "-1", "1t"])
def test_parse_size_invalid(word: str) -> None:
    with pytest.raises(ValueError):
        parse_size(word)


@pytest.mark.parametrize(
    ("word", "ok"), [("0", True), ("256", True), ("257", False), ("x", False), ("1x", False)]
)
def test_parse_int(word: str, ok: bool) -> None:
    if ok:
        assert parse_int(word, 0, 256) == int(word)
    else:
        with pytest.raises(ValueError, match=word):
            parse_int(word, 0, 256)


@pytest.mark.parametrize(
    ("word", "ms"), [("1", 1000), ("0.5", 500), ("2.25", 2250), ("0.0001", 1), ("0", 0)]
)
def test_parse_seconds(word: str, ms: int) -> None:
    assert parse_seconds(word) == ms


@pytest.mark.parametrize("word", ["", "1s", "-1", ".5", "1.", "x"])
def test_parse_seconds_invalid(word: str) -> None:
    with pytest.raises(ValueError):
        parse_seconds(word)


ADDRESSES = [
    (":8080", Address("", 8080)),
    ("*:80", Address("", 80)),
    ("0.0.0.0:80", Address("0.0.0.0", 80)),
    ("127.0.0.1:80", Address("127.0.0.1", 80)),
    ("[::1]:81", Address("::1", 81)),
    ("::1:81", Address("::1", 81)),
    (":::80", Address("::", 80)),
    ("ipv4@10.1.2.3:443", Address("10.1.2.3", 443)),
    ("ipv6@[::]:443", Address("::", 443)),
    ("backend.example.com:80", Address("backend.example.com", 80)),
    ("192.168.10.3", Address("192.168.10.3", None)),
]


@pytest.mark.parametrize(("text", "addr"), ADDRESSES)
def test_parse_address(text: str, addr: Address) -> None:
    assert parse_address(text) == addr


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1.2.3.4:70000", AddressError),
        ("1.2.3.4:0", AddressError),
        ("1.2.3.4:", AddressError),
        ("1.2.3.4:http", AddressError),
        ("[::1:80", AddressError),
        ("ipv4@[::1]:80", AddressError),
        ("bad host!:80", AddressError),
        ("1.2.3.4:80-90", AddressNotYet),
        ("1.2.3.4:+1", AddressNotYet),
        ("unix@/run/x.sock", AddressNotYet),
        ("/run/x.sock", AddressNotYet),
        ("fd@3", AddressNotYet),
    ],
)
def test_parse_address_invalid(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_address(text)
