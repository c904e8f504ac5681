"""TLS termination on a mode tcp frontend: the clear bytes go to the server and back."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.backends import Backend
from tests.support.clients import LOCAL, free_port
from tests.support.lbproc import LbProcess
from tests.tls.conftest import Certs
from tests.tls.tls_servers import TlsServer


def config(
    lb: LbProcess, port: int, certs: Certs, frontend: list[str], backends: dict[str, int]
) -> str:
    lines = [
        "global",
        f"    stats socket {lb.stats_socket} mode 600 level admin",
        "    hard-stop-after 10s",
        "defaults",
        "    mode tcp",
        "    timeout connect 2s",
        "    timeout client 5s",
        "    timeout server 5s",
        "frontend fe",
        f"    bind {LOCAL}:{port} ssl crt {certs.a} crt {certs.b}",
        *(f"    {x}" for x in frontend),
    ]
    for name, p in backends.items():
        lines += [f"backend {name}", f"    server s_{name} {LOCAL}:{p}"]
    return "\n".join(lines) + "\n"


def tls_client(port: int, certs: Certs, name: str) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    raw = socket.create_connection((LOCAL, port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=name)


def test_one_megabyte_both_ways(
    lb_factory: Callable[..., LbProcess], backend: Callable[..., Backend], certs: Certs
) -> None:
    echo = backend("echo", name="echo")
    lb = lb_factory(workers=1)
    port = free_port()
    lb.start(config(lb, port, certs, ["default_backend be"], {"be": echo.port}))
    payload = bytes(range(256)) * 4096  # 1 MiB
    received = bytearray()
    with tls_client(port, certs, "a.test") as c:
        for off in range(0, len(payload), 16384):
            chunk = payload[off : off + 16384]
            c.sendall(chunk)
            want = off + len(chunk)
            while len(received) < want:
                data = c.recv(65536)
                assert data, "closed early"
                received += data
    assert bytes(received) == payload


def test_ssl_fc_sni_routes_in_tcp_mode(
    lb_factory: Callable[..., LbProcess], backend: Callable[..., Backend], certs: Certs
) -> None:
    a, b = backend("hello", name="ha"), backend("hello", name="hb")
    lb = lb_factory(workers=1)
    port = free_port()
    frontend = ["use_backend be_b if { ssl_fc_sni -m end b.test }", "default_backend be_a"]
    lb.start(config(lb, port, certs, frontend, {"be_a": a.port, "be_b": b.port}))
    for name, expected in (("a.test", "ha"), ("x.b.test", "hb")):
        with tls_client(port, certs, name) as c:
            line = b""
            while not line.endswith(b"\n"):
                data = c.recv(100)
                assert data
                line += data
            assert line.decode().strip() == expected


def peer_names(c: ssl.SSLSocket) -> list[str]:
    cert = c.getpeercert()
    assert cert is not None
    return [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]


def test_certificate_reload_keeps_open_connections(
    lb_factory: Callable[..., LbProcess],
    backend: Callable[..., Backend],
    certs: Certs,
    tmp_path: Path,
) -> None:
    echo = backend("echo", name="echo")
    crt = tmp_path / "site.pem"
    crt.write_text(certs.a.read_text())
    lb = lb_factory(workers=1)
    port = free_port()
    lines = config(lb, port, certs, ["default_backend be"], {"be": echo.port}).splitlines()
    lines = [f"    bind {LOCAL}:{port} ssl crt {crt}" if "bind" in x else x for x in lines]
    lb.start("\n".join(lines) + "\n")
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    ctx.check_hostname = False  # the test looks at the names itself
    before = ctx.wrap_socket(socket.create_connection((LOCAL, port), timeout=10))
    assert peer_names(before) == ["a.test"]
    before.sendall(b"first\n")
    assert before.recv(100) == b"first\n"

    crt.write_text(certs.b.read_text())  # the new certificate, then the reload
    lb.reload()
    after = ctx.wrap_socket(socket.create_connection((LOCAL, port), timeout=10))
    assert peer_names(after) == ["b.test", "*.b.test"]
    after.close()
    # the connection opened before the reload still works, through the old worker
    payload = b"x" * 200_000
    before.sendall(payload)
    got = b""
    while len(got) < len(payload):
        data = before.recv(65536)
        assert data, "the old connection was cut"
        got += data
    assert got == payload
    before.close()


def metric(text: str, name: str, proxy: str) -> int:
    for line in text.splitlines():
        if line.startswith(f'{name}{{proxy="{proxy}"'):
            return int(float(line.rsplit(" ", 1)[1]))
    raise AssertionError(f"no {name} for {proxy} in the metrics")


def test_handshakes_counted_per_frontend(
    lb_factory: Callable[..., LbProcess], backend: Callable[..., Backend], certs: Certs
) -> None:
    echo = backend("echo", name="echo")
    lb = lb_factory(workers=2)
    port, metrics_port = free_port(), free_port()
    text = config(lb, port, certs, ["default_backend be"], {"be": echo.port})
    text += (
        f"frontend metrics\n    mode http\n    bind {LOCAL}:{metrics_port}\n"
        "    http-request use-service prometheus-exporter\n"
    )
    lb.start(text)
    for _ in range(3):
        with tls_client(port, certs, "a.test") as c:
            c.sendall(b"x")
            assert c.recv(10) == b"x"
    for _ in range(2):  # not TLS: a failed handshake each
        with socket.create_connection((LOCAL, port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while s.recv(4096):
                pass
    deadline = time.monotonic() + 5
    while True:
        with socket.create_connection((LOCAL, metrics_port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        body = data.decode()
        counts = (
            metric(body, "lb_frontend_ssl_handshakes_total", "fe"),
            metric(body, "lb_frontend_ssl_failed_handshakes_total", "fe"),
        )
        if counts == (3, 2) or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # (workers publish their counters every quarter second)
    assert counts == (3, 2)
    assert metric(body, "lb_frontend_ssl_handshakes_total", "metrics") == 0


def test_tls_on_both_sides(lb_factory: Callable[..., LbProcess], certs: Certs) -> None:
    server = TlsServer("echo", certs.b, mode="echo")
    try:
        lb = lb_factory(workers=1)
        port = free_port()
        text = config(lb, port, certs, ["default_backend be"], {"be": server.port})
        text = text.replace(
            f"server s_be {LOCAL}:{server.port}",
            f"server s_be {LOCAL}:{server.port} ssl verify required ca-file {certs.ca} "
            "sni ssl_fc_sni",
        )
        lb.start(text)
        payload = bytes(range(256)) * 1024
        with tls_client(port, certs, "x.b.test") as c:
            got = bytearray()
            for off in range(0, len(payload), 16384):
                c.sendall(payload[off : off + 16384])
                while len(got) < off + 16384:
                    data = c.recv(65536)
                    assert data
                    got += data
        assert bytes(got) == payload
        assert server.sni_seen == ["x.b.test"]  # the client's SNI, passed on
    finally:
        server.stop()
