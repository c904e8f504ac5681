"""Raw IP-protocol-112 sockets: VRRP adverts by multicast or unicast, TTL seen on receive.

One :class:`VrrpChannel` per (interface, address family, unicast settings). It is
non-blocking: the master registers ``fileno()`` with ``loop.add_reader`` and calls
:meth:`VrrpChannel.recv` until it returns None.

The payload is the VRRP packet itself; the kernel writes the IP header. Checksums are the
codec's job: VRRPv3's covers a pseudo-header with the source and destination addresses, so
an instance with several unicast peers encodes one packet per entry of ``destinations``
(source ``primary_address``) and sends each with ``send(packet, dst)``.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from lb.vrrp.vips import UnknownInterface, VipManager

VRRP_PROTO = 112
VRRP_GROUP4 = "224.0.0.18"
VRRP_GROUP6 = "ff02::12"
VRRP_TTL = 255

# Linux values the socket module of Python 3.11 does not export.
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
_IPV6_MULTICAST_ALL = getattr(socket, "IPV6_MULTICAST_ALL", 29)
_IPV6_TCLASS = getattr(socket, "IPV6_TCLASS", 67)
# IP precedence "internetwork control", as keepalived and routing protocols mark adverts.
_TOS_INTERNETCONTROL = 0xC0

_IN_PKTINFO = struct.Struct("@i4s4s")  # ipi_ifindex, ipi_spec_dst, ipi_addr
_IN6_PKTINFO = struct.Struct("@16sI")  # ipi6_addr, ipi6_ifindex
_CMSG_SPACE = socket.CMSG_SPACE(_IN6_PKTINFO.size) + socket.CMSG_SPACE(4) + 64
_BUFSIZE = 65535

# ICMP errors about earlier adverts (a unicast peer that runs no VRRP answers "protocol
# unreachable"). Linux reports them to a raw socket only if it is connected or has IP_RECVERR,
# and this one is neither; should one surface anyway it describes the past, not the datagram
# being read, so recv() skips it.
_ICMP_REPORTS = frozenset(
    {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.EPROTO}
)


@dataclass(frozen=True, slots=True)
class Received:
    payload: bytes  # the VRRP packet (IP header removed)
    src: str
    dst: str
    ttl: int  # IPv4 TTL or IPv6 hop limit; RFC 5798 drops adverts unless it is 255
    ifindex: int


def _family_name(family: int) -> str:
    return {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6"}.get(family, str(family))


def _check_address(address: str, family: int, what: str, ifname: str) -> str:
    """The address in canonical text form; ValueError if malformed or of the wrong family."""
    try:
        parsed = ipaddress.ip_address(address.split("%")[0].strip())
    except ValueError:
        raise ValueError(f"{ifname}: bad {what} {address!r}") from None
    want = 4 if family == socket.AF_INET else 6
    if parsed.version != want:
        raise ValueError(f"{ifname}: {what} {address} is not an {_family_name(family)} address")
    return str(parsed)


class VrrpChannel:
    """A raw VRRP socket on one interface and address family.

    Multicast (224.0.0.18 / ff02::12) unless ``unicast_peers`` is given, in which case each
    advert goes to every peer and no group is joined. The source address is ``unicast_src``
    if given (keepalived uses it for multicast too), else the interface's primary address:
    for IPv6 its link-local address (RFC 5798 §5.1.2.1), looked up once, here.
    """

    def __init__(
        self,
        ifname: str,
        family: int,
        *,
        unicast_src: str | None = None,
        unicast_peers: Sequence[str] = (),
        vips: VipManager | None = None,
    ) -> None:
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise ValueError(f"{ifname}: family {family} is neither AF_INET nor AF_INET6")
        self.ifname = ifname
        self.family = family
        try:
            self.ifindex = socket.if_nametoindex(ifname)
        except OSError:
            raise UnknownInterface(
                errno.ENODEV, f"no interface named {ifname!r} (opening a VRRP socket)"
            ) from None
        peers = tuple(_check_address(p, family, "unicast peer", ifname) for p in unicast_peers)
        self.unicast = bool(peers)
        self.group = VRRP_GROUP4 if family == socket.AF_INET else VRRP_GROUP6
        self.destinations: tuple[str, ...] = peers or (self.group,)
        if unicast_src is not None:
            self.primary_address = _check_address(unicast_src, family, "unicast_src", ifname)
        else:
            self.primary_address = self._lookup_primary(vips)
        self._src = socket.inet_pton(family, self.primary_address)
        try:
            # Needs CAP_NET_RAW: say so in the message rather than a bare EPERM.
            self._sock = socket.socket(family, socket.SOCK_RAW, VRRP_PROTO)
        except OSError as exc:
            raise OSError(
                exc.errno, f"{ifname}: cannot open a raw VRRP socket (CAP_NET_RAW?): {exc}"
            ) from None
        try:
            self._sock.setblocking(False)
            self._setup()
        except OSError as exc:
            self._sock.close()
            raise OSError(exc.errno, f"{ifname}: setting up the VRRP socket: {exc}") from None

    def _lookup_primary(self, vips: VipManager | None) -> str:
        owned = vips is None
        mgr = VipManager() if vips is None else vips
        try:
            found = mgr.primary(self.ifname, self.family)
        finally:
            if owned:
                mgr.close()
        if found is None:
            kind = "IPv6 link-local" if self.family == socket.AF_INET6 else "IPv4"
            raise OSError(
                errno.EADDRNOTAVAIL,
                f"{self.ifname} has no {kind} address to send VRRP adverts from",
            )
        return found

    def _setup(self) -> None:
        s, idx = self._sock, self.ifindex
        # Receive only what arrives on our interface, and send out of it.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.ifname.encode())
        if self.family == socket.AF_INET:
            ip = socket.IPPROTO_IP
            # Only groups this socket joined: a unicast channel must not see multicast adverts
            # joined by another channel on the same interface (Linux default is "all").
            s.setsockopt(ip, _IP_MULTICAST_ALL, 0)
            s.setsockopt(ip, socket.IP_MULTICAST_IF, struct.pack("@4s4si", bytes(4), bytes(4), idx))
            s.setsockopt(ip, socket.IP_MULTICAST_TTL, VRRP_TTL)
            s.setsockopt(ip, socket.IP_TTL, VRRP_TTL)
            s.setsockopt(ip, socket.IP_MULTICAST_LOOP, 0)
            s.setsockopt(ip, socket.IP_TOS, _TOS_INTERNETCONTROL)
            s.setsockopt(ip, _IP_PKTINFO, 1)  # ifindex (and dst) of each datagram
            if not self.unicast:
                mreqn = struct.pack("@4s4si", socket.inet_aton(self.group), bytes(4), idx)
                s.setsockopt(ip, socket.IP_ADD_MEMBERSHIP, mreqn)
        else:
            ip6 = socket.IPPROTO_IPV6
            try:
                s.setsockopt(ip6, _IPV6_MULTICAST_ALL, 0)
            except OSError:
                pass  # kernels before 4.20 lack it; membership filtering is then per interface
            s.setsockopt(ip6, socket.IPV6_MULTICAST_IF, idx)
            s.setsockopt(ip6, socket.IPV6_MULTICAST_HOPS, VRRP_TTL)
            s.setsockopt(ip6, socket.IPV6_UNICAST_HOPS, VRRP_TTL)
            s.setsockopt(ip6, socket.IPV6_MULTICAST_LOOP, 0)
            s.setsockopt(ip6, _IPV6_TCLASS, _TOS_INTERNETCONTROL)
            s.setsockopt(ip6, socket.IPV6_RECVHOPLIMIT, 1)
            s.setsockopt(ip6, socket.IPV6_RECVPKTINFO, 1)
            if not self.unicast:
                mreq = struct.pack("@16sI", socket.inet_pton(socket.AF_INET6, self.group), idx)
                s.setsockopt(ip6, socket.IPV6_JOIN_GROUP, mreq)

    def __repr__(self) -> str:
        mode = f"unicast to {', '.join(self.destinations)}" if self.unicast else self.group
        return f"VrrpChannel({self.ifname}, {self.primary_address} → {mode})"

    def fileno(self) -> int:
        return self._sock.fileno()

    # -- sending

    def send(self, payload: bytes, dst: str | None = None) -> None:
        """Send payload to dst, or to every destination (the group, or each unicast peer).

        The source address is ``primary_address``, set per datagram with IP(V6)_PKTINFO, so
        the socket stays unbound and still receives adverts sent to the group.
        """
        for d in self.destinations if dst is None else (dst,):
            self._send_one(payload, d)

    def _send_one(self, payload: bytes, dst: str) -> None:
        if self.family == socket.AF_INET:
            info = _IN_PKTINFO.pack(self.ifindex, self._src, bytes(4))
            cmsg = [(socket.IPPROTO_IP, _IP_PKTINFO, info)]
            addr: tuple[str, int] | tuple[str, int, int, int] = (dst, 0)
        else:
            info = _IN6_PKTINFO.pack(self._src, self.ifindex)
            cmsg = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, info)]
            scoped = ipaddress.IPv6Address(dst.split("%")[0])
            scope = self.ifindex if scoped.is_link_local or scoped.is_multicast else 0
            addr = (str(scoped), 0, 0, scope)
        try:
            self._sock.sendmsg([payload], cmsg, 0, addr)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"{self.ifname}: sending VRRP from {self.primary_address} to {dst}: {exc.strerror}",
            ) from None

    # -- receiving

    def recv(self) -> Received | None:
        """One received datagram, or None when nothing is waiting (EAGAIN).

        Malformed or truncated datagrams are skipped, as are the ICMP error reports the
        kernel hands to raw sockets.
        """
        while True:
            try:
                data, anc, flags, addr = self._sock.recvmsg(_BUFSIZE, _CMSG_SPACE)
            except BlockingIOError:
                return None
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno in _ICMP_REPORTS:
                    continue
                raise
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                continue
            if self.family == socket.AF_INET:
                got = self._parse4(data, anc)
            else:
                got = self._parse6(data, anc, addr)
            if got is not None:
                return got

    def _parse4(self, data: bytes, anc: list[tuple[int, int, bytes]]) -> Received | None:
        # An IPv4 raw socket returns the whole IP packet, header included.
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        ihl = (data[0] & 0x0F) * 4
        total = struct.unpack_from("!H", data, 2)[0]
        if ihl < 20 or total > len(data) or total < ihl or data[9] != VRRP_PROTO:
            return None
        ifindex = self.ifindex
        for level, kind, value in anc:
            if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(value) >= 12:
                ifindex = _IN_PKTINFO.unpack_from(value)[0]
        return Received(
            payload=data[ihl:total],
            src=socket.inet_ntop(socket.AF_INET, data[12:16]),
            dst=socket.inet_ntop(socket.AF_INET, data[16:20]),
            ttl=data[8],
            ifindex=ifindex,
        )

    def _parse6(
        self, data: bytes, anc: list[tuple[int, int, bytes]], addr: tuple[str, ...]
    ) -> Received | None:
        # An IPv6 raw socket returns the payload only: hop limit and dst come as ancillary data.
        ttl, dst, ifindex = -1, "", self.ifindex
        for level, kind, value in anc:
            if level != socket.IPPROTO_IPV6:
                continue
            if kind == socket.IPV6_HOPLIMIT and len(value) >= 4:
                ttl = struct.unpack_from("@i", value)[0]
            elif kind == socket.IPV6_PKTINFO and len(value) >= _IN6_PKTINFO.size:
                raw, ifindex = _IN6_PKTINFO.unpack_from(value)
                dst = socket.inet_ntop(socket.AF_INET6, raw)
        if ttl < 0 or not dst:
            return None
        # Python appends "%ifname" to a link-local source: the scope is ifindex already.
        src = str(addr[0]).split("%")[0]
        return Received(payload=data, src=src, dst=dst, ttl=ttl, ifindex=ifindex)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> VrrpChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
