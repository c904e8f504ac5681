"""accept-proxy, send-proxy, send-proxy-v2 in the configuration; the health check's header."""

from __future__ import annotations

import socket
from pathlib import Path

from lb.config import LoadResult, load_files
from lb.master.health.spec import HttpProbe, Target, haproxy_check
from lb.worker.proxy_protocol import build_v2

CFG = """\
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:8080 accept-proxy name edge
    bind 127.0.0.1:8081
    default_backend be
backend be
    option httpchk GET /chk
    default-server send-proxy
    server v1 127.0.0.1:81 check
    server v2 127.0.0.1:82 send-proxy-v2 check
    server off 127.0.0.1:83 no-send-proxy check
    server port 127.0.0.1:84 send-proxy-v2 check port 9000
    server plain 127.0.0.1:85 no-send-proxy send-proxy-v2 no-send-proxy-v2
"""


def load(tmp_path: Path, text: str) -> LoadResult:
    path = tmp_path / "lb.cfg"
    path.write_text(text)
    return load_files([str(path)], environ={})


def test_options_reach_the_model(tmp_path: Path) -> None:
    result = load(tmp_path, CFG)
    assert result.config is not None, [d.message for d in result.diagnostics]
    assert not [d for d in result.diagnostics if d.level in ("ALERT", "WARNING")]
    fe = next(p for p in result.config.proxies if p.name == "fe")
    assert [(b.port, b.accept_proxy, b.name) for b in fe.binds] == [
        (8080, True, "edge"),
        (8081, False, ""),
    ]
    be = next(p for p in result.config.proxies if p.name == "be")
    flags = {s.name: (s.send_proxy, s.send_proxy_v2) for s in be.servers}
    assert flags == {
        "v1": (True, False),
        "v2": (True, True),
        "off": (False, False),
        "port": (True, True),
        "plain": (False, False),
    }


def test_check_send_proxy_is_still_not_supported(tmp_path: Path) -> None:
    text = CFG.replace("server v1 127.0.0.1:81 check", "server v1 127.0.0.1:81 check-send-proxy")
    result = load(tmp_path, text)
    assert any("check-send-proxy" in d.message for d in result.diagnostics)


def test_http_checks_carry_a_header_unless_sent_elsewhere(tmp_path: Path) -> None:
    result = load(tmp_path, CFG)
    assert result.config is not None
    be = next(p for p in result.config.proxies if p.name == "be")
    requests = {}
    for server in be.servers:
        spec = haproxy_check(be, server, Target(socket.AF_INET, server.host, server.port))
        if spec is not None:
            (probe,) = spec.probes
            assert isinstance(probe, HttpProbe)
            requests[server.name] = probe.request
    assert requests["v1"].startswith(b"PROXY UNKNOWN\r\nGET /chk HTTP/1.0\r\n")
    assert requests["v2"].startswith(build_v2(None, None, local=True) + b"GET /chk ")
    assert requests["off"].startswith(b"GET /chk ")
    assert requests["port"].startswith(b"GET /chk ")  # "port": HAProxy sends none either
