"""Gratuitous ARP and unsolicited NA: the frames themselves, and what a neighbour makes of them.

The neighbour test is the strong one: host B holds a stale cache entry for the VIP pointing
at an old MAC, host A announces, and B's kernel must move the entry to A's MAC. A kernel
drops malformed announcements (bad checksum, hop limit below 255, wrong option), so this
checks every byte that matters.
"""

from __future__ import annotations

import json
import socket
import struct

import pytest

from lb.vrrp.announce import (
    gratuitous_arp_frame,
    send_gratuitous_arp,
    send_unsolicited_na,
    unsolicited_na_frame,
)
from tests.support.netns import AgentError, Frame, Host, Lan

# Fixtures, imported under their own names so that pytest finds them here.
from tests.support.netns import lan as lan

VIP4 = "192.168.22.249"
VIP6 = "fd00:22::249"
OLD_MAC = "02:99:99:99:99:99"
MAC = bytes.fromhex("0222000000aa")


def parse_arp(f: Frame) -> tuple[int, str, str, str, str]:
    """(operation, sender MAC, sender IP, target MAC, target IP)."""
    p = f.payload
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", p)
    assert (htype, ptype, hlen, plen) == (1, 0x0800, 6, 4)
    return (
        op,
        ":".join(f"{x:02x}" for x in p[8:14]),
        socket.inet_ntoa(p[14:18]),
        ":".join(f"{x:02x}" for x in p[18:24]),
        socket.inet_ntoa(p[24:28]),
    )


def parse_na(f: Frame) -> tuple[int, int, str, bytes]:
    """(hop limit, flags, target, option bytes) of a neighbour advertisement."""
    ip = f.ip()
    assert ip is not None and ip[3] == 58
    icmp = ip[4]
    assert icmp[0] == 136 and icmp[1] == 0
    flags = struct.unpack_from("!I", icmp, 4)[0]
    return ip[2], flags, socket.inet_ntop(socket.AF_INET6, icmp[8:24]), icmp[24:]


def neighbour_mac(host: Host, ip: str) -> str | None:
    out = host.run("ip", "-j", "neigh", "show", "dev", host.ifname, "to", ip).stdout
    entries = json.loads(out or "[]")
    return entries[0].get("lladdr") if entries else None


def is_na(f: Frame) -> bool:
    ip = f.ip()
    return ip is not None and ip[3] == 58 and ip[4][:1] == b"\x88"


def inet_sum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


# --------------------------------------------------------------------------- on the LAN


def test_gratuitous_arp_reaches_and_updates_the_neighbour(lan: Lan) -> None:
    a, b = lan.hosts
    a.run("ip", "addr", "add", f"{VIP4}/24", "dev", "eth1")
    b.run("ip", "neigh", "replace", VIP4, "lladdr", OLD_MAC, "dev", "eth1", "nud", "stale")
    cap = b.capture("arp and inbound")
    a.agent().call("garp", ifname="eth1", ipv4=VIP4)
    f = cap.wait(lambda f: parse_arp(f)[2] == VIP4)
    assert (f.dst_mac, f.src_mac, len(f.data)) == ("ff:ff:ff:ff:ff:ff", a.mac, 60)
    assert parse_arp(f) == (1, a.mac, VIP4, "ff:ff:ff:ff:ff:ff", VIP4)
    assert neighbour_mac(b, VIP4) == a.mac


def test_gratuitous_arp_with_a_given_mac(lan: Lan) -> None:
    a, b = lan.hosts
    cap = b.capture("arp")
    a.agent().call("garp", ifname="eth1", ipv4=f"{VIP4}/24", mac="02:AA:bb:cc:dd:ee")
    f = cap.wait(lambda f: True)
    assert f.src_mac == "02:aa:bb:cc:dd:ee"
    assert parse_arp(f)[1:3] == ("02:aa:bb:cc:dd:ee", VIP4)


def test_unsolicited_na_reaches_and_updates_the_neighbour(lan: Lan) -> None:
    a, b = lan.hosts
    a.run("ip", "addr", "add", f"{VIP6}/64", "dev", "eth1", "nodad")
    b.run("ip", "neigh", "replace", VIP6, "lladdr", OLD_MAC, "dev", "eth1", "nud", "stale")
    cap = b.capture("icmp6 and inbound")
    a.agent().call("na", ifname="eth1", ipv6=VIP6)
    f = cap.wait(is_na)
    assert (f.dst_mac, f.src_mac) == ("33:33:00:00:00:01", a.mac)
    src, dst = f.ip()[:2]  # type: ignore[index]
    assert (src, dst) == (VIP6, "ff02::1")
    hops, flags, target, option = parse_na(f)
    assert (hops, target) == (255, VIP6)
    assert flags == 0x20000000  # override only: not solicited, not a router
    assert option == bytes([2, 1]) + bytes.fromhex(a.mac.replace(":", ""))
    assert neighbour_mac(b, VIP6) == a.mac


def test_unsolicited_na_source_and_router_flag(lan: Lan) -> None:
    a, b = lan.hosts
    cap = b.capture("icmp6 and inbound")
    ll = a.link_local()
    a.agent().call("na", ifname="eth1", ipv6=VIP6, source=ll, router=True, mac="02:aa:bb:cc:dd:ee")
    f = cap.wait(is_na)
    assert f.ip()[0] == ll  # type: ignore[index]
    _, flags, _, option = parse_na(f)
    assert flags == 0xA0000000
    assert option[2:] == bytes.fromhex("02aabbccddee")


def test_errors_name_the_interface_and_address(lan: Lan) -> None:
    ag = lan.hosts[0].agent()
    with pytest.raises(AgentError) as e:
        ag.call("garp", ifname="nosuch0", ipv4=VIP4)
    assert e.value.kind == "OSError" and e.value.errno == 19
    assert "nosuch0" in e.value.message and VIP4 in e.value.message
    with pytest.raises(AgentError) as e:
        ag.call("na", ifname="nosuch0", ipv6=VIP6)
    assert "nosuch0" in e.value.message and VIP6 in e.value.message
    with pytest.raises(AgentError) as e:
        ag.call("garp", ifname="eth1", ipv4=VIP4, mac="02:aa")
    assert e.value.kind == "ValueError" and "02:aa" in e.value.message


# --------------------------------------------------------------------------- pure


def test_bad_addresses_are_refused_before_any_socket() -> None:
    with pytest.raises(ValueError, match=r"eth1.*fd00::1"):
        send_gratuitous_arp("eth1", "fd00::1")
    with pytest.raises(ValueError, match=r"eth1.*192\.168\.22\.249"):
        send_unsolicited_na("eth1", VIP4)
    with pytest.raises(ValueError, match=r"eth1.*not-an-ip"):
        send_unsolicited_na("eth1", VIP6, source="not-an-ip")
    with pytest.raises(ValueError, match="zz"):
        send_gratuitous_arp("eth1", VIP4, mac="zz:zz:zz:zz:zz:zz")


def test_arp_frame_layout() -> None:
    frame = gratuitous_arp_frame(VIP4, MAC)
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == MAC and frame[12:14] == b"\x08\x06"
    f = Frame(frame, 0.0, False)
    assert parse_arp(f) == (1, "02:22:00:00:00:aa", VIP4, "ff:ff:ff:ff:ff:ff", VIP4)


def test_na_frame_checksum_and_header() -> None:
    frame = unsolicited_na_frame(VIP6, MAC)
    f = Frame(frame, 0.0, False)
    assert f.ethertype == 0x86DD and f.dst_mac == "33:33:00:00:00:01"
    ipv6 = f.payload
    assert ipv6[0] >> 4 == 6 and ipv6[7] == 255 and ipv6[6] == 58
    icmp = ipv6[40:]
    assert struct.unpack_from("!H", ipv6, 4)[0] == len(icmp) == 32
    # The ICMPv6 checksum over pseudo-header + message sums to 0xffff when correct.
    pseudo = ipv6[8:40] + struct.pack("!I3xB", len(icmp), 58)
    assert inet_sum(pseudo + icmp) == 0xFFFF
