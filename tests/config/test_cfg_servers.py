"""Server lines and what decides where traffic goes: server options, default-server,
balance, hash-type, health checks (option httpchk, http-check, timeout check), cookie.

Messages and defaults side by side with what HAProxy 2.6 says for the same lines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lb.config import LoadResult, load_files
from lb.config.model import CookiePersistence, HttpCheck, HttpCheckExpect, Proxy, Server

HEAD = """\
defaults
    mode {mode}
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind :80
    default_backend be
"""


def load(tmp_path: Path, body: str, mode: str = "http") -> LoadResult:
    path = tmp_path / "lb.cfg"
    path.write_text(HEAD.format(mode=mode) + body)
    return load_files([str(path)], environ={})


def backend(tmp_path: Path, *lines: str, mode: str = "http") -> tuple[Proxy, list[str]]:
    result = load(tmp_path, "backend be\n" + "".join(f"    {ln}\n" for ln in lines), mode)
    messages = [f"{d.level} {d.message}" for d in result.diagnostics]
    assert result.config is not None, messages
    return result.config.backend("be"), messages  # type: ignore[return-value]


def test_server_options(tmp_path: Path) -> None:
    be, messages = backend(
        tmp_path,
        "server s1 10.0.0.1:80 check inter 3s fastinter 500 downinter 1m rise 4 fall 5 "
        "slowstart 30s weight 50 maxconn 10 id 7 port 8080 addr 10.0.0.9 cookie S1 backup",
        "server s2 10.0.0.2:80",
    )
    assert messages == []
    s1, s2 = be.servers
    assert (s1.check, s1.inter, s1.fastinter, s1.downinter) == (True, 3000, 500, 60_000)
    assert (s1.rise, s1.fall, s1.slowstart, s1.weight, s1.maxconn) == (4, 5, 30_000, 50, 10)
    assert (s1.id, s1.check_port, s1.check_addr, s1.cookie, s1.backup) == (
        7, 8080, "10.0.0.9", "S1", True,
    )  # fmt: skip
    # HAProxy's defaults, and the first free id
    assert (s2.check, s2.inter, s2.rise, s2.fall, s2.id, s2.backup) == (False, 2000, 2, 3, 1, False)


def test_default_server_applies_to_the_servers_after_it(tmp_path: Path) -> None:
    path = tmp_path / "lb.cfg"
    path.write_text(
        HEAD.format(mode="tcp")
        + "    default-server inter 5s\n"  # in the frontend: not allowed
        + "defaults\n    mode tcp\n    timeout connect 1s\n    timeout server 1s\n"
        + "    default-server check rise 5 weight 20\n"
        + "backend be\n"
        + "    server s1 127.0.0.1:1\n"
        + "    default-server fall 7 no-check\n"
        + "    server s2 127.0.0.1:2\n"
        + "    server s3 127.0.0.1:3 check weight 3\n"
    )
    result = load_files([str(path)], environ={})
    assert [d.message for d in result.alerts()] == [
        "'default-server' is not allowed in a 'frontend' section"
    ]
    path.write_text(path.read_text().replace("    default-server inter 5s\n", "", 1))
    result = load_files([str(path)], environ={})
    assert result.ok, [str(d) for d in result.diagnostics]
    s1, s2, s3 = result.config.backend("be").servers  # type: ignore[union-attr]
    assert (s1.check, s1.rise, s1.fall, s1.weight) == (True, 5, 3, 20)
    assert (s2.check, s2.rise, s2.fall, s2.weight) == (False, 5, 7, 20)
    assert (s3.check, s3.rise, s3.fall, s3.weight) == (True, 5, 7, 3)


# (server options, a fragment of the ALERT)
BAD_OPTIONS = [
    ("rise 0", "server rise '0' is out of range 1.."),
    ("fall 0", "server fall '0' is out of range 1.."),
    ("inter 0", "must be > 0"),
    ("inter 2x", "invalid time value '2x'"),
    ("weight 257", "server weight '257' is out of range 0..256"),
    ("port 0", "out of range 1..65535"),
    ("addr db.example", "expects an IP address"),
    ("id 0", "server id '0' is out of range"),
    ("check inter", "expects an argument"),
    ("frobnicate", "unknown server option 'frobnicate'"),
]


@pytest.mark.parametrize(("options", "fragment"), BAD_OPTIONS)
def test_bad_server_options(tmp_path: Path, options: str, fragment: str) -> None:
    result = load(tmp_path, f"backend be\n    server s1 127.0.0.1:80 {options}\n")
    assert not result.ok
    assert any(fragment in d.message for d in result.alerts()), [str(d) for d in result.diagnostics]


def test_duplicate_ids_as_haproxy_says(tmp_path: Path) -> None:
    result = load(
        tmp_path, "backend be\n    server s1 127.0.0.1:80 id 3\n    server s2 127.0.0.1:80 id 3\n"
    )
    assert [d.message for d in result.alerts()] == [
        f"'server be/s2' : 'id' : custom id 3 already used at {tmp_path / 'lb.cfg'}:10 "
        "('server s1')"
    ]


def test_id_is_not_for_default_server(tmp_path: Path) -> None:
    result = load(tmp_path, "backend be\n    default-server id 4\n    server s1 127.0.0.1:80\n")
    assert [d.message for d in result.alerts()] == [
        "'id' is not allowed on a 'default-server' line"
    ]


@pytest.mark.parametrize(
    ("line", "balance", "args"),
    [
        ("balance static-rr", "static-rr", []),
        ("balance leastconn", "leastconn", []),
        ("balance first", "first", []),
        ("balance source", "source", []),
        ("balance uri len 20 depth 2 whole", "uri", ["len", "20", "depth", "2", "whole"]),
        ("balance uri path-only", "uri", ["path-only"]),
        ("balance url_param sid", "url_param", ["sid"]),
        ("balance hdr(Host) use_domain_only", "hdr(Host)", ["use_domain_only"]),
        ("balance random(3)", "random(3)", []),
        ("balance random", "random", []),
    ],
)  # fmt: skip
def test_balance_algorithms(tmp_path: Path, line: str, balance: str, args: list[str]) -> None:
    be, messages = backend(tmp_path, line, "server s1 127.0.0.1:80")
    assert messages == []
    assert (be.balance, be.balance_args) == (balance, args)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("balance leastconn now", "'balance leastconn' takes no argument, got 'now'"),
        ("balance uri len x", "needs a positive integer"),
        ("balance url_param", "needs a parameter name"),
        ("balance hdr", "needs a header name"),
        ("balance random(0)", "needs a positive integer"),
        ("hash-type rainbow", "unknown method 'rainbow'"),
        ("hash-type consistent md5", "unknown or unsupported function 'md5'"),
    ],
)
def test_bad_balance_lines(tmp_path: Path, line: str, fragment: str) -> None:
    result = load(tmp_path, f"backend be\n    {line}\n    server s1 127.0.0.1:80\n")
    assert any(fragment in d.message for d in result.alerts()), [str(d) for d in result.diagnostics]


def test_url_param_check_post_is_not_yet(tmp_path: Path) -> None:
    result = load(tmp_path, "backend be\n    balance url_param sid check_post\n")
    assert any(d.message.startswith("'balance url_param sid check_post' is not supported yet")
               for d in result.alerts())  # fmt: skip


def test_hash_type_and_allbackups_are_inherited(tmp_path: Path) -> None:
    path = tmp_path / "lb.cfg"
    path.write_text(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout server 1s\n"
        "    hash-type consistent crc32\n    option allbackups\n    balance source\n"
        "backend a\n    server s 127.0.0.1:1\n"
        "backend b\n    no option allbackups\n    hash-type map-based\n    server s 127.0.0.1:1\n"
    )
    result = load_files([str(path)], environ={})
    assert result.ok
    a, b = result.config.backend("a"), result.config.backend("b")  # type: ignore[union-attr]
    assert (a.hash_type, a.allbackups, a.balance) == (["consistent", "crc32"], True, "source")  # type: ignore[union-attr]
    assert (b.hash_type, b.allbackups) == (["map-based"], False)  # type: ignore[union-attr]


# --------------------------------------------------------------------------- HTTP checks

CHECKS = [
    (["option httpchk"], HttpCheck(enabled=True)),
    (["option httpchk /health"], HttpCheck(enabled=True, uri="/health")),
    (["option httpchk HEAD /health"], HttpCheck(enabled=True, method="HEAD", uri="/health")),
    (
        ["option httpchk GET /h HTTP/1.1 app.example"],
        HttpCheck(enabled=True, method="GET", uri="/h", version="HTTP/1.1",
                  headers=[("Host", "app.example")]),
    ),
    (
        [r"option httpchk HEAD / HTTP/1.1\r\nHost:\ www"],  # the old way to add headers
        HttpCheck(enabled=True, method="HEAD", version="HTTP/1.1", headers=[("Host", "www")]),
    ),
    (
        ["option httpchk", "http-check send meth GET uri /ping ver HTTP/1.1 hdr Host a hdr X-B c "
         "body hi"],
        HttpCheck(enabled=True, method="GET", uri="/ping", version="HTTP/1.1",
                  headers=[("Host", "a"), ("X-B", "c")], body="hi"),
    ),
    (
        ["option httpchk", "http-check expect status 200,300-310",
         "http-check expect ! string SQL\\ Error", "http-check expect !rstatus ^5",
         "http-check expect comment x rstring <tag>"],
        HttpCheck(enabled=True, expects=[
            HttpCheckExpect(match="status", pattern="200,300-310"),
            HttpCheckExpect(match="string", pattern="SQL Error", negate=True),
            HttpCheckExpect(match="rstatus", pattern="^5", negate=True),
            HttpCheckExpect(match="rstring", pattern="<tag>"),
        ]),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("lines", "expected"), CHECKS)
def test_http_checks(tmp_path: Path, lines: list[str], expected: HttpCheck) -> None:
    be, messages = backend(tmp_path, *lines, "server s1 127.0.0.1:80 check")
    assert messages == []
    assert be.http_check == expected


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("option httpchk GET / HTTP", "invalid HTTP version"),
        ("option httpchk a b c d e", "at most 4 arguments"),
        ("http-check expect status abc", "is not a list of codes"),
        ("http-check expect rstring (", "invalid regex"),
        ("http-check expect body x", "unknown match 'body'"),
        ("http-check expect status", "expects a pattern"),
        ("http-check send meth", "expects 1 value"),
        ("http-check send hdr X-A", "expects 2 value"),
        ("http-check frob", "unknown 'http-check' action 'frob'"),
    ],
)
def test_bad_http_check_lines(tmp_path: Path, line: str, fragment: str) -> None:
    result = load(tmp_path, f"backend be\n    option httpchk\n    {line}\n")
    assert any(fragment in d.message for d in result.alerts()), [str(d) for d in result.diagnostics]


def test_http_check_rules_without_httpchk_are_ignored_with_a_warning(tmp_path: Path) -> None:
    _be, messages = backend(tmp_path, "http-check expect status 200", "server s 127.0.0.1:80")
    assert messages == [
        "WARNING backend 'be' uses http-check rules without 'option httpchk', "
        "so the rules are ignored"
    ]


def test_timeout_check_is_stored(tmp_path: Path) -> None:
    be, messages = backend(tmp_path, "timeout check 3s", "server s 127.0.0.1:80 check")
    assert messages == [] and be.timeouts.check == 3000


# --------------------------------------------------------------------------- cookie


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("cookie SRV", CookiePersistence(name="SRV")),
        ("cookie SRV insert indirect nocache httponly secure",
         CookiePersistence(name="SRV", mode="insert", indirect=True, nocache=True, httponly=True,
                           secure=True)),
        ("cookie JSESSIONID prefix nocache", CookiePersistence(name="JSESSIONID", mode="prefix",
                                                                nocache=True)),
        ("cookie SRV insert maxidle 30m maxlife 8h domain .a.com attr SameSite=Lax",
         CookiePersistence(name="SRV", mode="insert", maxidle=1_800_000, maxlife=28_800_000,
                           domains=[".a.com"], attrs=["SameSite=Lax"])),
    ],
)  # fmt: skip
def test_cookie(tmp_path: Path, line: str, expected: CookiePersistence) -> None:
    be, messages = backend(tmp_path, line, "server s 127.0.0.1:80 cookie s")
    assert messages == [] and be.cookie == expected and be.servers[0].cookie == "s"


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("cookie", "expects a cookie name"),
        ("cookie S insert rewrite", "cannot be used together"),
        ("cookie S rewrite preserve", "'preserve' requires 'insert'"),
        ("cookie S maxidle 1s", "require 'insert'"),
        ("cookie S insert colour", "unknown option 'colour'"),
    ],
)
def test_bad_cookie_lines(tmp_path: Path, line: str, fragment: str) -> None:
    result = load(tmp_path, f"backend be\n    {line}\n")
    assert any(fragment in d.message for d in result.alerts()), [str(d) for d in result.diagnostics]


def test_http_only_settings_in_a_tcp_backend(tmp_path: Path) -> None:
    """HAProxy 2.6's three warnings, and it drops what they name."""
    be, messages = backend(
        tmp_path, "cookie SRV insert", "balance uri", "server s1 127.0.0.1:80 cookie a", mode="tcp"
    )
    assert messages == [
        "WARNING cookie will be ignored for backend 'be' (needs 'mode http')",
        "WARNING Layer 7 hash not possible for backend 'be' (needs 'mode http'). "
        "Falling back to round robin",
        "WARNING backend 'be': ignoring cookie for server 's1' as HTTP mode is disabled",
    ] or sorted(messages) == sorted(
        [
            "WARNING cookie will be ignored for backend 'be' (needs 'mode http')",
            "WARNING backend 'be': ignoring cookie for server 's1' as HTTP mode is disabled",
            "WARNING Layer 7 hash not possible for backend 'be' (needs 'mode http'). "
            "Falling back to round robin",
        ]
    )
    assert be.cookie is None and be.servers[0].cookie is None and be.balance == "roundrobin"


# --------------------------------------------------------------------------- HAProxy agrees

AGREED = """\
backend be
    default-server inter 1s fall 2
    balance uri depth 3
    hash-type consistent djb2 avalanche
    option httpchk GET /health HTTP/1.1
    http-check send hdr Host example.com
    http-check expect status 200-299
    timeout check 500ms
    cookie SRV insert indirect nocache
    option allbackups
    server s1 127.0.0.1:80 check rise 3 weight 10 slowstart 10s cookie a id 5
    server s2 127.0.0.1:81 check backup port 8081 addr 127.0.0.2 cookie b disabled
"""


def test_haproxy_accepts_what_lb_accepts(tmp_path: Path) -> None:
    haproxy = shutil.which("haproxy", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if haproxy is None:
        pytest.skip("haproxy is not installed")
    path = tmp_path / "lb.cfg"
    path.write_text(HEAD.format(mode="http") + AGREED)
    result = load_files([str(path)], environ={})
    assert result.ok and result.diagnostics == [], [str(d) for d in result.diagnostics]
    proc = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    s1, s2 = result.config.backend("be").servers  # type: ignore[union-attr]
    assert isinstance(s1, Server) and (s1.inter, s1.fall, s1.rise, s1.id) == (1000, 2, 3, 5)
    assert (s2.id, s2.check_port, s2.check_addr, s2.disabled) == (1, 8081, "127.0.0.2", True)


def test_no_and_default_option_httpchk(tmp_path: Path) -> None:
    path = tmp_path / "lb.cfg"
    path.write_text(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout server 1s\n"
        "    option httpchk GET /ping\n"
        "backend a\n    no option httpchk\n    server s 127.0.0.1:1 check\n"
        "backend b\n    option httpchk HEAD /x\n    default option httpchk\n"
        "    server s 127.0.0.1:1 check\n"
        "backend c\n    http-check send hdr Host h\n    option httpchk GET /c\n"
        "    server s 127.0.0.1:1 check\n"
    )
    result = load_files([str(path)], environ={})
    assert result.ok, [str(d) for d in result.diagnostics]
    a, b, c = (result.config.backend(n) for n in "abc")  # type: ignore[union-attr]
    assert not a.http_check.enabled  # type: ignore[union-attr]
    assert b.http_check == HttpCheck(enabled=True, method="GET", uri="/ping")  # type: ignore[union-attr]
    # the order of "option httpchk" and "http-check send" does not matter
    assert c.http_check == HttpCheck(  # type: ignore[union-attr]
        enabled=True, method="GET", uri="/c", headers=[("Host", "h")]
    )
