"""IPv6 servers: the three ways HAProxy writes one (``[::1]:P``, ``ipv6@::1:P``, ``::1:P``) in
mode http and mode tcp, and ``balance source`` with IPv6 clients (several client addresses
in a namespace of the test's own), lb's choices compared with HAProxy's client for client.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from tests.ipv6.conftest import (
    LO4,
    LO6,
    NS_ADDRESSES,
    Backend6,
    HttpBackend6,
    Netns,
    StartProxy,
    free_port6,
    http_get,
    open_client,
)
from tests.support.clients import recv_line

FORMS = ("[::1]:{p}", "ipv6@::1:{p}", "::1:{p}")


def test_http_to_ipv6_servers(
    start_proxy6: StartProxy, http_backend6: Callable[..., HttpBackend6]
) -> None:
    backends = [http_backend6(f"s{i}") for i in range(1, 4)]
    servers = [f"{b.name} {form.format(p=b.port)}" for b, form in zip(backends, FORMS, strict=True)]
    port = free_port6()
    proxy = start_proxy6("lb", mode="http", binds=[f"[::1]:{port}"], servers=servers)
    answered = Counter(http_get(LO6, port, f"/r{i}").headers.get("x-server") for i in range(6))
    assert answered == {"s1": 2, "s2": 2, "s3": 2}, proxy.stderr()
    for b in backends:
        assert len(b.wait_requests(2)) == 2
        assert all(e["peer"].startswith("::1:") for e in b.events("open"))
    # the runtime API shows the addresses as written by HAProxy (inet_ntop's text)
    state = proxy.api("show servers state")
    addrs = {ln.split()[3]: ln.split()[4] for ln in state.splitlines()[2:] if ln.strip()}
    assert addrs == {"s1": "::1", "s2": "::1", "s3": "::1"}, state


def test_tcp_to_ipv6_servers(start_proxy6: StartProxy, backend6: Callable[..., Backend6]) -> None:
    backends = [backend6("hello", f"s{i}") for i in range(1, 4)]
    servers = [f"{b.name} {form.format(p=b.port)}" for b, form in zip(backends, FORMS, strict=True)]
    port = free_port6()
    proxy = start_proxy6("lb", mode="tcp", binds=[f"127.0.0.1:{port}"], servers=servers)
    names = Counter()
    for i in range(6):
        with open_client(LO4, port) as s:
            name = recv_line(s).decode().strip()
            s.sendall(b"ping %d\n" % i)
            assert recv_line(s) == b"ping %d\n" % i, proxy.stderr()
            names[name] += 1
    assert names == {"s1": 2, "s2": 2, "s3": 2}
    for b in backends:
        assert len(b.wait_closes(2)) == 2
        assert all(e["peer"].startswith("::1:") for e in b.opens())


def test_balance_source_with_ipv6_clients(
    netns: Netns, start_proxy6: StartProxy, backend6: Callable[..., Backend6]
) -> None:
    """Each client address keeps its server; IPv6 clients spread over the servers; an IPv4
    client hashes the same whether it comes through a dual-stack bind (as ::ffff:a.b.c.d)
    or an IPv4 one."""
    hellos = [backend6("hello", f"s{i}", prefix=netns.prefix()) for i in range(1, 5)]
    dual, v4 = free_port6(), free_port6()
    start_proxy6(
        "lb",
        netns=netns,
        mode="tcp",
        binds=[f":::{dual} v4v6", f"0.0.0.0:{v4}"],
        servers=[f"{b.name} [::1]:{b.port}" for b in hellos],
        backend_lines=["balance source"],
    )

    def server_for(source: str, port: int) -> str:
        seen = set()
        for _ in range(3):
            with open_client(LO6 if ":" in source else LO4, port, source=source, netns=netns) as s:
                seen.add(recv_line(s).decode().strip())
        assert len(seen) == 1, f"{source} went to {seen}"
        return seen.pop()

    picks = {source: server_for(source, dual) for source in ("::1", *NS_ADDRESSES)}
    v6 = {picks[k] for k in picks if ":" in k}
    assert len(v6) >= 2, f"every IPv6 client on one server: {picks}"
    for source in (a for a in NS_ADDRESSES if ":" not in a):
        assert server_for(source, v4) == picks[source], source
    served = sum(len(b.opens()) for b in hellos)
    assert served == 3 * (len(picks) + 2)


@pytest.mark.parametrize("mode", ["http", "tcp"])
def test_ipv4_and_ipv6_servers_in_one_backend(
    mode: str,
    start_proxy6: StartProxy,
    backend6: Callable[..., Backend6],
    http_backend6: Callable[..., HttpBackend6],
) -> None:
    """IPv6 and IPv4 clients reach an IPv4 server and an IPv6 one through one backend."""
    if mode == "http":
        b6, b4 = http_backend6("six"), http_backend6("four", host=LO4)
    else:
        b6, b4 = backend6("hello", "six"), backend6("hello", "four", host=LO4)
    port = free_port6()
    start_proxy6(
        "lb",
        mode=mode,
        binds=[f":::{port} v4v6"],
        servers=[f"six [::1]:{b6.port}", f"four 127.0.0.1:{b4.port}"],
    )
    got = []
    for client in (LO6, LO4, LO6, LO4):
        if mode == "http":
            got.append(http_get(client, port).headers["x-server"])
        else:
            with open_client(client, port) as s:
                got.append(recv_line(s).decode().strip())
    assert sorted(got) == ["four", "four", "six", "six"]
