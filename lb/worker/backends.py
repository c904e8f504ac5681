"""A backend as a worker sees it: its servers, their addresses, and the balancer."""

from __future__ import annotations

from lb._native import SharedCounters
from lb.balance.roundrobin import smooth_sequence
from lb.config.model import Proxy, Server

# HAProxy's defaults when a timeout is not set: connect is effectively unlimited
# there, but an unbounded connect only hides a dead server, so lb warns at load
# time and uses 5 s here.
DEFAULT_CONNECT_TIMEOUT_MS = 5000


class ServerTarget:
    __slots__ = (
        "address",
        "backend_name",
        "cur_conns_index",
        "family",
        "index",
        "maxconn",
        "name",
    )

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
        self.maxconn = server.maxconn  # 0 = no limit; otherwise counted daemon-wide

    def __repr__(self) -> str:
        return f"<server {self.backend_name}/{self.name} {self.address}>"


class Backend:
    """Servers and the algorithm that picks among them (roundrobin for now).

    The round robin position is one atomic counter in shared memory for the
    whole daemon; each worker reads the same precomputed smooth weighted cycle
    at that position, so the order is global, not per worker.
    """

    __slots__ = (
        "_counters",
        "_cycle",
        "_position_index",
        "connect_timeout",
        "name",
        "queue_timeout",
        "redispatch",
        "retries",
        "server_timeout",
        "servers",
        "tunnel_timeout",
    )

    def __init__(
        self,
        proxy: Proxy,
        servers: list[ServerTarget],
        counters: SharedCounters,
        position_index: int,
    ) -> None:
        self.name = proxy.name
        self.servers = servers
        self.retries = proxy.retries
        self.redispatch = proxy.redispatch
        self.server_timeout = proxy.timeouts.server  # ms or None
        self.tunnel_timeout = proxy.timeouts.tunnel  # ms or None
        timeout = proxy.timeouts.connect
        self.connect_timeout = (timeout or DEFAULT_CONNECT_TIMEOUT_MS) / 1000.0
        # HAProxy: timeout queue defaults to timeout connect
        queue = proxy.timeouts.queue
        self.queue_timeout = queue / 1000.0 if queue is not None else self.connect_timeout
        weights = [
            0 if proxy.servers[t.index].disabled else proxy.servers[t.index].weight for t in servers
        ]
        self._cycle = [servers[i] for i in smooth_sequence(weights)]
        self._counters = counters
        self._position_index = position_index

    def pick(self, avoid: ServerTarget | None = None) -> ServerTarget | None:
        """The next server with a free slot, its slot taken (release it with ``release``).

        ``avoid`` is skipped when another server can take the connection (redispatch).
        Servers whose ``maxconn`` is reached daemon-wide are passed over, as HAProxy
        does; None means every server is full (queue) or none is usable.
        """
        cycle = self._cycle
        if not cycle:
            return None
        counters = self._counters
        length = len(cycle)
        position = counters.add(self._position_index, 1) - 1
        fallback = None
        for step in range(length):
            target = cycle[(position + step) % length]
            if target is avoid and fallback is None:
                fallback = target
                continue
            if target is avoid:
                continue
            if counters.try_acquire(target.cur_conns_index, target.maxconn):
                return target
        if fallback is not None and counters.try_acquire(
            fallback.cur_conns_index, fallback.maxconn
        ):
            return fallback  # the only server there is
        return None

    def release(self, target: ServerTarget) -> None:
        self._counters.release(target.cur_conns_index)

    @property
    def limited(self) -> bool:
        """Whether a full backend queues (some server has a maxconn) rather than refuses."""
        return any(t.maxconn for t in self.servers)
