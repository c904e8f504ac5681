"""VRRPv3 over IPv6 between two hosts (network namespaces on one bridge): lb with lb, and lb
with Debian's keepalived either way round. The master holds the IPv6 VIP and advertises to
ff02::12 from its link-local address (RFC 5798); when it stops, the backup takes the VIP
and tells the LAN with an unsolicited neighbour advertisement, so that a third host reaches
the VIP again at once. DAD is off in the namespaces: addresses are usable as soon as added.
"""

from __future__ import annotations

import signal
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from tests.support.netns import Frame, Host
from tests.support.vrrp_nodes import (
    KeepalivedNode,
    LbNode,
    Node,
    Nodes,
    instance,
    keepalived_conf,
    lan_nodes,
    wait_for,
)

VIP6 = "fd00:22::249"
VRID = 61
GROUP6 = "ff02::12"


@pytest.fixture
def nodes6() -> Iterator[Nodes]:
    """Three hosts with IPv6: h1 and h2 run VRRP, h3 is a client of the VIP."""
    with lan_nodes(3, ipv6=True) as made:
        yield made


def _node(nodes: Nodes, kind: str, i: int) -> Node:
    return nodes.lb(i) if kind == "lb" else nodes.keepalived(i)


def _is_master(node: Node) -> bool:
    if isinstance(node, LbNode):
        return node.state() == "MASTER"
    assert isinstance(node, KeepalivedNode)
    states = node.states()
    return bool(states) and states[-1][1] == "MASTER"


def _has(host: Host, address: str) -> bool:
    return any(a.split("/")[0] == address for a in host.addresses())


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _check_advert(f: Frame, source: str, priority: int) -> None:
    """An RFC 5798 advert over IPv6: link-local source, ff02::12, hop limit 255, version 3,
    our VRID and priority, centisecond interval, the VIP, and a valid checksum."""
    ip = f.ip()
    assert ip is not None and f.ethertype == 0x86DD
    src, dst, hops, proto, vrrp = ip
    assert (src, dst, hops, proto) == (source, GROUP6, 255, 112)
    assert f.dst_mac == "33:33:00:00:00:12"  # the group's multicast MAC
    ver_type, vrid, prio, count, interval = struct.unpack_from("!BBBBH", vrrp)
    assert (ver_type, vrid, prio, count) == (0x31, VRID, priority, 1)
    assert interval & 0x0FFF == 10  # advert_int 0.1 s, in centiseconds
    assert vrrp[8:24] == socket.inet_pton(socket.AF_INET6, VIP6)
    pseudo = (
        socket.inet_pton(socket.AF_INET6, src)
        + socket.inet_pton(socket.AF_INET6, dst)
        + struct.pack("!I3xB", len(vrrp), 112)
    )
    assert _checksum(pseudo + vrrp) == 0, "bad VRRP checksum"


def _is_na_for(f: Frame, target: str) -> bool:
    ip = f.ip()
    if ip is None or ip[3] != 58:
        return False
    icmp = ip[4]
    return (
        len(icmp) >= 24
        and icmp[0] == 136
        and icmp[8:24] == socket.inet_pton(socket.AF_INET6, target)
    )


PAIRS = [("lb", "lb"), ("lb", "keepalived"), ("keepalived", "lb")]


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_ipv6_vip_follows_the_master(nodes6: Nodes, first: str, second: str) -> None:
    h1, h2, h3 = nodes6.hosts
    master, backup = _node(nodes6, first, 0), _node(nodes6, second, 1)

    def conf(priority: int) -> str:
        return keepalived_conf(
            instance(priority=priority, vips=[f"{VIP6}/64"], advert_int=0.1, version=3, vrid=VRID)
        )

    adverts = h3.capture("vrrp and inbound")
    master.start(conf(150))
    backup.start(conf(100))
    try:
        wait_for(lambda: _is_master(master) and _has(h1, VIP6), 8, "h1 MASTER with the VIP")
        wait_for(lambda: adverts.frames(), 3, "adverts on the LAN")
        assert not _has(h2, VIP6)
        h3.ping(VIP6)  # the VIP answers from h1 (h3 learns h1's MAC for it)
        time.sleep(0.5)
        frames = adverts.frames()
        sources = {f.ip()[0] for f in frames}  # type: ignore[index]
        assert sources == {h1.link_local()}, "only the master advertises"
        for f in frames[-3:]:
            _check_advert(f, h1.link_local(), 150)
        if isinstance(backup, LbNode):
            view = backup.show()["VI_1"]
            assert view.state == "BACKUP" and view.fields.get("version") == "3"
            assert view.drops == {}, view.drops
            assert view.counter("adverts_received") > 0

        na = h3.capture("icmp6 and inbound")
        master.signal(signal.SIGTERM)  # a priority-0 advert: the backup takes over at once
        wait_for(lambda: _has(h2, VIP6), 3, "h2 takes the IPv6 VIP")
        wait_for(lambda: not _has(h1, VIP6), 3, "h1 gives the VIP up")
        f = na.wait(lambda fr: _is_na_for(fr, VIP6), 3.0)
        assert f.src_mac == h2.mac, "the NA comes from the new master"
        h3.ping(VIP6)  # h3's neighbour entry now points at h2: answered at once
        zero = [
            fr for fr in adverts.frames()
            if fr.ip()[0] == h1.link_local() and fr.ip()[4][2] == 0  # type: ignore[index]
        ]  # fmt: skip
        assert zero, "the stopping master sent no priority-0 advert"
        wait_for(lambda: _is_master(backup), 3, "h2 MASTER")
        new_master = h2.link_local()
        _check_advert(adverts.wait(lambda fr: fr.ip()[0] == new_master), new_master, 100)  # type: ignore[index]
    finally:
        adverts.close()
