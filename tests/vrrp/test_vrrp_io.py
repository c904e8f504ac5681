"""The test LAN itself, and VrrpChannel between hosts on it (multicast, unicast, IPv4, IPv6).

Each host runs an agent (tests/support/netns_agent.py) that opens channels inside its
namespace and waits for datagrams with loop.add_reader, as the master does.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest

from tests.support.netns import Agent, AgentError, Host, Lan, netns_list

# Fixtures, imported under their own names so that pytest finds them here.
from tests.support.netns import lan as lan
from tests.support.netns import make_lan as make_lan

PAYLOAD = bytes.fromhex("31c86401") + b"any bytes will do"


def open_channel(agent: Agent, family: int, name: str = "c", **kw: object) -> dict[str, object]:
    return agent.call("channel_open", id=name, ifname="eth1", family=family, **kw)


def received(agent: Agent, name: str = "c", timeout: float = 1.0) -> list[dict[str, object]]:
    return agent.call("channel_recv", id=name, timeout=timeout)


# --------------------------------------------------------------------------- the LAN


def test_lan_hosts_ping_each_other(lan: Lan) -> None:
    a, b = lan.hosts
    assert (a.ip4, b.ip4) == ("192.168.22.11", "192.168.22.12")
    assert (a.ip6, b.ip6) == ("fd00:22::11", "fd00:22::12")
    assert a.mac != b.mac and a.ifname == b.ifname == "eth1"
    for src, dst in ((a, b), (b, a)):
        src.ping(dst.ip4)
        src.ping(dst.ip6)
        src.ping(dst.link_local())
    assert f"{a.ip4}/24" in a.addresses() and f"{a.ip6}/64" in a.addresses()


def test_lan_multicast_crosses_the_bridge(make_lan: Callable[..., Lan]) -> None:
    lan_ = make_lan(hosts=3)
    a, b, c = lan_.hosts
    caps = [h.capture("udp and inbound") for h in (b, c)]
    with a.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth1")
        s.sendto(b"hello group", ("239.1.2.3", 5000))
    for cap in caps:
        f = cap.wait(lambda f: f.ip() is not None and f.ip()[1] == "239.1.2.3")
        assert f.src_mac == a.mac and f.dst_mac == "01:00:5e:01:02:03"
    # IPv6: every node answers an echo to all-nodes, so a reply proves the group reached them.
    cap = a.capture("icmp6 and inbound")
    a.ping("ff02::1")
    repliers = set()
    deadline = time.monotonic() + 2
    while repliers != {b.mac, c.mac} and time.monotonic() < deadline:
        repliers = {f.src_mac for f in cap.frames() if f.ip()[4][:1] == b"\x81"}  # type: ignore[index]
        time.sleep(0.02)
    assert repliers == {b.mac, c.mac}


def test_lan_link_down_and_up(lan: Lan) -> None:
    a, b = lan.hosts
    b.link(False)
    with pytest.raises(TimeoutError):
        a.ping(b.ip4, timeout=0.3)
    b.link(True)
    a.ping(b.ip4)


def test_lan_cleanup_leaves_no_namespace() -> None:
    from tests.support.peers import need_root

    need_root()
    before = set(netns_list())
    with pytest.raises(RuntimeError, match="boom"), Lan(hosts=3) as lan_:
        names = set(lan_.namespaces)
        assert len(names) == 4 and names <= set(netns_list())
        lan_.hosts[0].agent()  # a running process and a capture socket must not pin anything
        lan_.hosts[1].capture("")
        raise RuntimeError("boom")
    assert set(netns_list()) == before
    assert not names & set(netns_list())


def test_ipv4_only_lan(make_lan: Callable[..., Lan]) -> None:
    lan_ = make_lan(hosts=2, ipv6=False, subnet="10.22.0.0/24")
    a, b = lan_.hosts
    assert a.ip6 is None and a.ip4 == "10.22.0.11"
    a.ping(b.ip4)
    assert [x for x in a.addresses() if ":" in x] == []


# --------------------------------------------------------------------------- multicast


@pytest.mark.parametrize("family", [4, 6])
def test_multicast_reaches_peers_not_self(make_lan: Callable[..., Lan], family: int) -> None:
    lan_ = make_lan(hosts=3)
    a, b, c = lan_.hosts
    agents = [h.agent() for h in (a, b, c)]
    info = [open_channel(ag, family) for ag in agents]
    src = a.ip4 if family == 4 else a.link_local()
    group = "224.0.0.18" if family == 4 else "ff02::12"
    assert info[0]["primary_address"] == src
    assert info[0]["destinations"] == [group]
    wire = b.capture("vrrp")
    agents[0].call("channel_send", id="c", payload=PAYLOAD.hex())
    for ag in agents[1:]:
        (got,) = received(ag)
        assert got["payload"] == PAYLOAD.hex()
        assert (got["src"], got["dst"], got["ttl"]) == (src, group, 255)
        assert got["ifindex"] == info[1]["ifindex"]
    # MULTICAST_LOOP off: the sender does not hear itself.
    assert received(agents[0], timeout=0.2) == []
    # On the wire: TTL / hop limit 255, protocol 112, from A's MAC.
    f = wire.wait(lambda f: True)
    assert f.src_mac == a.mac and f.ip()[:4] == (src, group, 255, 112)  # type: ignore[index]


def test_multicast_both_ways_and_repeatedly(lan: Lan) -> None:
    a, b = lan.hosts
    ag_a, ag_b = a.agent(), b.agent()
    open_channel(ag_a, 4)
    open_channel(ag_b, 4)
    for i in range(5):
        ag_a.call("channel_send", id="c", payload=f"a{i}".encode().hex())
        ag_b.call("channel_send", id="c", payload=f"b{i}".encode().hex())
    got_b = [r["payload"] for r in received(ag_b)]
    got_a = [r["payload"] for r in received(ag_a)]
    # Ask again if the first wake-up came before all five arrived.
    got_b += [r["payload"] for r in received(ag_b, timeout=0.1)]
    got_a += [r["payload"] for r in received(ag_a, timeout=0.1)]
    assert got_b == [f"a{i}".encode().hex() for i in range(5)]
    assert got_a == [f"b{i}".encode().hex() for i in range(5)]


# --------------------------------------------------------------------------- unicast


@pytest.mark.parametrize("family", [4, 6])
def test_unicast_to_each_peer_only(make_lan: Callable[..., Lan], family: int) -> None:
    lan_ = make_lan(hosts=4)
    a, b, c, d = lan_.hosts

    def addr(h: Host) -> str:
        return h.ip4 if family == 4 else h.ip6  # type: ignore[return-value]

    ag = {h.name: h.agent() for h in lan_.hosts}
    info = open_channel(ag[a.name], family, "u", unicast_peers=[addr(b), addr(c)])
    assert info["destinations"] == [addr(b), addr(c)]
    for h in (b, c):
        open_channel(ag[h.name], family, "u", unicast_peers=[addr(a)])
    open_channel(ag[d.name], family, "m")  # D listens to the group: it must hear nothing
    ag[a.name].call("channel_send", id="u", payload=PAYLOAD.hex())
    src = a.ip4 if family == 4 else a.link_local()
    for h in (b, c):
        (got,) = received(ag[h.name], "u")
        assert (got["src"], got["dst"], got["ttl"]) == (src, addr(h), 255)
        assert got["payload"] == PAYLOAD.hex()
    assert received(ag[d.name], "m", timeout=0.2) == []
    # send(payload, dst): one destination only (VRRPv3 checksums differ per destination).
    ag[a.name].call("channel_send", id="u", payload="ab", dst=addr(c))
    assert [r["payload"] for r in received(ag[c.name], "u")] == ["ab"]
    assert received(ag[b.name], "u", timeout=0.2) == []


@pytest.mark.parametrize("family", [4, 6])
def test_unicast_src_sets_the_source(lan: Lan, family: int) -> None:
    a, b = lan.hosts
    extra = "192.168.22.111" if family == 4 else "fd00:22::111"
    if family == 4:
        a.run("ip", "addr", "add", f"{extra}/24", "dev", "eth1")
    else:
        a.run("ip", "addr", "add", f"{extra}/64", "dev", "eth1", "nodad")
    ag_a, ag_b = a.agent(), b.agent()
    peer_b = b.ip4 if family == 4 else b.ip6
    info = open_channel(ag_a, family, "u", unicast_src=extra, unicast_peers=[peer_b])
    assert info["primary_address"] == extra
    open_channel(ag_b, family, "u", unicast_peers=[extra])
    ag_a.call("channel_send", id="u", payload=PAYLOAD.hex())
    (got,) = received(ag_b, "u")
    assert (got["src"], got["dst"]) == (extra, peer_b)


def test_unicast_channel_ignores_multicast_adverts(lan: Lan) -> None:
    a, b = lan.hosts
    ag_a, ag_b = a.agent(), b.agent()
    open_channel(ag_a, 4, "m")
    # B has both: its unicast channel must not see the group traffic its other socket joined.
    open_channel(ag_b, 4, "m")
    open_channel(ag_b, 4, "u", unicast_peers=[a.ip4])
    ag_a.call("channel_send", id="m", payload=PAYLOAD.hex())
    assert len(received(ag_b, "m")) == 1
    assert received(ag_b, "u", timeout=0.2) == []


@pytest.mark.parametrize("family", [4, 6])
def test_peer_without_vrrp_is_not_an_error(lan: Lan, family: int) -> None:
    """B runs no VRRP and answers protocol-unreachable: neither send() nor recv() on A may
    raise because of it (a connected raw socket, or one with IP_RECVERR, would)."""
    a, b = lan.hosts
    ag = a.agent()
    peer = b.ip4 if family == 4 else b.ip6
    open_channel(ag, family, "u", unicast_peers=[peer])
    unreach = a.capture("(icmp or icmp6) and inbound")
    for _ in range(3):
        ag.call("channel_send", id="u", payload=PAYLOAD.hex())
        unreach.wait(lambda f: f.ip()[4][:1] in (b"\x03", b"\x04"))  # type: ignore[index]
        assert received(ag, "u", timeout=0.05) == []


# --------------------------------------------------------------------------- errors


def test_channel_errors(lan: Lan) -> None:
    ag = lan.hosts[0].agent()
    with pytest.raises(AgentError) as e:
        ag.call("channel_open", id="x", ifname="nosuch0", family=4)
    assert e.value.kind == "UnknownInterface" and "nosuch0" in e.value.message
    with pytest.raises(AgentError) as e:
        ag.call("channel_open", id="x", ifname="eth1", family=4, unicast_peers=["fd00:22::12"])
    assert e.value.kind == "ValueError" and "fd00:22::12" in e.value.message
    with pytest.raises(AgentError) as e:
        ag.call("channel_open", id="x", ifname="eth1", family=4, unicast_peers=["300.1.1.1"])
    assert e.value.kind == "ValueError" and "300.1.1.1" in e.value.message
    # lo has ::1 but no link-local address to send IPv6 adverts from.
    with pytest.raises(AgentError) as e:
        ag.call("channel_open", id="x", ifname="lo", family=6)
    assert e.value.kind == "OSError" and "lo" in e.value.message and "link-local" in e.value.message
    # Sending from an address the host does not have fails with both addresses named.
    open_channel(ag, 4, "bad", unicast_src="192.168.22.200", unicast_peers=["192.168.22.12"])
    with pytest.raises(AgentError) as e:
        ag.call("channel_send", id="bad", payload="00")
    assert "192.168.22.200" in e.value.message and "192.168.22.12" in e.value.message


def test_received_is_frozen() -> None:
    from lb.vrrp.io import Received

    r = Received(b"x", "1.2.3.4", "224.0.0.18", 255, 2)
    with pytest.raises(AttributeError):
        r.ttl = 1  # type: ignore[misc]
    assert struct.calcsize("@i4s4s") == 12  # in_pktinfo as the channel packs it
