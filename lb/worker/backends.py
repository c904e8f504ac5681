"""A backend as a worker sees it: its servers, their addresses, their state, and the balancer.

Server state (up, down, drain, maintenance, effective weight) comes from the
shared state table the master's health checker writes. Each pick loads one
slot, the table's version; only when it moved does the worker read the
servers' state words and rebuild what depends on them. So a check result
reaches every worker at its next pick, and a pick costs one load otherwise.

Two ways to pick:

- roundrobin and static-rr: one precomputed weighted cycle, read at a position
  that is one atomic counter in shared memory for the whole daemon, so the
  order holds across workers (4 servers, 5 connections: s1 s2 s3 s4 s1 whichever
  workers accept them). Every worker builds the same cycle from the same state;
- every other algorithm: ``lb.balance`` (``make_balancer``) over ``ServerView``s
  whose ``cur_conns`` reads the daemon-wide connection count at pick time, so
  leastconn balances what all workers hold.

Either way, backup servers take traffic only when no primary is usable (the
first one, or all with ``option allbackups``), a draining server gets no new
traffic, and a server at its ``maxconn`` is passed over (None when all are: the
caller queues).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

from lb._native import SharedCounters
from lb.balance import KeySpec, PickKey, ServerView, TieredBalancer, make_balancer
from lb.balance.interleave import weighted_order
from lb.balance.roundrobin import smooth_sequence
from lb.config.model import Proxy, Server
from lb.stats.server_state import word_eweight, word_persistent_ok, word_usable, word_written
from lb.worker.tls_client import ServerTls

# HAProxy's defaults when a timeout is not set: connect is effectively unlimited
# there, but an unbounded connect only hides a dead server, so lb warns at load
# time and uses 5 s here.
DEFAULT_CONNECT_TIMEOUT_MS = 5000

# Beyond this many steps (servers times cycle length) the smooth weighted cycle
# costs too much to rebuild at each weight change (slowstart ramps): the
# interleaved order, O(L log L), takes over. Same shares, slightly burstier.
_SMOOTH_CYCLE_WORK = 200_000

# Algorithms that walk one precomputed cycle with a daemon-wide position, so that the
# order holds across workers; keepalived's rr (every server once) and wrr (by weight) too.
_CYCLIC = ("roundrobin", "static-rr", "lvs:rr", "lvs:wrr")


class ServerTarget:
    __slots__ = (
        "address",
        "backend_name",
        "backup",
        "cookie",
        "cur_conns_index",
        "eweight",
        "family",
        "id",
        "index",
        "maxconn",
        "maxqueue",
        "name",
        "persist_ok",
        "queue_index",
        "send_proxy",
        "state_index",
        "tls",
        "usable",
        "weight",
    )

    def __init__(
        self,
        index: int,
        backend_name: str,
        server: Server,
        family: int,
        address: tuple[str, int],
        cur_conns_index: int,
        state_index: int | None = None,
        queue_index: int = -1,
    ) -> None:
        self.index = index
        self.backend_name = backend_name
        self.name = server.name
        self.id = server.id or index + 1
        self.family = family
        self.address = address
        self.cur_conns_index = cur_conns_index
        self.state_index = state_index  # the state word in the shared table; None = no table
        self.maxconn = server.maxconn  # 0 = no limit; otherwise counted daemon-wide
        # maxqueue: requests that stick to this server (a persistence cookie) and find it
        # full may wait for it, this many daemon-wide (0 = no limit); past that they are
        # balanced to another server, as HAProxy redispatches them
        self.maxqueue = server.maxqueue
        self.queue_index = queue_index  # the shared count of those waiting (-1: none)
        self.weight = server.weight  # configured (static-rr keeps it)
        self.backup = server.backup
        self.cookie = server.cookie  # value of the persistence cookie naming this server
        # PROXY protocol version written first on each connection to it (0: none)
        self.send_proxy = 2 if server.send_proxy_v2 else 1 if server.send_proxy else 0
        # server … ssl: contexts and SNI (lb.worker.tls_client), set by the worker at boot
        self.tls: ServerTls | None = None
        # From the state table (the configuration until the master has written it):
        self.usable = not server.disabled  # takes new traffic
        self.persist_ok = not server.disabled  # takes traffic that sticks to it (cookie)
        self.eweight = server.weight  # effective weight

    def __repr__(self) -> str:
        return f"<server {self.backend_name}/{self.name} {self.address}>"


class _LiveView(ServerView):
    """A ServerView whose ``cur_conns`` is the daemon-wide count, read when asked."""

    __slots__ = ("_gauge", "_gauges")

    def __init__(self, target: ServerTarget, gauges: Sequence[int]) -> None:
        super().__init__(
            index=target.index,
            name=target.name,
            weight=target.eweight,
            usable=target.usable,
            backup=target.backup,
            maxconn=target.maxconn,
        )
        self._gauges = gauges
        self._gauge = target.cur_conns_index

    @property  # type: ignore[override]
    def cur_conns(self) -> int:
        return self._gauges[self._gauge]

    @cur_conns.setter
    def cur_conns(self, value: int) -> None:
        pass  # always read from shared memory


class Backend:
    """Servers and the algorithm that picks among them."""

    __slots__ = (
        "_allbackups",
        "_balancer",
        "_counters",
        "_cycle",
        "_cyclic",
        "_eligible",
        "_gauges",
        "_position_index",
        "_seen_version",
        "_static",
        "_unweighted",
        "_version_index",
        "_views",
        "algorithm",
        "by_cookie",
        "connect_timeout",
        "key_spec",
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
        *,
        gauges: Sequence[int] | None = None,
        state_version_index: int | None = None,
    ) -> None:
        """``gauges``: the shared region as 8-byte slots (a ``memoryview`` cast to "q"),
        for the reads of a pick; ``state_version_index``: the state table's version slot
        (None: no table, the configuration alone decides)."""
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
        self.by_cookie = {t.cookie: t for t in servers if t.cookie is not None}
        self._counters = counters
        self._position_index = position_index
        # Aligned 8-byte reads from the mapping are whole on every platform lb runs
        # on; they cost a tenth of an atomic load through the native helper.
        self._gauges: Sequence[int] = gauges if gauges is not None else _CounterReads(counters)
        self._version_index = state_version_index
        self._seen_version = -1
        self._allbackups = proxy.allbackups
        self.algorithm = proxy.balance
        name = proxy.balance.split("(", 1)[0].lower()
        self._cyclic = name in _CYCLIC
        self._static = name == "static-rr"
        self._unweighted = name == "lvs:rr"  # LVS rr ignores weights (but not weight 0)
        self._cycle: list[ServerTarget] = []
        self._eligible: list[ServerTarget] = []
        self._views = [_LiveView(t, self._gauges) for t in servers]
        self._balancer: TieredBalancer | None = None
        if self._cyclic:
            self.key_spec = KeySpec()
        else:
            self._balancer = make_balancer(
                proxy.balance,
                proxy.balance_args,
                proxy.hash_type,
                self._views,
                allbackups=proxy.allbackups,
            )
            self.key_spec = self._balancer.key_spec
        self._rebuild()

    # ------------------------------------------------------------------ state

    def refresh(self) -> None:
        """Follow the state table: one load, and a rebuild when it changed."""
        index = self._version_index
        if index is None:
            return
        version = self._gauges[index]
        if version != self._seen_version:
            self._seen_version = version
            self._load_states()
            self._rebuild()

    def _load_states(self) -> None:
        gauges = self._gauges
        for t in self.servers:
            if t.state_index is None:
                continue
            word = gauges[t.state_index]
            if not word_written(word):
                continue  # not published yet: the configuration holds
            t.usable = word_usable(word)
            t.persist_ok = word_persistent_ok(word)
            t.eweight = word_eweight(word)

    def _rebuild(self) -> None:
        """The servers new traffic may go to, in the tier in use, and the cycle over them."""
        if self._unweighted:
            weight_of: Callable[[ServerTarget], int] = lambda t: 1 if t.eweight > 0 else 0  # noqa: E731
        else:
            weight_of = (lambda t: t.weight) if self._static else (lambda t: t.eweight)
        live = [t for t in self.servers if t.usable and t.eweight > 0 and weight_of(t) > 0]
        tier = [t for t in live if not t.backup]
        if not tier:
            backups = [t for t in live if t.backup]
            tier = backups if self._allbackups else backups[:1]
        self._eligible = tier
        if self._cyclic:
            self._cycle = [tier[i] for i in _weighted_cycle([weight_of(t) for t in tier])]
        else:
            for view, t in zip(self._views, self.servers, strict=True):
                view.weight, view.usable = t.eweight, t.usable
            assert self._balancer is not None
            self._balancer.update(self._views)

    # ------------------------------------------------------------------ picking

    def pick(
        self, avoid: ServerTarget | None = None, key: PickKey | None = None
    ) -> ServerTarget | None:
        """The next server with a free slot, its slot taken (release it with ``release``).

        ``avoid`` is skipped when another server can take the connection (redispatch).
        ``key`` carries what a hashing algorithm hashes (``key_spec`` says which field);
        without it they fall back to round robin. Servers whose ``maxconn`` is reached
        daemon-wide are passed over, as HAProxy does; None means every server is full
        (queue) or none is usable.
        """
        index = self._version_index
        if index is not None and self._gauges[index] != self._seen_version:
            self.refresh()
        if self._cyclic:
            return self._pick_cycle(avoid)
        return self._pick_balanced(avoid, key)

    def _pick_cycle(self, avoid: ServerTarget | None) -> ServerTarget | None:
        cycle = self._cycle
        if not cycle:
            return None
        counters = self._counters
        length = len(cycle)
        position = counters.add(self._position_index, 1) - 1
        fallback = None
        for step in range(length):
            target = cycle[(position + step) % length]
            if target is avoid:
                fallback = target
                continue
            if counters.try_acquire(target.cur_conns_index, target.maxconn):
                return target
        if fallback is not None and counters.try_acquire(
            fallback.cur_conns_index, fallback.maxconn
        ):
            return fallback  # the only server there is
        return None

    def _pick_balanced(
        self, avoid: ServerTarget | None, key: PickKey | None
    ) -> ServerTarget | None:
        assert self._balancer is not None
        index = self._balancer.pick(key, avoid.index if avoid is not None else None)
        if index is None:
            return None
        chosen = self.servers[index]
        counters = self._counters
        if counters.try_acquire(chosen.cur_conns_index, chosen.maxconn):
            return chosen
        # Full: the next eligible server with a free slot (affinity gives way to service).
        eligible = self._eligible
        start = eligible.index(chosen) if chosen in eligible else -1
        count = len(eligible)
        for step in range(1, count + 1):
            target = eligible[(start + step) % count]
            if target is chosen or (target is avoid and count > 1):
                continue
            if counters.try_acquire(target.cur_conns_index, target.maxconn):
                return target
        return None

    def release(self, target: ServerTarget) -> None:
        self._counters.release(target.cur_conns_index)

    def acquire(self, target: ServerTarget) -> bool:
        """Take a slot on ``target`` for traffic that sticks to it (a persistence cookie).

        False when it is down or in maintenance (pick another one: HAProxy redispatches
        then) or at its maxconn. Drain and weight 0 still take such traffic.
        """
        self.refresh()
        if not target.persist_ok:
            return False
        return self._counters.try_acquire(target.cur_conns_index, target.maxconn)

    def address_key(self, client_addr: object, sock: socket.socket | None = None) -> PickKey | None:
        """The key for ``source``/``destination`` hashing of a connection; None otherwise.

        ``client_addr`` is what accept() returned; ``sock`` the accepted socket (for the
        destination address, read only when the algorithm wants it).
        """
        field = self.key_spec.field
        if field == "source":
            return PickKey(source=_packed(client_addr))
        if field == "destination" and sock is not None:
            try:
                return PickKey(destination=_packed(sock.getsockname()))
            except OSError:
                return None
        return None

    @property
    def limited(self) -> bool:
        """Whether a full backend queues (some server has a maxconn) rather than refuses."""
        return any(t.maxconn for t in self.servers)

    @property
    def eligible(self) -> list[ServerTarget]:
        """The servers new traffic may go to now (after the last refresh)."""
        return list(self._eligible)


class _CounterReads:
    """``gauges[i]`` through the counters' atomic loads, when no mapping view is given."""

    __slots__ = ("_counters",)

    def __init__(self, counters: SharedCounters) -> None:
        self._counters = counters

    def __getitem__(self, index: int) -> int:
        return self._counters.load(index)

    def __len__(self) -> int:
        return self._counters.size


def _packed(addr: object) -> bytes | None:
    if not isinstance(addr, tuple) or not addr:
        return None
    host = addr[0]
    if not isinstance(host, str):
        return None
    try:
        if ":" in host:
            # All 16 bytes, even for ::ffff:a.b.c.d (an IPv4 client on a dual-stack socket):
            # HAProxy hashes the AF_INET6 address accept() gave, so such a client does not
            # hash like the same client on an IPv4 socket; matching HAProxy matters more.
            return socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
        return socket.inet_pton(socket.AF_INET, host)
    except OSError:
        return None


def _weighted_cycle(weights: list[int]) -> list[int]:
    positive = [w for w in weights if w > 0]
    if not positive:
        return []
    if len(weights) * sum(positive) <= _SMOOTH_CYCLE_WORK:
        return smooth_sequence(weights)
    return weighted_order(weights)
