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
    """Each client address keeps its server, and it is the server HAProxy picks for it with
    the same configuration (map-based: the XOR of the address's 32-bit words modulo the
    total weight). An IPv4 client through the dual-stack bind is ::ffff:a.b.c.d there, which
    HAProxy hashes as an IPv6 address, unlike the same client through an IPv4 bind."""
    hellos = [backend6("hello", f"s{i}", prefix=netns.prefix()) for i in range(1, 5)]
    clients = ("::1", *NS_ADDRESSES)

    def picks_of(kind: str) -> tuple[dict[str, str], dict[str, str]]:
        dual, v4 = free_port6(), free_port6()
        start_proxy6(
            kind,
            netns=netns,
            mode="tcp",
            binds=[f":::{dual} v4v6", f"0.0.0.0:{v4}"],
            servers=[
                f"{b.name} [::1]:{b.port} weight {w}"
                for b, w in zip(hellos, (1, 2, 3, 1), strict=True)
            ],
            backend_lines=["balance source"],
        )

        def server_for(source: str, port: int) -> str:
            seen = set()
            for _ in range(3):
                host = LO6 if ":" in source else LO4
                with open_client(host, port, source=source, netns=netns) as s:
                    seen.add(recv_line(s).decode().strip())
            assert len(seen) == 1, f"{kind}: {source} went to {seen}"
            return seen.pop()

        through_dual = {source: server_for(source, dual) for source in clients}
        through_v4 = {a: server_for(a, v4) for a in NS_ADDRESSES if ":" not in a}
        return through_dual, through_v4

    hap_dual, hap_v4 = picks_of("haproxy")
    lb_dual, lb_v4 = picks_of("lb")
    assert len({hap_dual[k] for k in hap_dual if ":" in k}) >= 2, hap_dual
    assert lb_dual == hap_dual
    assert lb_v4 == hap_v4
    served = sum(len(b.opens()) for b in hellos)
    assert served == 2 * 3 * (len(clients) + len(hap_v4))


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
