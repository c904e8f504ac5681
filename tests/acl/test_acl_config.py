"""Bad rules are configuration errors at their file:line (and HAProxy refuses them
too); what lb does not do yet is said by name; the seed configuration routes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lb.acl import StaticRuntime, compile_config, compile_proxy
from lb.config.loader import load_files
from lb.config.model import Proxy
from tests.acl.conftest import BASE, load_text, messages, txn

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "examples" / "seed-haproxy.cfg"

TAIL = "backend be\n    server s1 127.0.0.1:81\n"


def config_with(lines: list[str], before: str = "") -> tuple[str, int]:
    """A frontend "fe" holding ``lines``; returns the text and the first line's number."""
    head = BASE + before + "frontend fe\n    bind 127.0.0.1:8080\n    default_backend be\n"
    first = len(head.splitlines()) + 1
    return head + "".join(f"    {line}\n" for line in lines) + TAIL, first


# (lines in frontend fe, index of the line at fault, fragment of the ALERT)
ERRORS: list[tuple[list[str], int, str]] = [
    (["acl a nosuch /x"], 0, "unknown fetch method 'nosuch'"),
    (["acl a path_reg ^(a"], 0, "regex '^(a' is invalid"),
    (["acl a path -f /nonexistent/p.lst"], 0, "cannot read '/nonexistent/p.lst'"),
    (["acl a path -x /a"], 0, "'-x' is not an ACL flag"),
    (["acl a src 300.1.1.1"], 0, "is not a valid IPv4 or IPv6 address"),
    (["acl a nbsrv(nope) gt 0"], 0, "no backend named 'nope'"),
    (["acl a srv_is_up(be/nope)"], 0, "no server 'nope' in backend 'be'"),
    (["acl a http_auth(nope)"], 0, "no userlist named 'nope'"),
    (["acl a"], 0, "'acl' expects a name and a criterion"),
    (["acl a/b path /x"], 0, "character '/' is not permitted in ACL name"),
    (["http-request deny if nope"], 0, "no ACL named 'nope'"),
    (
        ["http-request deny if a", "acl a path /x"],
        0,
        "ACL 'a' is used before its first 'acl' line",
    ),
    (["http-request deny if { path /x"], 0, "missing closing '}'"),
    (["http-request frobnicate"], 0, "unknown 'http-request' action 'frobnicate'"),
    (["http-request set-header X"], 0, "'set-header' expects exactly 2 argument(s)"),
    (["http-request set-header X a b"], 0, "then 'if' or 'unless' and a condition, got 'b'"),
    (["http-request set-header X %[nosuch]"], 0, "unknown fetch method 'nosuch'"),
    (["http-request set-header X %x"], 0, "no format variable '%x'"),
    (["http-request set-header X %[status]"], 0, "fetch 'status' needs the response"),
    (["http-request deny deny_status 418"], 0, "status 418 has no built-in error message"),
    (["http-request return status 200 string x"], 0, "a content-type is needed"),
    (["http-request return status 99"], 0, "not a code between 200 and 599"),
    (
        ["http-request return file /nonexistent content-type a/b"],
        0,
        "cannot read '/nonexistent'",
    ),
    (["http-request auth realm"], 0, "'auth' expects nothing or 'realm' and a realm"),
    (["http-request set-var(a) path"], 0, "invalid variable name 'a'"),
    (["http-request del-header X -m dom"], 0, "unsupported matching method 'dom'"),
    (["http-request redirect location /x code 304"], 0, "unsupported HTTP code '304'"),
    (["http-response set-status 99"], 0, "between 100 and 999"),
    (["http-response set-header X %[path]"], 0, "fetch 'path' needs the request"),
    (["redirect location"], 0, "'redirect' expects 2 arguments"),
    (["redirect foo /x"], 0, "(was 'foo')"),
    (["redirect location /x code 304"], 0, "unsupported HTTP code '304'"),
    (["use_backend nope if TRUE"], 0, "missing backend 'nope'"),
    (["use_backend be if nope"], 0, "no ACL named 'nope'"),
    (["use_backend %[nosuch] if TRUE"], 0, "unknown fetch method 'nosuch'"),
    (["use_backend be%[path,map(/nonexistent)]"], 0, "cannot read '/nonexistent'"),
]


@pytest.mark.parametrize(("lines", "at", "fragment"), ERRORS)
def test_error(tmp_path: Path, lines: list[str], at: int, fragment: str) -> None:
    text, first = config_with(lines)
    result = load_text(tmp_path, text)
    alerts = [(d.source.file, d.source.line) for d in result.alerts() if fragment in d.message]
    assert alerts == [(str(tmp_path / "lb.cfg"), first + at)], messages(result)
    assert result.config is None


def _haproxy() -> str | None:
    return shutil.which("haproxy", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


@pytest.mark.skipif(_haproxy() is None, reason="haproxy is not installed")
def test_haproxy_refuses_them_too(tmp_path: Path) -> None:
    accepted = []
    for lines, _, _ in ERRORS:
        text, _ = config_with(lines)
        path = tmp_path / "h.cfg"
        path.write_text(text)
        proc = subprocess.run(
            [_haproxy() or "haproxy", "-c", "-q", "-f", str(path)], capture_output=True
        )
        if proc.returncode == 0:
            accepted.append(lines)
    assert accepted == []


# (lines, fragment of the "not supported yet" message, index of its line)
NOT_YET: list[tuple[list[str], str, int]] = [
    (
        ["acl a req.rdp_cookie -i x", "http-request deny if a"],
        "'req.rdp_cookie' is not supported yet",
        0,
    ),
    (["http-request deny if { cook(a) -m found }"], "'cook' is not supported yet", 0),
    (["http-request set-src src"], "'http-request set-src' is not supported yet", 0),
    (
        ["http-response set-log-level err"],
        "'http-response set-log-level' is not supported yet",
        0,
    ),
    (["http-request set-header X %[path,sha1]"], "'sha1' is not supported yet", 0),
    (["http-request set-header X %Tr"], "'%Tr' is not supported yet", 0),
    (["http-request set-var(sess.a) path"], "'sess.a' is not supported yet", 0),
    (
        ["http-request set-var(txn.a,ifnotempty) path"],
        "is not supported yet (conditions on set-var)",
        0,
    ),
    (["http-request deny errorfiles myerrors"], "'errorfiles' is not supported yet", 0),
    (["http-request deny if REQ_CONTENT"], "'REQ_CONTENT' is not supported yet", 0),
]


@pytest.mark.parametrize(("lines", "fragment", "at"), NOT_YET)
def test_not_yet(tmp_path: Path, lines: list[str], fragment: str, at: int) -> None:
    text, first = config_with(lines)
    for mode, level in (("error", "ALERT"), ("warn", "WARNING")):
        result = load_text(tmp_path, text, unsupported=mode)
        found = [(d.level, d.source.line) for d in result.diagnostics if fragment in d.message]
        assert found == [(level, first + at)], messages(result)
        assert result.ok is (mode == "warn")


def test_warn_mode_drops_the_rules_it_cannot_honour(tmp_path: Path) -> None:
    text, _ = config_with(
        ["acl ssl req.rdp_cookie x", "http-request deny if ssl", "http-request deny if { path /d }"]
    )
    result = load_text(tmp_path, text, unsupported="warn")
    assert [d.level for d in result.diagnostics] == ["WARNING"], messages(result)
    assert result.config is not None
    rules = compile_config(result.config).frontends["fe"]
    rt = StaticRuntime()
    assert rules.http_request(txn(b"/x"), rt) is None
    assert rules.http_request(txn(b"/d"), rt) is not None


@pytest.mark.parametrize(
    ("before", "line", "level", "fragment"),
    [
        ("defaults\n    acl a path /x\n", 2, "ALERT", "not allowed in an anonymous 'defaults'"),
        (
            "defaults d\n    http-request deny\n",
            2,
            "ALERT",
            "'http-request' is not supported yet",
        ),
    ],
)
def test_rules_in_defaults(
    tmp_path: Path, before: str, line: int, level: str, fragment: str
) -> None:
    result = load_text(tmp_path, before)
    assert [(d.level, d.source.line) for d in result.diagnostics if fragment in d.message] == [
        (level, line)
    ], messages(result)


def test_request_acl_in_response_rule_is_a_warning(tmp_path: Path) -> None:
    text, first = config_with(["acl p path_beg /x", "http-response set-header Y 1 if p"])
    result = load_text(tmp_path, text)
    assert [(d.level, d.source.line) for d in result.diagnostics] == [("WARNING", first + 1)]
    assert "never matches in response rules" in result.diagnostics[0].message


def test_http_rules_in_a_tcp_proxy_are_ignored(tmp_path: Path) -> None:
    text = (
        BASE.replace("mode http", "mode tcp")
        + "frontend fe\n    bind 127.0.0.1:8080\n    acl p path_beg /x\n"
        + "    http-request deny if p\n    http-response del-header X\n"
        + "    redirect location /x\n    use_backend be if { src 10.0.0.0/8 }\n"
        + "    default_backend be\n"
        + TAIL
    )
    result = load_text(tmp_path, text)
    assert [(d.level, d.source.line, d.message) for d in result.diagnostics] == [
        ("WARNING", 9, "'http-request' rules ignored for frontend 'fe' as they require HTTP mode"),
        (
            "WARNING",
            10,
            "'http-response' rules ignored for frontend 'fe' as they require HTTP mode",
        ),
        ("WARNING", 11, "'redirect' rules ignored for frontend 'fe' as they require HTTP mode"),
    ]
    assert result.config is not None
    compiled = compile_config(result.config)
    assert set(compiled.frontends) == {"fe"} and set(compiled.backends) == {"be"}
    tcp = compiled.frontends["fe"]
    assert not tcp.has_request_rules
    # a TCP connection has no request: the session gives an empty one
    assert tcp.http_request(txn(b"", src="10.1.1.1"), StaticRuntime()) is None
    assert tcp.choose_backend(txn(b"", src="10.1.1.1"), StaticRuntime()) == "be"


def test_an_acl_error_is_reported_once(tmp_path: Path) -> None:
    text, first = config_with(["acl a nosuch", "http-request deny if a", "use_backend be if a"])
    result = load_text(tmp_path, text)
    assert [(d.level, d.source.line) for d in result.diagnostics] == [("ALERT", first)]


def test_the_model_ships_to_workers(tmp_path: Path) -> None:
    """The rules are words and lines in the model: msgspec carries them to a worker,
    which compiles the same rules."""
    import msgspec

    from lb.config.model import Config

    text, _ = config_with(["acl st path_beg /s", "http-request deny if st", "use_backend be if st"])
    result = load_text(tmp_path, text)
    assert result.config is not None
    blob = msgspec.msgpack.encode(result.config)
    again = msgspec.msgpack.decode(blob, type=Config)
    assert again == result.config
    fe = next(p for p in again.proxies if p.name == "fe")
    assert compile_proxy(fe, again).http_request(txn(b"/s"), StaticRuntime()) is not None


# --------------------------------------------------------------------------- the seed


def seed_frontend() -> tuple[Proxy, object]:
    loaded = load_files([str(SEED)], environ={}, unsupported="warn")
    assert loaded.ok, messages(loaded)
    assert loaded.config is not None
    web = next(p for p in loaded.config.proxies if p.name == "web")
    return web, loaded.config


@pytest.mark.parametrize(
    ("path", "backend"),
    [
        (b"/static/x", "static_servers"),
        (b"/image/logo.png", "static_servers"),
        (b"/JS/app", "static_servers"),  # -i
        (b"/a.css", "static_servers"),
        (b"/IMG.JPG", "static_servers"),  # -i, case
        (b"/page.html?x=1", "static_servers"),
        (b"/index.php", "dynamic_servers"),
        (b"/", "dynamic_servers"),
        (b"/static", "static_servers"),
        (b"/statics.php", "static_servers"),  # path_beg /static: a prefix, not a directory
        (b"/a.css.php", "dynamic_servers"),
    ],
)
def test_seed_routes(path: bytes, backend: str) -> None:
    web, config = seed_frontend()
    rules = compile_proxy(web, config)  # type: ignore[arg-type]
    t = txn(path, [(b"Host", b"www.example.com")])
    rt = StaticRuntime()
    assert rules.http_request(t, rt) is None
    assert rules.choose_backend(t, rt) == backend


@pytest.mark.parametrize("keyword", ["http-request", "http-response"])
def test_keyword_tables_say_what_lb_acl_does(keyword: str) -> None:
    """The reference is rendered from lb.config.keywords: it must list exactly the
    actions lb.acl compiles."""
    from lb.acl.actions import REQUEST_ACTIONS, RESPONSE_ACTIONS
    from lb.config import keywords as kw
    from lb.config.keywords import Status
    from lb.sticktable.actions import STICK_ACTIONS

    table = kw.HTTP_REQUEST_ACTIONS if keyword == "http-request" else kw.HTTP_RESPONSE_ACTIONS
    built = REQUEST_ACTIONS if keyword == "http-request" else RESPONSE_ACTIONS
    supported = {a for a, st in table.items() if st is Status.SUPPORTED}
    stick = set(STICK_ACTIONS) if keyword == "http-request" else set()  # lb.sticktable's
    assert supported == set(built) | stick | {"set-var", "set-var-fmt", "unset-var"}


def test_file_snapshot_lets_workers_compile_without_the_files(tmp_path: Path) -> None:
    from lb.acl import FileSnapshot

    (tmp_path / "bad.lst").write_text("/evil\n")
    (tmp_path / "be.map").write_text("a.example be\n")
    text, _ = config_with(
        [
            f"http-request deny if {{ path -f {tmp_path}/bad.lst }}",
            f"use_backend %[req.hdr(host),map({tmp_path}/be.map)]",
        ]
    )
    result = load_text(tmp_path, text)
    assert result.config is not None
    snapshot = FileSnapshot()
    compile_config(result.config, reader=snapshot)  # in the master
    assert sorted(snapshot.files) == [f"{tmp_path}/bad.lst", f"{tmp_path}/be.map"]
    (tmp_path / "bad.lst").unlink()  # a worker may be chrooted: it reads the snapshot
    rules = compile_config(result.config, reader=snapshot.files.__getitem__).frontends["fe"]
    rt = StaticRuntime()
    assert rules.http_request(txn(b"/evil"), rt) is not None
    assert rules.choose_backend(txn(headers=[(b"Host", b"a.example")]), rt) == "be"
