"""lb terminating TLS in front of an HTTP backend: SNI, curl, bad handshakes, ssl_fc."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from tests.support.clients import free_port
from tests.support.http_servers import HttpBackend
from tests.support.lbproc import LbProcess
from tests.support.peers import need_command
from tests.tls.conftest import Certs

LOCAL = "127.0.0.1"


def config(lb: LbProcess, frontend: Sequence[str], backends: dict[str, int]) -> str:
    lines = [
        "global",
        f"    stats socket {lb.stats_socket} mode 600 level admin",
        "    hard-stop-after 10s",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 5s",
        "    timeout server 5s",
        "frontend fe",
        *(f"    {x}" for x in frontend),
    ]
    for name, port in backends.items():
        lines += [f"backend {name}", f"    server s_{name} {LOCAL}:{port}"]
    return "\n".join(lines) + "\n"


def client_context(certs: Certs, verify: bool = True) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    if not verify:
        ctx.check_hostname = False
    return ctx


def tls_get(port: int, name: str, ctx: ssl.SSLContext, path: str = "/") -> tuple[str, bytes]:
    """One request over TLS with SNI ``name``: (the peer certificate's CN, the response)."""
    with tls_connect(port, ctx, name) as s:
        der = s.getpeercert(binary_form=True)
        assert der is not None
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return subject_cn(der), data


def tls_connect(port: int, ctx: ssl.SSLContext, name: str | None) -> ssl.SSLSocket:
    raw = socket.create_connection((LOCAL, port), timeout=10)
    try:
        return ctx.wrap_socket(raw, server_hostname=name)
    except BaseException:
        raw.close()
        raise


def subject_cn(der: bytes) -> str:
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253"],
        input=pem, capture_output=True, text=True, check=True, timeout=10,
    )  # fmt: skip
    return out.stdout.strip().removeprefix("subject=").removeprefix("CN=")


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def header(response: bytes, name: str) -> str | None:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


@pytest.fixture
def tls_lb(
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
    certs: Certs,
) -> tuple[LbProcess, int, HttpBackend]:
    backend = http_backend("s1")
    lb = lb_factory(workers=2)
    port = free_port()
    lb.start(
        config(
            lb,
            [f"bind {LOCAL}:{port} ssl crt {certs.a} crt {certs.b}", "default_backend be"],
            {"be": backend.port},
        )
    )
    return lb, port, backend


def test_sni_chooses_the_certificate(
    tls_lb: tuple[LbProcess, int, HttpBackend], certs: Certs
) -> None:
    _lb, port, backend = tls_lb
    for name, expected in (("a.test", "a.test"), ("b.test", "b.test"), ("x.b.test", "b.test")):
        cn, response = tls_get(port, name, client_context(certs))
        assert cn == expected, name
        assert status_of(response) == 200
        assert header(response, "X-Server") == "s1"
    # an unknown name, or none at all, gets the first crt (the default)
    cn, response = tls_get(port, "other.test", client_context(certs, verify=False))
    assert (cn, status_of(response)) == ("a.test", 200)
    assert len(backend.requests()) == 4


def test_curl(tls_lb: tuple[LbProcess, int, HttpBackend], certs: Certs) -> None:
    curl = need_command("curl")
    _lb, port, backend = tls_lb
    for name in ("a.test", "b.test"):
        out = subprocess.run(
            [curl, "-sS", "--cacert", str(certs.ca), "--resolve", f"{name}:{port}:{LOCAL}",
             "-o", "-", "-w", "%{http_code}", f"https://{name}:{port}/hello"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout == "s1 GET /hello\n200"
    assert [r["target"] for r in backend.requests()][-2:] == ["/hello", "/hello"]


def test_bad_handshake_does_not_disturb_others(
    tls_lb: tuple[LbProcess, int, HttpBackend], certs: Certs
) -> None:
    lb, port, _backend = tls_lb
    # a client that sends plain HTTP, one that sends garbage, one that never says anything
    plain = socket.create_connection((LOCAL, port), timeout=10)
    garbage = socket.create_connection((LOCAL, port), timeout=10)
    silent = socket.create_connection((LOCAL, port), timeout=10)
    plain.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
    garbage.sendall(bytes(range(256)) * 4)
    results: list[tuple[str, int]] = []

    def request() -> None:
        cn, response = tls_get(port, "b.test", client_context(certs))
        results.append((cn, status_of(response)))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert results == [("b.test", 200)] * 4
    for s in (plain, garbage):  # closed by lb (possibly after a TLS alert)
        s.settimeout(5)
        while s.recv(4096):
            pass
        s.close()
    # the silent one is still open while a new client is served
    assert tls_get(port, "a.test", client_context(certs))[0] == "a.test"
    silent.close()
    deadline = time.monotonic() + 5
    while "TLS handshake failed" not in lb.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "TLS handshake failed" in lb.stderr()


def test_redirect_to_https_and_ssl_fc_sni_routing(
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
    certs: Certs,
) -> None:
    s1, s2 = http_backend("s1"), http_backend("s2")
    lb = lb_factory(workers=2)
    plain_port, tls_port = free_port(), free_port()
    lb.start(
        config(
            lb,
            [
                f"bind {LOCAL}:{plain_port}",
                f"bind {LOCAL}:{tls_port} ssl crt {certs.a} crt {certs.b} alpn http/1.1",
                "http-request redirect scheme https if !{ ssl_fc }",
                "use_backend be_b if { ssl_fc_sni -m end b.test }",
                "http-response set-header X-Sni %[ssl_fc_sni] if { ssl_fc_sni -m found }",
                "default_backend be_a",
            ],
            {"be_a": s1.port, "be_b": s2.port},
        )
    )
    with socket.create_connection((LOCAL, plain_port), timeout=10) as c:
        c.sendall(b"GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    assert status_of(data) == 302
    assert header(data, "Location") == "https://a.test/x?y=1"
    ctx = client_context(certs)
    _, response = tls_get(tls_port, "a.test", ctx)
    assert (status_of(response), header(response, "X-Server")) == (200, "s1")
    assert header(response, "X-Sni") == "a.test"
    for name in ("b.test", "www.b.test"):
        _, response = tls_get(tls_port, name, ctx)
        assert (status_of(response), header(response, "X-Server")) == (200, "s2")
        assert header(response, "X-Sni") == name
    # no SNI at all: the default certificate, the default backend, no ssl_fc_sni
    raw_ctx = client_context(certs, verify=False)
    with tls_connect(tls_port, raw_ctx, None) as s:
        assert s.selected_alpn_protocol() is None
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert (status_of(data), header(data, "X-Server"), header(data, "X-Sni")) == (200, "s1", None)
    assert len(s1.requests()) == 2 and len(s2.requests()) == 2


def test_alpn_is_negotiated(
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
    certs: Certs,
) -> None:
    backend = http_backend("s1")
    lb = lb_factory(workers=1)
    port = free_port()
    lb.start(
        config(
            lb,
            [f"bind {LOCAL}:{port} ssl crt {certs.a} alpn http/1.1", "default_backend be"],
            {"be": backend.port},
        )
    )
    ctx = client_context(certs)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with tls_connect(port, ctx, "a.test") as s:
        assert s.selected_alpn_protocol() == "http/1.1"
