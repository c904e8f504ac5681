"""Listening sockets: one SO_REUSEPORT socket per (bind line, worker slot).

The master opens them and keeps them for the slot's life. Closing a
SO_REUSEPORT socket resets the connections waiting in its backlog, so a socket
is only closed when no generation of workers uses its bind line any more.
"""

from __future__ import annotations

import socket

from lb.config.model import Bind, Config

DEFAULT_BACKLOG = 1024
# <linux/in.h>, <linux/in6.h>: not exported by Python's socket module
IP_FREEBIND = 15
IPV6_FREEBIND = 78  # Linux 4.15; older kernels take IP_FREEBIND on IPv6 sockets too


def socket_for(bind: Bind) -> socket.socket:
    """A bound, listening, non-blocking socket for one bind address."""
    host = bind.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if host == "":
        host = "0.0.0.0"  # HAProxy's ":port" is every IPv4 address
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6 and (bind.v4v6 or bind.v6only):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if bind.v4v6 else 1)
        if bind.freebind:
            _set_freebind(sock, family)
        sock.bind((host, bind.port))
        sock.listen(bind.backlog or DEFAULT_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _set_freebind(sock: socket.socket, family: int) -> None:
    """Let the socket bind an address this host does not hold (yet): a VIP that VRRP
    gives to the peer until it fails. Connections arrive once the address is added."""
    if family == socket.AF_INET6:
        try:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
            return
        except OSError:
            pass
    sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)


class ListenerSet:
    """Every listening socket the master holds, keyed by (bind key, slot)."""

    def __init__(self) -> None:
        self.sockets: dict[tuple[str, int], socket.socket] = {}

    def ensure(self, config: Config, nslots: int) -> list[tuple[str, int]]:
        """Open what ``config`` needs for slots 0..nslots-1; return the keys opened now.

        All or nothing: if one bind fails, the sockets opened by this call are
        closed again and the error propagates (the running generation is untouched).
        """
        opened: list[tuple[str, int]] = []
        try:
            for frontend in config.frontends():
                for bind in frontend.binds:
                    for slot in range(nslots):
                        key = (bind.key(), slot)
                        if key not in self.sockets:
                            self.sockets[key] = socket_for(bind)
                            opened.append(key)
        except OSError:
            for key in opened:
                self.sockets.pop(key).close()
            raise
        return opened

    def fds_for(self, config: Config, slot: int) -> list[tuple[str, str, int]]:
        """(frontend, bind key, fd) for every bind line of ``config``, for one slot."""
        return [
            (frontend.name, bind.key(), self.sockets[(bind.key(), slot)].fileno())
            for frontend in config.frontends()
            for bind in frontend.binds
        ]

    def prune(self, configs: list[tuple[Config, int]]) -> None:
        """Close the sockets that none of the given (config, nslots) pairs uses."""
        wanted = {
            (bind.key(), slot)
            for config, nslots in configs
            for frontend in config.frontends()
            for bind in frontend.binds
            for slot in range(nslots)
        }
        for key in [k for k in self.sockets if k not in wanted]:
            self.sockets.pop(key).close()

    def close_slot(self, slot: int) -> None:
        """Close every socket of one slot: nobody will accept on them, so the kernel must
        stop queueing connections there (those already queued are reset, not left hanging)."""
        for key in [k for k in self.sockets if k[1] == slot]:
            self.sockets.pop(key).close()

    def close_all(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()
