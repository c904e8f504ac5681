"""A backend as a worker sees it: its servers, their addresses, and the balancer."""

from __future__ import annotations

from lb.balance.roundrobin import SmoothRoundRobin
from lb.config.model import Proxy, Server

# HAProxy's defaults when a timeout is not set: connect is effectively unlimited
# there, but an unbounded connect only hides a dead server, so lb warns at load
# time and uses 5 s here.
DEFAULT_CONNECT_TIMEOUT_MS = 5000


class ServerTarget:
    __slots__ = ("address", "backend_name", "cur_conns_index", "family", "index", "name")

    def __init__(
        self,
        index: int,
        backend_name: str,
        server: Server,
        family: int,
        address: tuple[str, int],
        cur_conns_index: int,
    ) -> None:
        self.index = index
        self.backend_name = backend_name
        self.name = server.name
        self.family = family
        self.address = address
        self.cur_conns_index = cur_conns_index

    def __repr__(self) -> str:
        return f"<server {self.backend_name}/{self.name} {self.address}>"


class Backend:
    """Servers and the algorithm that picks among them (roundrobin for now)."""

    __slots__ = (
        "_rr",
        "connect_timeout",
        "name",
        "redispatch",
        "retries",
        "server_timeout",
        "servers",
        "tunnel_timeout",
    )

    def __init__(self, proxy: Proxy, servers: list[ServerTarget]) -> None:
        self.name = proxy.name
        self.servers = servers
        self.retries = proxy.retries
        self.redispatch = proxy.redispatch
        self.server_timeout = proxy.timeouts.server  # ms or None
        self.tunnel_timeout = proxy.timeouts.tunnel  # ms or None
        timeout = proxy.timeouts.connect
        self.connect_timeout = (timeout or DEFAULT_CONNECT_TIMEOUT_MS) / 1000.0
        weights = [0 if s.disabled else s.weight for s in (proxy.servers[t.index] for t in servers)]
        self._rr: SmoothRoundRobin[ServerTarget] = SmoothRoundRobin(servers, weights)

    def pick(self, avoid: ServerTarget | None = None) -> ServerTarget | None:
        """The next server; ``avoid`` is skipped when another one is available (redispatch)."""
        if avoid is not None and len(self.servers) > 1:
            other = self._rr.pick(lambda i: i != avoid.index)
            if other is not None:
                return other
        return self._rr.pick()
