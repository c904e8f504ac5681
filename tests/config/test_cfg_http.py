"""HTTP mode's keywords: what each puts in the model, its errors, defaults inheritance."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from lb.config import LoadResult, load_files
from lb.config.model import Capture, Config, ForwardFor, LogTarget, Proxy, Source

# Line numbers below are those of this text: keep it stable.
BASE = """\
global
    log 127.0.0.1 local0
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind :80
    default_backend be
backend be
    server s1 127.0.0.1:81
"""
SECTIONS = {"global": "global", "defaults": "defaults", "fe": "frontend fe", "be": "backend be"}


def build(extra: dict[str, list[str]]) -> tuple[str, dict[str, list[int]]]:
    """BASE plus lines at the end of sections; returns the text and the added line numbers."""
    out: list[str] = []
    numbers: dict[str, list[int]] = {}
    lines = BASE.splitlines()
    headers = {v: k for k, v in SECTIONS.items()}
    for i, line in enumerate(lines):
        out.append(line)
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        section = _section_of(lines, i, headers)
        if section is not None and (nxt is None or not nxt.startswith(" ")):
            for added in extra.get(section, []):
                out.append("    " + added)
                numbers.setdefault(section, []).append(len(out))
    return "\n".join(out) + "\n", numbers


def _section_of(lines: list[str], i: int, headers: dict[str, str]) -> str | None:
    for j in range(i, -1, -1):
        if not lines[j].startswith(" "):
            return headers.get(lines[j])
    return None


def load(tmp_path: Path, text: str, **kw: object) -> LoadResult:
    path = tmp_path / "lb.cfg"
    path.write_text(text)
    return load_files([str(path)], environ={}, **kw)  # type: ignore[arg-type]


def messages(result: LoadResult) -> list[str]:
    return [str(d) for d in result.diagnostics]


def loaded(tmp_path: Path, extra: dict[str, list[str]]) -> Config:
    result = load(tmp_path, build(extra)[0])
    assert messages(result) == []
    assert result.config is not None
    return result.config


def proxy(cfg: Config, name: str) -> Proxy:
    return next(p for p in cfg.proxies if p.name == name)


@pytest.fixture
def errorfiles(tmp_path: Path) -> Path:
    d = tmp_path / "errors"
    d.mkdir()
    (d / "503.http").write_bytes(
        b"HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\n"
        b"Content-Type: text/html\r\n\r\n<h1>busy</h1>\n"
    )
    (d / "lf.http").write_bytes(b"HTTP/1.1 403\nContent-Length: 0\n\n")
    (d / "empty.http").write_bytes(b"")
    (d / "body.html").write_bytes(b"<h1>not a response</h1>\n")
    (d / "h2.http").write_bytes(b"HTTP/2 503 x\r\n\r\n")
    (d / "open.http").write_bytes(b"HTTP/1.0 503 x\r\nContent-Type: text/html\r\n")
    (d / "badhdr.http").write_bytes(b"HTTP/1.0 503 x\r\nno colon here\r\n\r\n")
    (d / "big.http").write_bytes(b"HTTP/1.0 503 x\r\n\r\n" + b"a" * 20_000)
    return d


# --------------------------------------------------------------------------- model values

Get = Callable[[Config], object]


def fe(attr: str) -> Get:
    def get(cfg: Config) -> object:
        value: object = proxy(cfg, "fe")
        for part in attr.split("."):
            value = getattr(value, part)
        return value

    return get


def be(attr: str) -> Get:
    def get(cfg: Config) -> object:
        value: object = proxy(cfg, "be")
        for part in attr.split("."):
            value = getattr(value, part)
        return value

    return get


def glob(attr: str) -> Get:
    return lambda cfg: getattr(cfg.global_, attr)


def fe_log(cfg: Config) -> list[tuple[str, str, str | None, str | None, str, int]]:
    return [
        (t.address, t.facility, t.level, t.min_level, t.format, t.length)
        for t in proxy(cfg, "fe").logs.targets
    ]


def global_log(cfg: Config) -> list[tuple[str, str, str | None, str | None, str, int]]:
    return [
        (t.address, t.facility, t.level, t.min_level, t.format, t.length) for t in cfg.global_.logs
    ]


G0 = ("127.0.0.1:514", "local0", None, None, "local", 1024)  # BASE's global log line

# (id, lines added per section, what to read, expected value)
MODEL_CASES: list[tuple[str, dict[str, list[str]], Get, object]] = [
    ("mode-http", {}, fe("mode"), "http"),
    ("mode-default-keep-alive", {}, fe("http.connection_mode"), "keep-alive"),
    (
        "server-close",
        {"fe": ["option http-server-close"]},
        fe("http.connection_mode"),
        "server-close",
    ),
    ("httpclose", {"fe": ["option httpclose"]}, fe("http.connection_mode"), "close"),
    (
        "last-mode-wins",
        {"fe": ["option httpclose", "option http-server-close", "option http-keep-alive"]},
        fe("http.connection_mode"),
        "keep-alive",
    ),
    (
        "no-option-of-current-mode",
        {"fe": ["option httpclose", "no option httpclose"]},
        fe("http.connection_mode"),
        "keep-alive",
    ),
    (
        "no-option-of-another-mode",
        {"fe": ["option http-server-close", "no option httpclose"]},
        fe("http.connection_mode"),
        "server-close",
    ),
    (
        "no-option-cancels-defaults",
        {"defaults": ["option httpclose"], "be": ["no option httpclose"]},
        be("http.connection_mode"),
        "keep-alive",
    ),
    ("reuse-default", {}, be("http.reuse"), "safe"),
    ("reuse-never", {"be": ["http-reuse never"]}, be("http.reuse"), "never"),
    ("reuse-aggressive", {"be": ["http-reuse aggressive"]}, be("http.reuse"), "aggressive"),
    ("reuse-always", {"be": ["http-reuse always"]}, be("http.reuse"), "always"),
    ("forwardfor-unset", {}, fe("http.forwardfor"), None),
    ("forwardfor", {"fe": ["option forwardfor"]}, fe("http.forwardfor"), ForwardFor()),
    (
        "forwardfor-except-v4",
        {"fe": ["option forwardfor except 127.0.0.0/8"]},
        fe("http.forwardfor"),
        ForwardFor(except_net="127.0.0.0/8"),
    ),
    (
        "forwardfor-except-dotted-mask",
        {"fe": ["option forwardfor except 10.0.0.0/255.0.0.0"]},
        fe("http.forwardfor"),
        ForwardFor(except_net="10.0.0.0/255.0.0.0"),
    ),
    (
        "forwardfor-except-host",
        {"fe": ["option forwardfor except 10.1.2.3"]},
        fe("http.forwardfor"),
        ForwardFor(except_net="10.1.2.3"),
    ),
    (
        "forwardfor-all-options",
        {"be": ["option forwardfor if-none header X-Client except 2001:db8::/32"]},
        be("http.forwardfor"),
        ForwardFor(header="X-Client", except_net="2001:db8::/32", if_none=True),
    ),
    (
        "forwardfor-line-starts-afresh",
        {"fe": ["option forwardfor header X-A if-none", "option forwardfor except ::1"]},
        fe("http.forwardfor"),
        ForwardFor(except_net="::1"),
    ),
    ("abortonclose", {"be": ["option abortonclose"]}, be("http.abortonclose"), True),
    (
        "no-abortonclose",
        {"defaults": ["option abortonclose"], "be": ["no option abortonclose"]},
        be("http.abortonclose"),
        False,
    ),
    (
        "default-option-takes-the-defaults-value",
        {
            "defaults": ["option abortonclose"],
            "be": ["no option abortonclose", "default option abortonclose"],
        },
        be("http.abortonclose"),
        True,
    ),
    (
        "request-captures",
        {"fe": ["capture request header Host len 20", "capture request header X-Id len 64"]},
        lambda cfg: [(c.header, c.length) for c in proxy(cfg, "fe").http.request_captures],
        [("Host", 20), ("X-Id", 64)],
    ),
    (
        "response-captures",
        {"fe": ["capture response header Content-Type len 30"]},
        lambda cfg: proxy(cfg, "fe").http.response_captures,
        [Capture("Content-Type", 30, Source("", 0))],  # source compared apart below
    ),
    ("httplog", {"fe": ["log global", "option httplog"]}, fe("logs.httplog"), True),
    ("tcplog", {"fe": ["log global", "option tcplog"]}, fe("logs.tcplog"), True),
    ("dontlognull", {"fe": ["option dontlognull"]}, fe("logs.dontlognull"), True),
    ("logasap", {"fe": ["option logasap"]}, fe("logs.logasap"), True),
    (
        "no-logasap",
        {"defaults": ["option logasap"], "fe": ["no option logasap"]},
        fe("logs.logasap"),
        False,
    ),
    (
        "log-format-replaces-httplog",
        {"fe": ["log global", "option httplog", "log-format %ci:%cp\\ %r"]},
        lambda cfg: (lambda lg: (lg.httplog, lg.tcplog, lg.log_format))(proxy(cfg, "fe").logs),
        (False, False, "%ci:%cp %r"),
    ),
    (
        "httplog-replaces-log-format",
        {"fe": ["log global", "log-format %ci", "option tcplog", "option httplog"]},
        lambda cfg: (lambda lg: (lg.httplog, lg.tcplog, lg.log_format))(proxy(cfg, "fe").logs),
        (True, False, None),
    ),
    (
        "log-format-double-quotes",
        {"fe": ["log global", 'log-format "%ci [%t] \\"%r\\" %[src]"']},
        fe("logs.log_format"),
        '%ci [%t] "%r" %[src]',
    ),
    (
        "log-format-single-quotes-literal",
        {"fe": ["log global", "log-format '%ci\\ %t $HOME'"]},
        fe("logs.log_format"),
        "%ci\\ %t $HOME",
    ),
    ("global-log", {}, global_log, [G0]),
    (
        "log-forms",
        {
            "fe": [
                "log 10.0.0.1:1514 len 4096 format rfc5424 local7 info notice",
                "log [::1] daemon",
                "log ::1: user debug",
                "log 2001:db8::5:600 kern",
                "log udp@10.0.0.2 local1",
                "log ipv6@[fe80::1]:99 auth2 err",
                "log ipv4@10.0.0.3: cron2",
                "log /dev/log format short local2 warning",
                "log unix@/run/log.sock ntp",
                "log stdout format raw daemon",
                "log stderr local3",
                "log fd@1 local4",
                "log 10.0.0.9:0 audit",
                "log localhost local5",
            ]
        },
        fe_log,
        [
            ("10.0.0.1:1514", "local7", "info", "notice", "rfc5424", 4096),
            ("[::1]:514", "daemon", None, None, "local", 1024),
            ("[::1]:514", "user", "debug", None, "local", 1024),
            ("[2001:db8::5]:600", "kern", None, None, "local", 1024),
            ("10.0.0.2:514", "local1", None, None, "local", 1024),
            ("[fe80::1]:99", "auth2", "err", None, "local", 1024),
            ("10.0.0.3:514", "cron2", None, None, "local", 1024),
            ("/dev/log", "local2", "warning", None, "short", 1024),
            ("/run/log.sock", "ntp", None, None, "local", 1024),
            ("stdout", "daemon", None, None, "raw", 1024),
            ("stderr", "local3", None, None, "local", 1024),
            ("stdout", "local4", None, None, "local", 1024),
            ("10.0.0.9:514", "audit", None, None, "local", 1024),
            ("localhost:514", "local5", None, None, "local", 1024),
        ],
    ),
    (
        "log-len-bounds",
        {"fe": ["log 1.2.3.4 len 80 local0", "log 1.2.3.4 len 65535 local0"]},
        lambda cfg: [t.length for t in proxy(cfg, "fe").logs.targets],
        [80, 65535],
    ),
    ("log-global", {"fe": ["log global"]}, fe_log, [G0]),
    (
        "log-global-in-file-order",
        {"fe": ["log 10.0.0.1 local1", "log global", "log 10.0.0.2 local2"]},
        lambda cfg: [t.address for t in proxy(cfg, "fe").logs.targets],
        ["10.0.0.1:514", "127.0.0.1:514", "10.0.0.2:514"],
    ),
    (
        "log-global-twice-adds-once",
        {"defaults": ["log global"], "fe": ["log global"]},
        fe_log,
        [G0],
    ),
    ("no-log-clears-inherited", {"defaults": ["log global"], "fe": ["no log"]}, fe_log, []),
    (
        "no-log-then-log",
        {"defaults": ["log global"], "fe": ["no log", "log 10.0.0.5 local6"]},
        lambda cfg: [t.address for t in proxy(cfg, "fe").logs.targets],
        ["10.0.0.5:514"],
    ),
    ("no-log-line-no-target", {}, fe_log, []),
    ("bufsize-default", {}, glob("tune_bufsize"), 16384),
    ("bufsize", {"global": ["tune.bufsize 32768"]}, glob("tune_bufsize"), 32768),
    ("bufsize-unit", {"global": ["tune.bufsize 64k"]}, glob("tune_bufsize"), 65536),
    ("maxhdr-default", {}, glob("tune_http_maxhdr"), 101),
    ("maxhdr", {"global": ["tune.http.maxhdr 32767"]}, glob("tune_http_maxhdr"), 32767),
    (
        "http-timeouts",
        {
            "defaults": [
                "timeout http-request 5s",
                "timeout http-keep-alive 2s",
                "timeout queue 30s",
            ]
        },
        lambda cfg: (
            proxy(cfg, "fe").timeouts.http_request,
            proxy(cfg, "fe").timeouts.http_keep_alive,
            proxy(cfg, "be").timeouts.queue,
            proxy(cfg, "fe").timeouts.queue,  # the queue is the backend's
        ),
        (5_000, 2_000, 30_000, None),
    ),
    (
        "server-maxconn",
        {"be": ["server s2 127.0.0.1:82 maxconn 50", "server s3 127.0.0.1:83"]},
        lambda cfg: [(s.name, s.maxconn) for s in proxy(cfg, "be").servers],
        [("s1", 0), ("s2", 50), ("s3", 0)],
    ),
]


@pytest.mark.parametrize(
    ("extra", "get", "expected"),
    [pytest.param(e, g, x, id=i) for i, e, g, x in MODEL_CASES],
)
def test_model_value(
    tmp_path: Path, extra: dict[str, list[str]], get: Get, expected: object
) -> None:
    cfg = loaded(tmp_path, extra)
    got = get(cfg)
    if isinstance(expected, list) and expected and isinstance(expected[0], Capture):
        assert isinstance(got, list)
        got = [Capture(c.header, c.length, Source("", 0)) for c in got]
    assert got == expected


def test_sources_name_the_lines(tmp_path: Path) -> None:
    extra = {
        "global": ["log 10.0.0.1 local1"],
        "fe": ["log global", "log 10.0.0.2 local2", "capture request header Host len 5"],
    }
    text, numbers = build(extra)
    result = load(tmp_path, text)
    assert result.config is not None
    f = str(tmp_path / "lb.cfg")
    g_line = numbers["global"][0]
    web = proxy(result.config, "fe")
    # the global targets keep the global lines' sources
    assert [t.source for t in web.logs.targets] == [
        Source(f, 2),
        Source(f, g_line),
        Source(f, numbers["fe"][1]),
    ]
    assert web.http.request_captures[0].source == Source(f, numbers["fe"][2])


def test_errorfiles(tmp_path: Path, errorfiles: Path) -> None:
    extra = {
        "defaults": [f"errorfile 503 {errorfiles / '503.http'}"],
        "fe": [f"errorfile 403 {errorfiles / 'lf.http'}", "errorfile 408 /dev/null"],
        "be": [f"errorfile 503 {errorfiles / 'empty.http'}"],
    }
    cfg = loaded(tmp_path, extra)
    assert proxy(cfg, "fe").http.errorfiles == {
        503: str(errorfiles / "503.http"),
        403: str(errorfiles / "lf.http"),
        408: "/dev/null",
    }
    assert proxy(cfg, "be").http.errorfiles == {503: str(errorfiles / "empty.http")}


def test_errorfile_relative_path_is_made_absolute(
    tmp_path: Path, errorfiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(errorfiles)
    cfg = loaded(tmp_path, {"fe": ["errorfile 503 503.http"]})
    assert proxy(cfg, "fe").http.errorfiles == {503: str(errorfiles / "503.http")}


@pytest.mark.parametrize("code", [200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429,
                                  500, 501, 502, 503, 504])  # fmt: skip
def test_errorfile_codes(tmp_path: Path, errorfiles: Path, code: int) -> None:
    cfg = loaded(tmp_path, {"fe": [f"errorfile {code} {errorfiles / '503.http'}"]})
    assert list(proxy(cfg, "fe").http.errorfiles) == [code]


# --------------------------------------------------------------------------- errors

# (section, line, fragment of the ALERT at that line); "{E}" is the errorfiles directory
ERRORS: list[tuple[str, str, str]] = [
    ("fe", "mode htp", "unknown mode 'htp'"),
    ("fe", "option httpclose now", "takes no more than 0"),
    ("fe", "default option httpclose", "negation/default is not supported"),
    ("be", "http-reuse sometimes", "expects never, safe, aggressive or always, got 'sometimes'"),
    ("be", "http-reuse", "'http-reuse' expects an argument"),
    ("be", "http-reuse safe never", "takes no more than 1"),
    ("fe", "http-reuse safe", "'http-reuse' is not allowed in a 'frontend' section"),
    ("fe", "option forwardfor except", "'option forwardfor except': expects ADDRESS[/MASK]"),
    ("fe", "option forwardfor except 10.0.0.0/33", "bad mask '33'"),
    ("fe", "option forwardfor except 10.0.0.0/255.0.255.0", "bad mask"),
    ("fe", "option forwardfor except ::1/ffff::", "bad mask"),
    ("fe", "option forwardfor except lan", "'lan' is not an IP address"),
    ("fe", "option forwardfor header", "'option forwardfor header': expects a header name"),
    ("fe", "option forwardfor header X:Y", "'X:Y' is not a header name"),
    ("fe", "option forwardfor always", "only supports 'except', 'header' and 'if-none'"),
    ("fe", "no option forwardfor", "negation/default is not supported"),
    ("fe", "option abortonclose", "'option abortonclose' is not allowed in a 'frontend'"),
    ("be", "option abortonclose yes", "takes no more than 0"),
    ("fe", "errorfile 503", "'errorfile' expects 2 arguments"),
    ("fe", "errorfile 402 {E}/503.http", "status code '402' cannot be replaced"),
    ("fe", "errorfile x {E}/503.http", "status code 'x' cannot be replaced"),
    ("fe", "errorfile 503 {E}/missing.http", "cannot read '{E}/missing.http'"),
    ("fe", "errorfile 503 {E}", "cannot read '{E}': Is a directory"),
    ("fe", "errorfile 503 {E}/body.html", "does not start with an HTTP/1.0 or HTTP/1.1 status"),
    ("fe", "errorfile 503 {E}/h2.http", "does not start with an HTTP/1.0 or HTTP/1.1 status"),
    ("fe", "errorfile 503 {E}/open.http", "has no blank line after its headers"),
    ("fe", "errorfile 503 {E}/badhdr.http", "invalid header on its line 2"),
    ("fe", "errorfile 503 {E}/big.http", "larger than tune.bufsize (16384)"),
    ("fe", "capture request header Host", "expects 'header' NAME 'len' LENGTH"),
    ("fe", "capture request header Host size 5", "expects 'header' NAME 'len' LENGTH"),
    ("fe", "capture request header Host len 5 x", "got 'x' after it"),
    ("fe", "capture request header Host len 0", "out of range"),
    ("fe", "capture request header Host len many", "'many'"),
    ("fe", "capture response header Bad(Name) len 5", "'Bad(Name)' is not a header name"),
    ("fe", "capture header Host len 5", "expects 'request', 'response' or 'cookie'"),
    ("be", "capture request header Host len 5", "'capture' is not allowed in a 'backend'"),
    ("defaults", "capture request header Host len 5", "not allowed in a 'defaults' section"),
    ("fe", "option httplog x", "only supports 'clf', got 'x'"),
    ("fe", "no option httplog", "negation/default is not supported"),
    ("fe", "default option tcplog", "negation/default is not supported"),
    ("fe", "option tcplog x", "takes no more than 0"),
    ("be", "option httplog", "'option httplog' is not allowed in a 'backend' section"),
    ("fe", "option dontlognull x", "takes no more than 0"),
    ("fe", "log-format", "'log-format' expects an argument"),
    ("fe", 'log-format ""', "'log-format' expects an argument"),
    ("fe", "log-format %ci %t", "expects only one argument, got '%t' too"),
    ("be", "log-format %ci", "'log-format' is not allowed in a 'backend' section"),
    ("fe", "log", "'log' expects an address and a facility"),
    ("fe", "log 127.0.0.1", "'log 127.0.0.1' expects a facility"),
    ("fe", "log 127.0.0.1 local9", "unknown log facility 'local9'"),
    ("fe", "log 127.0.0.1 local0 inf", "unknown log level 'inf'"),
    ("fe", "log 127.0.0.1 local0 info debug x", "unexpected argument 'x'"),
    ("fe", "log 127.0.0.1 len 79 local0", "out of range 80..65535"),
    ("fe", "log 127.0.0.1 len 65536 local0", "out of range 80..65535"),
    ("fe", "log 127.0.0.1 len", "'log len' expects a length"),
    ("fe", "log 127.0.0.1 format json local0", "unknown log format 'json'"),
    ("fe", "log 127.0.0.1 format", "'log format' expects a format name"),
    ("fe", "log 127.0.0.1 format raw len 100 local0", "unknown log facility 'len'"),
    ("fe", "log ::1 local0", "write an IPv6 address as '[::1]' or '::1:'"),
    ("fe", "log 2001:db8::1 local0", "write an IPv6 address as '[2001:db8::1]'"),
    ("fe", "log 127.0.0.1:99999 local0", "out of range"),
    ("fe", "log 127.0.0.1:x local0", "invalid port 'x'"),
    ("fe", "log ipv6@127.0.0.1 local0", "not an IPv6 address"),
    ("fe", "log unix@relative local0", "invalid unix socket path"),
    ("fe", "log :514 local0", "no host"),
    ("fe", "log global x", "takes no more than 0"),
    ("fe", "no log x", "takes no more than 0"),
    ("global", "log global", "'log global' is for proxies"),
    ("global", "log 127.0.0.1 local0 warning emerg crit", "unexpected argument 'crit'"),
    ("global", "tune.bufsize 1000", "out of range 1024..268435455"),
    ("global", "tune.bufsize 256m", "out of range 1024..268435455"),
    ("global", "tune.bufsize 2g", "out of range"),
    ("global", "tune.bufsize lots", "invalid size value 'lots'"),
    ("global", "tune.http.maxhdr 0", "out of range 1..32767"),
    ("global", "tune.http.maxhdr 32768", "out of range 1..32767"),
    ("global", "tune.http.maxhdr x", "'x'"),
    ("be", "server s2 127.0.0.1:82 maxconn -1", "'-1'"),
    ("be", "server s2 127.0.0.1:82 maxqueue lots", "'lots'"),
    ("be", "server s2 127.0.0.1:82 maxqueue", "expects an argument"),
]


@pytest.mark.parametrize(("section", "line", "fragment"), ERRORS)
def test_error_at_its_line(
    tmp_path: Path, errorfiles: Path, section: str, line: str, fragment: str
) -> None:
    line, fragment = line.replace("{E}", str(errorfiles)), fragment.replace("{E}", str(errorfiles))
    text, numbers = build({section: [line]})
    result = load(tmp_path, text)
    f = str(tmp_path / "lb.cfg")
    at_line = [d.message for d in result.alerts() if d.source == Source(f, numbers[section][0])]
    assert any(fragment in m for m in at_line), (fragment, messages(result))
    assert result.config is None


# "not supported yet": valid HAProxy that lb does not do yet, reported by name
NOT_YET: list[tuple[str, str, str]] = [
    ("fe", "option httplog clf", "option httplog clf"),
    ("fe", "capture cookie SRV len 10", "capture cookie"),
    ("fe", "log 127.0.0.1 format local local0", "format local"),
    ("fe", "log 127.0.0.1 sample 1:2 local0", "sample"),
    ("fe", "log tcp@127.0.0.1:514 local0", "tcp@"),
    ("fe", "log ring@buf local0", "ring@"),
    ("fe", "log fd@3 local0", "fd@"),
    ("be", "http-check disable-on-404", "http-check disable-on-404"),
    ("fe", "acl tls13 ssl_fc_protocol TLSv1.3", "ssl_fc_protocol"),
    ("fe", "use_backend be if { req.rdp_cookie -i x }", "req.rdp_cookie"),
    ("fe", "tcp-request content accept", "tcp-request content"),
    ("be", "http-response set-log-level err", "http-response set-log-level"),
    ("fe", "compression direction both", "compression direction"),
    ("be", "cookie SRV insert dynamic", "cookie dynamic"),
    ("be", "stick-table type ip size 1m peers p", "stick-table peers"),
    ("fe", "redirect scheme https if { req.cook(a) -m found }", "req.cook"),
    ("fe", "stats show-legends", "stats show-legends"),
    ("fe", "errorfiles myerrors", "errorfiles"),
    ("fe", "option http-buffer-request", "option http-buffer-request"),
    ("global", "tune.maxrewrite 1024", "tune.maxrewrite"),
    ("be", "server s2 127.0.0.1:82 check agent-check", "agent-check"),
]


@pytest.mark.parametrize(("section", "line", "what"), NOT_YET)
def test_not_supported_yet_by_name(tmp_path: Path, section: str, line: str, what: str) -> None:
    text, numbers = build({section: [line]})
    for mode, level in (("error", "ALERT"), ("warn", "WARNING")):
        result = load(tmp_path, text, unsupported=mode)
        hits = [
            (d.level, d.source.line)
            for d in result.diagnostics
            if d.message.startswith(f"'{what}' is not supported yet")
        ]
        assert hits == [(level, numbers[section][0])], messages(result)


def test_supported_keywords_raise_no_message(tmp_path: Path, errorfiles: Path) -> None:
    extra = {
        "global": ["tune.bufsize 32k", "tune.http.maxhdr 200"],
        "defaults": [
            "log global",
            "option httplog",
            "option dontlognull",
            "option http-server-close",
            "option forwardfor except 127.0.0.0/8",
            "option abortonclose",
            f"errorfile 503 {errorfiles / '503.http'}",
            "timeout http-request 10s",
            "timeout http-keep-alive 10s",
            "timeout queue 1m",
        ],
        "fe": ["option logasap", "capture request header Host len 20", "log-format %ci"],
        "be": ["http-reuse always", "server s2 127.0.0.1:82 maxconn 5"],
    }
    result = load(tmp_path, build(extra)[0])
    assert messages(result) == []
    assert result.ok


# --------------------------------------------------------------------------- defaults


def test_defaults_inheritance(tmp_path: Path, errorfiles: Path) -> None:
    extra = {
        "defaults": [
            "log global",
            "log 10.0.0.1 local1",
            "option httplog",
            "option dontlognull",
            "option logasap",
            "option httpclose",
            "option forwardfor header X-Real-IP",
            "option abortonclose",
            "http-reuse never",
            f"errorfile 503 {errorfiles / '503.http'}",
        ],
    }
    cfg = loaded(tmp_path, extra)
    fe_, be_ = proxy(cfg, "fe"), proxy(cfg, "be")
    addresses = ["127.0.0.1:514", "10.0.0.1:514"]
    # both sides: log lines, connection mode, forwardfor, errorfiles
    for p in (fe_, be_):
        assert [t.address for t in p.logs.targets] == addresses
        assert p.http.connection_mode == "close"
        assert p.http.forwardfor == ForwardFor(header="X-Real-IP")
        assert p.http.errorfiles == {503: str(errorfiles / "503.http")}
    # frontend side: the shape of traffic logs
    assert (fe_.logs.httplog, fe_.logs.dontlognull, fe_.logs.logasap) == (True, True, True)
    assert (be_.logs.httplog, be_.logs.dontlognull, be_.logs.logasap) == (False, False, False)
    # backend side: abortonclose, http-reuse
    assert (be_.http.abortonclose, be_.http.reuse) == (True, "never")
    assert (fe_.http.abortonclose, fe_.http.reuse) == (False, "safe")


def test_inherited_values_are_copies(tmp_path: Path, errorfiles: Path) -> None:
    text = (
        "global\n  log 127.0.0.1 local0\n"
        "defaults\n  mode http\n  log global\n  option forwardfor\n"
        f"  errorfile 503 {errorfiles / '503.http'}\n"
        "  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n"
        "frontend a\n  bind :80\n  errorfile 503 /dev/null\n  option forwardfor if-none\n"
        "  default_backend b\n"
        "frontend c\n  bind :81\n  default_backend b\n"
        "backend b\n  server s 127.0.0.1:1\n"
    )
    result = load(tmp_path, text)
    assert messages(result) == []
    assert result.config is not None
    c = proxy(result.config, "c")
    assert c.http.errorfiles == {503: str(errorfiles / "503.http")}
    assert c.http.forwardfor == ForwardFor()
    a = proxy(result.config, "a")
    assert a.logs.targets is not c.logs.targets and a.logs.targets == c.logs.targets


def test_named_defaults_and_from(tmp_path: Path) -> None:
    text = (
        "global\n  log 127.0.0.1 local0\n"
        "defaults web\n  mode http\n  log global\n  option httplog\n  option http-server-close\n"
        "  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n"
        "defaults raw\n  mode tcp\n"
        "  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n"
        "frontend f from web\n  bind :80\n  default_backend b\n"
        "backend b from web\n  server s 127.0.0.1:1\n"
        "listen t\n  bind :81\n  server s 127.0.0.1:2\n"
    )
    result = load(tmp_path, text)
    assert messages(result) == []
    assert result.config is not None
    f, t = proxy(result.config, "f"), proxy(result.config, "t")
    assert (f.mode, f.logs.httplog, f.http.connection_mode) == ("http", True, "server-close")
    assert [x.address for x in f.logs.targets] == ["127.0.0.1:514"]
    assert (t.mode, t.logs.httplog, t.logs.targets) == ("tcp", False, [])


def test_log_global_expands_at_the_end(tmp_path: Path) -> None:
    # the global section may come after the proxy, or be split across files
    a = tmp_path / "a.cfg"
    a.write_text(
        "global\n  log 10.0.0.1 local1\n"
        "defaults\n  mode http\n  log global\n"
        "  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n"
        "frontend f\n  bind :80\n  default_backend b\n"
        "backend b\n  server s 127.0.0.1:1\n"
    )
    b = tmp_path / "b.cfg"
    b.write_text("global\n  log 10.0.0.2 local2\n")
    result = load_files([str(a), str(b)], environ={})
    assert messages(result) == []
    assert result.config is not None
    expected = [
        LogTarget("10.0.0.1:514", "local1", Source(str(a), 2)),
        LogTarget("10.0.0.2:514", "local2", Source(str(b), 2)),
    ]
    assert result.config.global_.logs == expected
    for p in result.config.proxies:
        assert p.logs.targets == expected


# --------------------------------------------------------------------------- cross-checks

MODE_MISMATCH = [
    ("tcp", "http", "frontend 'f' is in tcp mode and cannot use backend 'b'"),
    ("http", "tcp", "frontend 'f' is in http mode and cannot use backend 'b'"),
]


@pytest.mark.parametrize(("fe_mode", "be_mode", "fragment"), MODE_MISMATCH)
@pytest.mark.parametrize("route", ["default_backend b", "use_backend b"])
def test_mode_mismatch(
    tmp_path: Path, fe_mode: str, be_mode: str, fragment: str, route: str
) -> None:
    text = (
        "defaults\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n"
        f"frontend f\n  mode {fe_mode}\n  bind :80\n  {route}\n"
        f"backend b\n  mode {be_mode}\n  server s 127.0.0.1:1\n"
    )
    result = load(tmp_path, text)
    assert [(d.source.line, fragment in d.message) for d in result.alerts()] == [(8, True)]


# (lines of a tcp listen that inherits from a mode http defaults, WARNING fragments, check)
TCP_FALLBACKS: list[tuple[list[str], list[str], Callable[[Proxy], bool]]] = [
    (
        ["option forwardfor"],
        ["'option forwardfor' ignored for listen 't' as it requires HTTP mode"],
        lambda p: p.http.forwardfor is None,
    ),
    (
        ["option httplog", "log global"],
        ["'option httplog' not usable with listen 't' (needs 'mode http')"],
        lambda p: (p.logs.httplog, p.logs.tcplog) == (False, True),
    ),
    (
        ["option tcplog"],
        ["log format ignored for listen 't' since it has no log address"],
        lambda p: p.logs.tcplog,
    ),
    (["log-format %ci", "log global"], [], lambda p: p.logs.log_format == "%ci"),
]


@pytest.mark.parametrize(("lines", "warnings", "check"), TCP_FALLBACKS)
def test_http_settings_in_a_tcp_proxy(
    tmp_path: Path, lines: list[str], warnings: list[str], check: Callable[[Proxy], bool]
) -> None:
    text = (
        "global\n  log 127.0.0.1 local0\n"
        "defaults\n  mode http\n" + "".join(f"  {line}\n" for line in lines) + ""
        "  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n"
        "listen t\n  mode tcp\n  bind :80\n  server s 127.0.0.1:1\n"
    )
    result = load(tmp_path, text)
    assert result.ok, messages(result)
    got = [d.message for d in result.diagnostics if d.level == "WARNING"]
    assert len(got) == len(warnings), got
    for fragment, message in zip(warnings, got, strict=True):
        assert fragment in message
    assert result.config is not None
    assert check(result.config.proxies[0])


# --------------------------------------------------------------------------- the seed

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "examples" / "seed-haproxy.cfg"


def test_seed_remaining_not_yet_keywords() -> None:
    result = load_files([str(SEED)], environ={})
    names = {d.message.split("'")[1] for d in result.diagnostics}
    assert names == set()  # the stats keywords were the last ones
    assert result.ok


# --------------------------------------------------------------------------- HAProxy agrees


def _haproxy() -> str | None:
    return shutil.which("haproxy", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


# Model cases HAProxy 2.6 reads otherwise: it takes tune.bufsize with atol() ("64k" is
# 64), and its "default option X" fails in a proxy section.
NOT_FOR_HAPROXY_26 = {"bufsize-unit", "default-option-takes-the-defaults-value"}


@pytest.mark.skipif(_haproxy() is None, reason="haproxy is not installed")
def test_haproxy_accepts_what_lb_models(tmp_path: Path, errorfiles: Path) -> None:
    extra: dict[str, list[str]] = {}
    for case_id, lines, _, _ in MODEL_CASES:
        if case_id in NOT_FOR_HAPROXY_26:
            continue
        for section, added in lines.items():
            extra.setdefault(section, []).extend(added)
    extra.setdefault("fe", []).append(f"errorfile 503 {errorfiles / '503.http'}")
    text, _ = build(extra)
    cfg = tmp_path / "h.cfg"
    cfg.write_text(text)
    hp = subprocess.run([str(_haproxy()), "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert hp.returncode == 0, hp.stdout + hp.stderr
    assert load_files([str(cfg)], environ={}).ok


# Where lb is stricter than HAProxy, on purpose: a keyword in a section where HAProxy
# ignores it with a warning (lb's rule: an ALERT), values HAProxy reads with atol(),
# header names that can never match, non-contiguous masks, relative unix paths, an empty
# log host, lb's own tune.bufsize bounds, an errorfile's exact size limit.
LB_STRICTER = {
    ("fe", "mode htp"),
    ("fe", "http-reuse safe"),
    ("fe", "option abortonclose"),
    ("be", "capture request header Host len 5"),
    ("be", "option httplog"),
    ("be", "log-format %ci"),
    ("fe", "option forwardfor except 10.0.0.0/255.0.255.0"),
    ("fe", "option forwardfor header X:Y"),
    ("fe", "log unix@relative local0"),
    ("fe", "log :514 local0"),
    ("global", "tune.bufsize 1000"),
    ("global", "tune.bufsize 2g"),
    ("global", "tune.bufsize 256m"),
    ("be", "server s2 127.0.0.1:82 maxconn -1"),
    ("be", "server s2 127.0.0.1:82 maxqueue lots"),
    ("be", "server s2 127.0.0.1:82 maxqueue"),
    ("fe", "capture request header Host len 0"),
    ("fe", "capture request header Host len many"),
    ("fe", "capture response header Bad(Name) len 5"),
    ("fe", "errorfile 503 {E}/badhdr.http"),
    ("fe", "errorfile 503 {E}/big.http"),
}
HAPROXY_REJECTS = [e for e in ERRORS if (e[0], e[1]) not in LB_STRICTER]


@pytest.mark.skipif(_haproxy() is None, reason="haproxy is not installed")
@pytest.mark.parametrize(("section", "line", "fragment"), HAPROXY_REJECTS)
def test_haproxy_rejects_the_errors_too(
    tmp_path: Path, errorfiles: Path, section: str, line: str, fragment: str
) -> None:
    text, _ = build({section: [line.replace("{E}", str(errorfiles))]})
    cfg = tmp_path / "h.cfg"
    cfg.write_text(text)
    hp = subprocess.run([str(_haproxy()), "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert hp.returncode != 0, hp.stdout + hp.stderr


def test_bad_log_format_is_an_alert_at_check_time(tmp_path: Path) -> None:
    text = (
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n"
        "    timeout server 1s\nfrontend fe\n    bind :80\n    log 127.0.0.1 local0\n"
        '    log-format "%ci %zz"\n    default_backend be\nbackend be\n    server s 127.0.0.1:81\n'
    )
    path = tmp_path / "lb.cfg"
    path.write_text(text)
    result = load_files([str(path)])
    assert not result.ok
    [alert] = result.alerts()
    assert alert.source.line == 6 and "log-format" in alert.message and "zz" in alert.message
