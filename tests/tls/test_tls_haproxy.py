"""Interoperation with Debian's HAProxy: it verifies lb's certificate as a TLS client, and
lb verifies HAProxy's as a TLS client, SNI included, in one chain:

    client → haproxy (plain) → TLS → lb (bind ssl) → TLS → haproxy (bind ssl, answers SNI)
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.clients import LOCAL, free_port
from tests.support.lbproc import LbProcess
from tests.support.peers import need_command
from tests.tls.conftest import Certs


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[Callable[[str], None]]:
    binary = need_command("haproxy")
    procs: list[subprocess.Popen[bytes]] = []

    def start(config: str) -> None:
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(config)
        log = open(tmp_path / "haproxy.log", "wb")  # noqa: SIM115 - the child keeps it
        procs.append(subprocess.Popen([binary, "-db", "-f", str(cfg)], stdout=log, stderr=log))
        log.close()

    yield start
    for p in procs:
        p.kill()  # by pid: this test's process only
        p.wait(10)


ANSWER = "sni=%[ssl_fc_sni] host=%[req.hdr(host)]"  # what HAProxy's TLS frontend says


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((LOCAL, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def test_chain_through_haproxy_both_ways(
    lb_factory: Callable[..., LbProcess], haproxy: Callable[[str], None], certs: Certs
) -> None:
    front, back, lb_port = free_port(), free_port(), free_port()
    haproxy(
        f"""global
    ssl-server-verify required
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend plain
    bind {LOCAL}:{front}
    default_backend to_lb
backend to_lb
    server lb {LOCAL}:{lb_port} ssl verify required ca-file {certs.ca} sni str(a.test)
frontend tls
    bind {LOCAL}:{back} ssl crt {certs.b}
    http-request return status 200 content-type text/plain lf-string "{ANSWER}"
"""
    )
    lb = lb_factory(workers=1)
    lb.start(
        f"""global
    stats socket {lb.stats_socket} mode 600 level admin
    hard-stop-after 10s
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind {LOCAL}:{lb_port} ssl crt {certs.a}
    http-response set-header X-Lb-Sni %[ssl_fc_sni]
    default_backend be
backend be
    server hx {LOCAL}:{back} ssl verify required ca-file {certs.ca} sni req.hdr(host)
"""
    )
    wait_port(front)
    wait_port(back)
    with socket.create_connection((LOCAL, front), timeout=10) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x.b.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data
    assert b"x-lb-sni: a.test" in data.lower()
    assert data.endswith(b"sni=x.b.test host=x.b.test"), data
