"""lb speaking TLS to its servers (server … ssl): verification, SNI, pooling, check-ssl."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from tests.support.clients import LOCAL, free_port
from tests.support.http_servers import HttpBackend
from tests.support.lbproc import LbProcess
from tests.tls.conftest import Certs
from tests.tls.tls_servers import TlsServer


@pytest.fixture
def tls_server() -> Iterator[Callable[..., TlsServer]]:
    made: list[TlsServer] = []

    def make(name: str, cert: object, mode: str = "http") -> TlsServer:
        s = TlsServer(name, cert, mode)  # type: ignore[arg-type]
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def config(lb: LbProcess, port: int, servers: Sequence[str], mode: str = "http") -> str:
    lines = [
        "global",
        f"    stats socket {lb.stats_socket} mode 600 level admin",
        "    hard-stop-after 10s",
        "defaults",
        f"    mode {mode}",
        "    timeout connect 2s",
        "    timeout client 5s",
        "    timeout server 5s",
        "    retries 0",
        "frontend fe",
        f"    bind {LOCAL}:{port}",
        "    default_backend be",
        "backend be",
        *(f"    {x}" for x in servers),
    ]
    return "\n".join(lines) + "\n"


def get(port: int, host: str = "x.test", conn: socket.socket | None = None) -> bytes:
    """One request (on ``conn`` when given, kept open); the whole response."""
    own = conn is None
    s = conn or socket.create_connection((LOCAL, port), timeout=10)
    try:
        s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    finally:
        if own:
            s.close()


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> str:
    return response.split(b"\r\n\r\n", 1)[1].decode()


def servers_state(lb: LbProcess) -> dict[str, int]:
    """``show servers state``: server name → srv_op_state (0 down, 2 up)."""
    lines = lb.api("show servers state").splitlines()
    columns = lines[1].lstrip("# ").split()
    out = {}
    for line in lines[2:]:
        if line.strip():
            row = dict(zip(columns, line.split(), strict=True))
            out[row["srv_name"]] = int(row["srv_op_state"])
    return out


def wait_states(lb: LbProcess, expected: dict[str, int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if servers_state(lb) == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"servers {servers_state(lb)}, expected {expected}")


def test_verified_server_with_sni(
    lb_factory: Callable[..., LbProcess], tls_server: Callable[..., TlsServer], certs: Certs
) -> None:
    server = tls_server("s1", certs.a)
    lb = lb_factory(workers=1)
    port = free_port()
    lb.start(
        config(
            lb,
            port,
            [
                f"server s1 {LOCAL}:{server.port} ssl verify required ca-file {certs.ca} "
                "sni str(a.test)"
            ],
        )
    )
    response = get(port)
    assert status_of(response) == 200, response
    assert body_of(response).startswith("s1 sni=a.test ")
    assert server.sni_seen == ["a.test"]


def test_sni_must_match_the_certificate_when_verified(
    lb_factory: Callable[..., LbProcess], tls_server: Callable[..., TlsServer], certs: Certs
) -> None:
    server = tls_server("s1", certs.a)
    lb = lb_factory(workers=1)
    port = free_port()
    lb.start(
        config(
            lb,
            port,
            [
                f"server s1 {LOCAL}:{server.port} ssl verify required ca-file {certs.ca} "
                "sni str(b.test)"
            ],
        )
    )
    assert status_of(get(port)) == 503


def test_sni_from_host_header_and_pools_per_name(
    lb_factory: Callable[..., LbProcess], tls_server: Callable[..., TlsServer], certs: Certs
) -> None:
    server = tls_server("s1", certs.selfsigned)
    lb = lb_factory(workers=1)
    port = free_port()
    lb.start(
        config(
            lb,
            port,
            [
                "http-reuse always",
                f"server s1 {LOCAL}:{server.port} ssl verify none sni req.hdr(host)",
            ],
        )
    )
    with socket.create_connection((LOCAL, port), timeout=10) as c:
        bodies = [body_of(get(port, host, c)) for host in ("one.test:8443", "two.test", "one.test")]
    assert bodies[0].startswith("s1 sni=one.test ")
    assert bodies[1].startswith("s1 sni=two.test ")
    # the third request may reuse the first connection (same SNI), never the second's
    assert bodies[2].startswith("s1 sni=one.test ")
    assert bodies[2] != bodies[1]
    assert "two.test" not in server.sni_seen[:1]


def test_self_signed_server_verify_none_and_required(
    lb_factory: Callable[..., LbProcess], tls_server: Callable[..., TlsServer], certs: Certs
) -> None:
    server = tls_server("s1", certs.selfsigned)
    lb = lb_factory(workers=1)
    port = free_port()
    lb.start(config(lb, port, [f"server s1 {LOCAL}:{server.port} ssl verify none"]))
    response = get(port)
    assert status_of(response) == 200
    assert body_of(response).startswith("s1 sni=- ")  # no sni: none sent
    lb.stop()

    lb = lb_factory(workers=1)
    port = free_port()
    lb.start(
        config(
            lb,
            port,
            [
                f"server s1 {LOCAL}:{server.port} ssl verify required ca-file {certs.ca} "
                "check inter 200"
            ],
        )
    )
    assert status_of(get(port)) == 503
    wait_states(lb, {"s1": 0})
    status = lb.api("show stat")
    assert "L6RSP" in status, status


def test_check_ssl_up_and_plain_server_down(
    lb_factory: Callable[..., LbProcess],
    tls_server: Callable[..., TlsServer],
    http_backend: Callable[..., HttpBackend],
    certs: Certs,
) -> None:
    tls = tls_server("tls", certs.a)
    plain = http_backend("plain")
    lb = lb_factory(workers=1)
    port = free_port()
    opts = f"ssl verify required ca-file {certs.ca} check inter 200 rise 1 fall 1"
    lb.start(
        config(
            lb,
            port,
            [
                "option httpchk GET /",
                f"server tls {LOCAL}:{tls.port} {opts} check-sni a.test",
                f"server plain {LOCAL}:{plain.port} {opts}",
                # TCP check over TLS, the traffic in clear (check-ssl without ssl)
                f"server l6 {LOCAL}:{tls.port} check inter 200 rise 1 check-ssl verify none",
            ],
        )
    )
    wait_states(lb, {"tls": 2, "plain": 0, "l6": 2})
    assert "a.test" in tls.sni_seen
    assert status_of(get(port)) == 200


def test_tcp_mode_tls_to_server_round_trip(
    lb_factory: Callable[..., LbProcess], tls_server: Callable[..., TlsServer], certs: Certs
) -> None:
    server = tls_server("echo", certs.a, mode="echo")
    lb = lb_factory(workers=1)
    port = free_port()
    lb.start(
        config(
            lb,
            port,
            [
                f"server s1 {LOCAL}:{server.port} ssl verify required ca-file {certs.ca} "
                "sni str(a.test)"
            ],
            mode="tcp",
        )
    )
    payload = bytes(range(256)) * 4096  # 1 MiB
    with socket.create_connection((LOCAL, port), timeout=10) as c:
        received = bytearray()
        view = memoryview(payload)
        sent = 0
        c.setblocking(False)
        deadline = time.monotonic() + 20
        while len(received) < len(payload) and time.monotonic() < deadline:
            if sent < len(payload):
                try:
                    sent += c.send(view[sent : sent + 65536])
                except BlockingIOError:
                    pass
            try:
                chunk = c.recv(65536)
                if not chunk:
                    break
                received += chunk
            except BlockingIOError:
                time.sleep(0.001)
    assert bytes(received) == payload
    assert server.sni_seen == ["a.test"]
