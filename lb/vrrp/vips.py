"""Virtual addresses added and removed with pyroute2, idempotently.

pyroute2 0.9's synchronous ``IPRoute`` drives a private asyncio loop with
``run_until_complete``: called from code that runs inside the master's event loop it fails
("This event loop is already running" / "Cannot run the event loop while another loop is
running"). Its netlink socket and loop are also per thread. So every pyroute2 call here runs
on one dedicated thread that owns the ``IPRoute``; callers (loop callbacks included) block
on a future for the few hundred microseconds a netlink round trip takes.

That thread is started by the constructor and inherits the constructor's network namespace.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

T = TypeVar("T")

IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40

# rtnetlink scope numbers, under the names iproute2 and keepalived use.
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}

IpInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


class UnknownInterface(OSError):
    """No interface of that name in this network namespace (errno ENODEV)."""


def parse_address(address: str, ifname: str = "") -> IpInterface:
    """ "192.168.22.249/24" → an interface address; no prefix means /32 or /128."""
    try:
        return ipaddress.ip_interface(address.strip())
    except ValueError as exc:
        where = f" on {ifname}" if ifname else ""
        raise ValueError(f"bad address {address!r}{where}: {exc}") from None


def _scope(scope: str | int, ifname: str, address: str) -> int:
    if isinstance(scope, int):
        value = scope
    elif scope.strip().isdigit():
        value = int(scope)
    elif scope.strip().lower() in SCOPES:
        value = SCOPES[scope.strip().lower()]
    else:
        raise ValueError(f"bad scope {scope!r} for {address} on {ifname}")
    if not 0 <= value <= 255:
        raise ValueError(f"bad scope {scope!r} for {address} on {ifname}")
    return value


def _broadcast(brd: str, iface: IpInterface, ifname: str) -> str:
    # "+" and "-" as in iproute2: host bits all ones / all zeros.
    if brd == "+":
        return str(iface.network.broadcast_address)
    if brd == "-":
        return str(iface.network.network_address)
    try:
        return str(ipaddress.IPv4Address(brd))
    except ValueError:
        raise ValueError(f"bad broadcast {brd!r} for {iface} on {ifname}") from None


def _local(msg: Any) -> str | None:
    # IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point
    # links, and the only attribute for most IPv6 addresses.
    return msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")


def _flags(msg: Any) -> int:
    # IFA_FLAGS (32 bits) supersedes the 8-bit header field when the kernel sends it.
    extended = msg.get_attr("IFA_FLAGS")
    return int(extended) if extended is not None else int(msg["flags"])


def _netlink_oserror(exc: NetlinkError, what: str) -> OSError:
    code = exc.code or errno.EIO
    return OSError(code, f"{what}: {os.strerror(code)}")


class VipManager:
    """Adds, removes and queries interface addresses; one per master (one netlink socket)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lb-rtnl")
        try:
            # Created on the pool's thread: pyroute2 binds its socket and loop to that thread.
            self._ipr: IPRoute = self._pool.submit(IPRoute).result()
        except BaseException:
            self._pool.shutdown(wait=True)
            raise
        self._closed = False

    def _call(self, fn: Callable[[IPRoute], T]) -> T:
        if self._closed:
            raise ValueError("VipManager is closed")
        return self._pool.submit(fn, self._ipr).result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._pool.submit(self._ipr.close).result()
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> VipManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- links

    def ifindex(self, ifname: str, *, doing: str = "") -> int:
        """The interface's index; UnknownInterface (an OSError, ENODEV) if there is none.

        ``doing`` ("adding 192.168.22.249/24") goes into the error message.
        """
        # if_nametoindex is one ioctl; pyroute2's link_lookup dumps every link. Both see
        # the master's network namespace (the netlink thread was started in it).
        try:
            return socket.if_nametoindex(ifname)
        except OSError:
            context = f" ({doing})" if doing else ""
            raise UnknownInterface(
                errno.ENODEV, f"no interface named {ifname!r}{context}"
            ) from None

    def mac(self, ifname: str) -> str:
        idx = self.ifindex(ifname)
        links = self._call(lambda ipr: ipr.link("get", index=idx))
        mac = links[0].get_attr("IFLA_ADDRESS") if links else None
        if not mac:
            raise OSError(errno.EADDRNOTAVAIL, f"interface {ifname!r} has no link-layer address")
        return str(mac)

    # -- addresses

    def _dump(self, idx: int, family: int) -> list[Any]:
        def dump(ipr: IPRoute) -> list[Any]:
            return [m for m in ipr.addr("dump", family=family) if m["index"] == idx]

        return self._call(dump)

    def _find(self, idx: int, iface: IpInterface) -> Any | None:
        family = socket.AF_INET if iface.version == 4 else socket.AF_INET6
        for msg in self._dump(idx, family):
            local = _local(msg)
            if local is None or ipaddress.ip_address(local) != iface.ip:
                continue
            # IPv4 allows one address under several prefix lengths (they are distinct
            # entries); IPv6 keys an address by the address alone.
            if iface.version == 6 or msg["prefixlen"] == iface.network.prefixlen:
                return msg
        return None

    def addresses(self, ifname: str) -> list[str]:
        """Every address on the interface, "address/prefixlen", IPv4 first."""
        idx = self.ifindex(ifname)
        out = []
        for family in (socket.AF_INET, socket.AF_INET6):
            out += [f"{_local(m)}/{m['prefixlen']}" for m in self._dump(idx, family)]
        return out

    def present(self, ifname: str, address: str) -> bool:
        iface = parse_address(address, ifname)
        idx = self.ifindex(ifname, doing=f"looking for {address}")
        return self._find(idx, iface) is not None

    def add(
        self,
        ifname: str,
        address: str,
        *,
        label: str | None = None,
        scope: str | int | None = None,
        brd: str | None = None,
    ) -> bool:
        """Add address to ifname: True if added now, False if it was already there.

        IPv6 addresses are added with IFA_F_NODAD: a VIP must be usable at once, and DAD
        against the peer that just held it would fail. ``label`` (IPv4 only: the kernel has
        no IPv6 labels, and keepalived ignores it there too) must fit IFNAMSIZ.
        """
        iface = parse_address(address, ifname)
        kw: dict[str, Any] = {
            "address": str(iface.ip),
            "prefixlen": iface.network.prefixlen,
        }
        if iface.version == 4:
            if label is not None:
                if not 0 < len(label) <= 15:
                    raise ValueError(f"bad label {label!r} for {address} on {ifname}")
                kw["label"] = label
            if brd is not None:
                kw["broadcast"] = _broadcast(brd, iface, ifname)
        else:
            if brd is not None:
                raise ValueError(f"broadcast {brd!r} given for IPv6 address {address}")
            kw["flags"] = IFA_F_NODAD
        if scope is not None:
            kw["scope"] = _scope(scope, ifname, address)
        idx = self.ifindex(ifname, doing=f"adding {address}")
        # No look before the add: on the failover path every millisecond counts, and the
        # kernel's EEXIST already says "it was there".
        try:
            self._call(lambda ipr: ipr.addr("add", index=idx, **kw))
        except NetlinkError as exc:
            if exc.code == errno.EEXIST:  # added by someone else in between
                return False
            raise _netlink_oserror(exc, f"cannot add {address} to {ifname}") from None
        return True

    def remove(self, ifname: str, address: str) -> bool:
        """Remove address from ifname: True if removed now, False if it was absent."""
        iface = parse_address(address, ifname)
        idx = self.ifindex(ifname, doing=f"removing {address}")
        msg = self._find(idx, iface)
        if msg is None:
            return False
        prefixlen = msg["prefixlen"]
        try:
            self._call(
                lambda ipr: ipr.addr("del", index=idx, address=str(iface.ip), prefixlen=prefixlen)
            )
        except NetlinkError as exc:
            if exc.code == errno.EADDRNOTAVAIL:  # removed by someone else in between
                return False
            raise _netlink_oserror(exc, f"cannot remove {address} from {ifname}") from None
        return True

    def primary(self, ifname: str, family: int) -> str | None:
        """The address adverts are sent from, or None.

        IPv4: the first primary (not IFA_F_SECONDARY) address of global scope in the
        kernel's order (which is the order they were added in, within a scope; host- and
        link-scoped addresses are listed first, hence the scope test), else the first primary.
        IPv6: the link-local address (RFC 5798 §5.1.2.1), preferring one that has finished
        DAD over a tentative one.
        """
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise ValueError(f"family {family}: AF_INET or AF_INET6")
        msgs = self._dump(self.ifindex(ifname, doing="looking up its primary address"), family)
        if family == socket.AF_INET:
            primaries = [m for m in msgs if not _flags(m) & IFA_F_SECONDARY and _local(m)]
            for m in primaries:
                if m["scope"] == 0:
                    return str(_local(m))
            return str(_local(primaries[0])) if primaries else None
        usable = None
        for m in msgs:
            local = _local(m)
            if local is None or not ipaddress.IPv6Address(local).is_link_local:
                continue
            if not _flags(m) & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
                return str(ipaddress.IPv6Address(local))
            usable = usable or str(ipaddress.IPv6Address(local))
        return usable
