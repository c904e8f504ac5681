"""IPv6 bind lines, in mode http and mode tcp, against HAProxy and lb side by side.

Each form is tried with an IPv4 client (127.0.0.1) and an IPv6 client (::1): the one the
bind accepts must reach the IPv6 server and get its answer, the other must be refused.
HAProxy 2.6 decides what each form means (``bind ipv6@:PORT`` is every IPv6 address, not
every IPv4 one; ``v4v6``/``v6only`` set IPV6_V6ONLY on a ``::`` socket).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lb.config.addresses import Address, parse_address
from tests.ipv6.conftest import (
    LO4,
    LO6,
    Backend6,
    HttpBackend6,
    StartProxy,
    free_port6,
    http_get,
    open_client,
)
from tests.support.clients import recv_line

# (bind line with {p} for the port, an IPv4 client gets through, an IPv6 client does)
BINDS = [
    ("[::1]:{p}", False, True),
    ("ipv6@::1:{p}", False, True),
    (":::{p} v4v6", True, True),
    (":::{p} v6only", False, True),
    ("ipv6@:{p} v4v6", True, True),
    ("ipv6@:{p} v6only", False, True),
    ("[::]:{p} v6only", False, True),
    ("*:{p}", True, False),
    ("ipv4@:{p}", True, False),
    ("127.0.0.1:{p},[::1]:{p}", True, True),
]
IDS = [b[0].replace("{p}", "P") for b in BINDS]


@pytest.mark.parametrize(("line", "v4_ok", "v6_ok"), BINDS, ids=IDS)
def test_http_bind_forms(
    proxy_kind: str,
    start_proxy6: StartProxy,
    http_backend6: Callable[..., HttpBackend6],
    line: str,
    v4_ok: bool,
    v6_ok: bool,
) -> None:
    s1 = http_backend6("s1")
    port = free_port6()
    proxy = start_proxy6(
        proxy_kind,
        mode="http",
        binds=[line.format(p=port)],
        servers=[f"s1 [::1]:{s1.port}"],
        frontend_lines=["option forwardfor"],
    )
    seen = []
    for client, ok in ((LO4, v4_ok), (LO6, v6_ok)):
        if not ok:
            with pytest.raises(ConnectionRefusedError):
                http_get(client, port)
            continue
        reply = http_get(client, port, f"/{client}")
        assert reply.status == 200, (client, proxy.stderr())
        assert reply.headers["x-server"] == "s1"
        seen.append(client)
    reqs = s1.wait_requests(len(seen))
    assert [r["target"] for r in reqs] == [f"/{c}" for c in seen]
    for r in reqs:  # lb connected to the server over IPv6
        opened = [e for e in s1.events("open") if e["conn"] == r["conn"]]
        assert opened[0]["peer"].startswith("::1:")


@pytest.mark.parametrize(("line", "v4_ok", "v6_ok"), BINDS, ids=IDS)
def test_tcp_bind_forms(
    proxy_kind: str,
    start_proxy6: StartProxy,
    backend6: Callable[..., Backend6],
    line: str,
    v4_ok: bool,
    v6_ok: bool,
) -> None:
    hello = backend6("hello", "s1")
    port = free_port6()
    start_proxy6(
        proxy_kind, mode="tcp", binds=[line.format(p=port)], servers=[f"s1 [::1]:{hello.port}"]
    )
    through = 0
    for client, ok in ((LO4, v4_ok), (LO6, v6_ok)):
        if not ok:
            with pytest.raises(ConnectionRefusedError):
                open_client(client, port).close()
            continue
        with open_client(client, port) as s:
            assert recv_line(s) == b"s1\n"
            s.sendall(client.encode() + b"\n")
            assert recv_line(s) == client.encode() + b"\n"
        through += 1
    closes = hello.wait_closes(through)
    assert len(closes) == through
    assert all(e["peer"].startswith("::1:") for e in hello.opens())


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("ipv6@:80", Address("::", 80)),
        ("ipv6@*:80", Address("::", 80)),
        ("tcp6@:80", Address("::", 80)),
        ("ipv4@:80", Address("", 80)),
        (":80", Address("", 80)),
        (":::80", Address("::", 80)),
        ("ipv6@::1:80", Address("::1", 80)),
        ("[::ffff:127.0.0.1]:80", Address("::ffff:127.0.0.1", 80)),
    ],
)
def test_bind_addresses_parse_as_haproxy(text: str, address: Address) -> None:
    assert parse_address(text) == address
