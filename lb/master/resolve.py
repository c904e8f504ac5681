"""Server addresses resolved once per configuration, by the master.

Workers must never block on DNS, and after a chroot they could not resolve at
all; so the master resolves every server when it loads a configuration and
hands the numeric addresses over. A name that does not resolve fails the load
(or the reload, leaving the running generation alone), as in HAProxy.
"""

from __future__ import annotations

import socket

from lb.config.model import Config


class ResolveError(Exception):
    pass


def resolve_servers(config: Config) -> dict[str, tuple[int, str, int]]:
    """``"backend/server"`` → (family, numeric host, port)."""
    out: dict[str, tuple[int, str, int]] = {}
    for proxy in config.proxies:
        if not proxy.has_backend:
            continue
        for server in proxy.servers:
            try:
                infos = socket.getaddrinfo(
                    server.host, server.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
            except (socket.gaierror, UnicodeError) as exc:
                raise ResolveError(
                    f"{server.source}: cannot resolve address '{server.host}' of server "
                    f"'{proxy.name}/{server.name}': {exc}"
                ) from exc
            family, _type, _proto, _canon, sockaddr = infos[0]
            out[f"{proxy.name}/{server.name}"] = (int(family), sockaddr[0], server.port)
    return out
