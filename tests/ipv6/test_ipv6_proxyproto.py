"""The PROXY protocol v2 (and v1) carrying IPv6 addresses, between HAProxy and lb both ways:
the client address and port that arrive at the end of the chain are the real client's —
``::1`` for an IPv6 client, ``::ffff:127.0.0.1`` for an IPv4 client of a dual-stack bind.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.ipv6.conftest import (
    LO4,
    LO6,
    HttpBackend6,
    StartProxy,
    Syslog6,
    free_port6,
    open_client,
)
from tests.support.http_servers import header_values

SEND = {1: "send-proxy", 2: "send-proxy-v2"}
CLIENTS = [(LO6, "::1"), (LO4, "::ffff:127.0.0.1")]


def _get(client: str, port: int) -> int:
    with open_client(client, port) as s:
        cport = int(s.getsockname()[1])
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:300]
    return cport


@pytest.mark.parametrize("version", [2, 1])
@pytest.mark.parametrize("front_mode", ["tcp", "http"])
def test_haproxy_in_front_of_lb(
    version: int,
    front_mode: str,
    start_proxy6: StartProxy,
    http_backend6: Callable[..., HttpBackend6],
    syslog6: Syslog6,
) -> None:
    s1 = http_backend6("s1")
    lb_port, front = free_port6(), free_port6()
    start_proxy6(
        "lb",
        mode="http",
        binds=[f"[::1]:{lb_port} accept-proxy"],
        servers=[f"s1 [::1]:{s1.port}"],
        global_lines=[f"log [::1]:{syslog6.port} local0"],
        defaults_lines=["log global", 'log-format "ci=%ci cp=%cp src=%[src]:%[src_port]"'],
        frontend_lines=["option forwardfor"],
    )
    start_proxy6(
        "haproxy",
        mode=front_mode,
        binds=[f":::{front} v4v6"],
        servers=[f"lb [::1]:{lb_port} {SEND[version]}"],
    )
    ports = [_get(client, front) for client, _ in CLIENTS]
    reqs = s1.wait_requests(2)
    assert [header_values(r, "x-forwarded-for") for r in reqs] == [[a] for _, a in CLIENTS]
    lines = sorted(x.split("]: ", 1)[1].strip() for x in syslog6.wait(2))
    want = sorted(f"ci={a} cp={p} src={a}:{p}" for (_, a), p in zip(CLIENTS, ports, strict=True))
    assert lines == want


@pytest.mark.parametrize("version", [2, 1])
@pytest.mark.parametrize("lb_mode", ["tcp", "http"])
def test_lb_in_front_of_haproxy(
    version: int,
    lb_mode: str,
    start_proxy6: StartProxy,
    http_backend6: Callable[..., HttpBackend6],
) -> None:
    s1 = http_backend6("s1")
    hap_port, front = free_port6(), free_port6()
    start_proxy6(
        "haproxy",
        mode="http",
        binds=[f"[::1]:{hap_port} accept-proxy"],
        servers=[f"s1 [::1]:{s1.port}"],
        frontend_lines=["option forwardfor", "http-request set-header X-Port %[src_port]"],
    )
    start_proxy6(
        "lb",
        mode=lb_mode,
        binds=[f":::{front} v4v6"],
        servers=[f"hap [::1]:{hap_port} {SEND[version]}"],
    )
    ports = [_get(client, front) for client, _ in CLIENTS]
    reqs = s1.wait_requests(2)
    got = [(header_values(r, "x-forwarded-for"), header_values(r, "x-port")) for r in reqs]
    assert got == [([a], [str(p)]) for (_, a), p in zip(CLIENTS, ports, strict=True)]
