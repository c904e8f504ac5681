"""The worker: accepts on its own SO_REUSEPORT sockets and relays TCP sessions.

Limits (global and frontend maxconn) live in shared memory, so they hold for
the whole daemon. A worker that finds a limit reached stops accepting for a
moment: the connection waits in the kernel's backlog instead of being refused.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from lb import log
from lb._native import PipePool
from lb.accesslog import AccessLogger, ProcessInfo
from lb.acl import HttpTxn, ProxyRules, Runtime, compile_condition_of, compile_config
from lb.balance import PickKey
from lb.stats.admin import encode_frame
from lb.stats.counters import ObjectCounters, WorkerStats
from lb.stats.http import admin_static
from lb.stats.objects import ids_from_boot
from lb.stats.server_state import state_slots, version_index
from lb.stats.shm import GaugeNames, SharedRegion
from lb.stats.source import SnapshotSource
from lb.sticktable.region import attach_tables
from lb.sticktable.rules import (
    ConnectionRules,
    ContentRules,
    compile_connection_rules,
    compile_content_rules,
    compile_stick_rules,
)
from lb.sticktable.track import Tracking
from lb.worker.backends import Backend, ServerTarget
from lb.worker.boot import WorkerBoot
from lb.worker.http.session import HttpSession, ProxiedHttpSession
from lb.worker.http.settings import HttpSettings
from lb.worker.http.upstream import ServerPool
from lb.worker.inspect import Inspector, content_txn, peek_now, routing_reads_payload
from lb.worker.proxy_protocol import ProxyHeader
from lb.worker.tcp_session import ProxyHeaderReader, TcpSession, proxied_addresses
from lb.worker.tls import ListenerTls, TlsSettings, sni_of
from lb.worker.tls_client import ClientTlsSettings, build_server_tls
from lb.worker.tls_relay import PendingClient

if TYPE_CHECKING:
    from lb.acl.payload import ContentTxn
    from lb.config.model import Config, Proxy, StatsSettings

# a request or connection waiting for a server slot: deadline, call back, hashing key
Waiter = tuple[float, Callable[[ServerTarget | None], None], PickKey | None]

PROCESS_INFO = ProcessInfo()  # syslog tag, pid, hostname of this worker
ACCEPT_BATCH = (
    32  # accepts per readiness event: enough to drain a burst, little enough to stay fair
)
TLS_HANDSHAKE_TIMEOUT = 10.0  # s, without timeout client
LIMIT_RETRY = 0.02  # s between looks at a full limit; a local close looks at once
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset
QUEUE_POLL = 0.01  # s between looks at full servers for queued connections
MAX_POOLS = 4096  # idle-connection pools kept (one per server, and per SNI with TLS)


class Listener:
    __slots__ = ("accept_proxy", "accepting", "fd", "frontend", "sock", "tls")

    def __init__(
        self,
        frontend: Frontend,
        fd: int,
        accept_proxy: bool = False,
        tls: ListenerTls | None = None,
    ) -> None:
        self.frontend = frontend
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(False)
        self.fd = fd
        self.accepting = False
        self.accept_proxy = accept_proxy  # bind … accept-proxy: a PROXY header comes first
        self.tls = tls  # bind … ssl crt …: TLS termination (mode http)


class Frontend:
    __slots__ = (
        "backend",
        "client_timeout",
        "content",
        "cum_index",
        "cur_index",
        "http",
        "idle_timeout",
        "listeners",
        "logger",
        "maxconn",
        "name",
        "own_backend",
        "paused",
        "peek_routing",
        "routes",
        "rules",
        "stats",
        "tcp_rules",
        "tls_failed",
    )

    def __init__(
        self,
        proxy: Proxy,
        backend: Backend | None,
        region: SharedRegion,
        gauges: dict[str, int],
    ) -> None:
        self.name = proxy.name
        self.backend = backend
        self.listeners: list[Listener] = []
        self.maxconn = proxy.maxconn or 0
        self.cur_index = region.counter_index(gauges[GaugeNames.frontend_cur_conns(proxy.name)])
        self.cum_index = region.counter_index(gauges[GaugeNames.frontend_cum_conns(proxy.name)])
        self.paused = False
        self.idle_timeout = _idle_timeout(proxy, backend)
        self.client_timeout = (proxy.timeouts.client or 0) / 1000.0  # 0 = none
        self.http: HttpSettings | None = None  # set for mode http
        self.logger: AccessLogger | None = None  # set when the frontend has log targets
        # content switching (lb.acl): None when routing does not depend on the request
        self.rules: ProxyRules | None = None
        self.routes: dict[str | None, HttpSettings] = {}  # mode http: backend name → settings
        self.own_backend = proxy.name if proxy.kind == "listen" else None
        self.stats = ObjectCounters()  # the worker hands out the published ones
        self.tls_failed = 0  # TLS handshakes that failed or timed out (this worker)
        self.tcp_rules: ConnectionRules | None = None  # tcp-request connection rules
        self.content: ContentRules | None = None  # tcp-request content rules (mode tcp)
        self.peek_routing = False  # mode tcp use_backend reads the client's first bytes


def _idle_timeout(frontend: Proxy, backend: Backend | None) -> float:
    """Seconds of silence after which an established session is closed (0 = never).

    In tcp mode bytes moving either way refresh both sides, so the tighter of
    ``timeout client`` and ``timeout server`` applies; ``timeout tunnel``, once
    set, replaces both as HAProxy does for established tunnels.
    """
    tunnel = backend.tunnel_timeout if backend is not None else None
    if tunnel is None:
        tunnel = frontend.timeouts.tunnel
    if tunnel is not None:
        return tunnel / 1000.0
    server = backend.server_timeout if backend is not None else None
    candidates = [v for v in (frontend.timeouts.client, server) if v]
    return min(candidates) / 1000.0 if candidates else 0.0


class Worker:
    def __init__(self, boot: WorkerBoot, loop: asyncio.AbstractEventLoop) -> None:
        self.boot = boot
        self.loop = loop
        self.slot = boot.slot
        self.generation = boot.generation
        self.region = SharedRegion.attach(boot.shm_fd)
        self.counters = self.region.counters
        # the data paths' counters (lb.stats.counters), flushed to this worker's slab
        stats_ids, slab = ids_from_boot(boot.gauges)
        self.stats = WorkerStats(self.region.stats, slab, stats_ids)
        self._backend_counters: dict[str, tuple[ObjectCounters, list[ObjectCounters]]] = {}
        self._stats_ids = stats_ids
        self._stats_source: SnapshotSource | None = None
        self.control: socket.socket | None = None  # to the master; main sets it (admin actions)
        gauges = boot.gauges
        self.global_cur = self.region.counter_index(gauges[GaugeNames.GLOBAL_CUR_CONNS])
        self.global_cum = self.region.counter_index(gauges[GaugeNames.GLOBAL_CUM_CONNS])
        self.maxconn = boot.maxconn
        self.pipes = PipePool()
        self.sessions: set[TcpSession] = set()
        # mode tcp: PROXY headers awaited, first bytes inspected (tcp-request content)
        self.handshakes: set[ProxyHeaderReader | Inspector] = set()
        self.http_sessions: set[HttpSession] = set()
        # accepted connections whose session (or TLS handshake) is being set up
        self.starting: set[asyncio.Task[object]] = set()
        self._pools: dict[ServerTarget | tuple[ServerTarget, str], ServerPool] = {}
        # server maxconn: what waits for a free server slot, per backend, in arrival order
        self.queues: dict[Backend, deque[Waiter]] = {}
        # requests sticking to a full server (persistence), waiting for that one
        self.server_queues: dict[
            ServerTarget, deque[tuple[float, Callable[[ServerTarget | None], None], Backend]]
        ] = {}
        self._queue_timer: asyncio.TimerHandle | None = None
        self.clock = loop.time()
        self.stopping = False
        self.globally_paused = False
        self.backends = self._compile_backends()
        # stick tables: the master's shared tables, mapped here; what tcp-request connection
        # rules tracked, until the session takes it (by client socket; tcp: by session)
        self.stick_tables = attach_tables(boot.config, boot.tables)
        self.sticky: dict[socket.socket, Tracking] = {}
        self.tcp_sticky: dict[TcpSession, Tracking] = {}
        self.stick_rules = {
            p.name: rules
            for p in boot.config.proxies
            if not p.disabled and (rules := compile_stick_rules(p, boot.config)) is not None
        }
        # ACLs and rules, compiled once (files they name are read now, before any chroot)
        self.rules = compile_config(boot.config)
        self.rules_runtime: Runtime = self
        self.frontends = self._compile_frontends()
        self.tick = _tick_interval(self.frontends)
        self._resume_handle: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ setup

    def _compile_backends(self) -> dict[str, Backend]:
        backends: dict[str, Backend] = {}
        gauges = self.boot.gauges
        # The region as 8-byte slots: the reads of a pick (state version, loads)
        view = memoryview(self.region.mm).cast("q")
        version = version_index(self.region, gauges.__getitem__)
        # TLS to servers: contexts built now, before any chroot or privilege drop
        tls_contexts: dict[ClientTlsSettings, tuple[ssl.SSLContext, ssl.SSLContext | None]] = {}
        for proxy in self.boot.config.proxies:
            if not proxy.has_backend:
                continue
            targets = []
            for i, server in enumerate(proxy.servers):
                family, host, port = self.boot.server_addrs[f"{proxy.name}/{server.name}"]
                index = self.region.counter_index(
                    gauges[GaugeNames.server_cur_conns(proxy.name, server.name)]
                )
                state = state_slots(self.region, gauges.__getitem__, proxy.name, server.name)
                queue_slot = gauges.get(GaugeNames.server_queue(proxy.name, server.name))
                target = ServerTarget(
                    i,
                    proxy.name,
                    server,
                    family,
                    (host, port),
                    index,
                    state_index=state.state,
                    queue_index=(
                        self.region.counter_index(queue_slot) if queue_slot is not None else -1
                    ),
                )
                target.tls = build_server_tls(self.boot.config, proxy, server, tls_contexts)
                targets.append(target)
            position = self.region.counter_index(gauges[GaugeNames.backend_rr_position(proxy.name)])
            backends[proxy.name] = Backend(
                proxy, targets, self.counters, position, gauges=view, state_version_index=version
            )
        return backends

    def _compile_frontends(self) -> dict[str, Frontend]:
        frontends: dict[str, Frontend] = {}
        config = self.boot.config
        for proxy in config.frontends():
            rules = self.rules.frontends.get(proxy.name)
            static, name = rules.static_route if rules is not None else (True, None)
            if rules is None:  # (compile_config covers every enabled proxy)
                name = proxy.default_backend
            if name is None and proxy.kind == "listen":
                name = proxy.name
            # without rules, every connection goes to ``backend``; with, it is the default
            backend = self.backends.get(name) if name else None
            frontend = frontends[proxy.name] = Frontend(
                proxy, backend, self.region, self.boot.gauges
            )
            backend_rules = self.rules.backends.get(name) if name else None
            if not static or (backend_rules is not None and not backend_rules.empty):
                frontend.rules = rules
            frontend.stats = self.stats.frontend(proxy.name)
            frontend.tcp_rules = compile_connection_rules(proxy, config)
            frontend.content = compile_content_rules(proxy, config)
            frontend.peek_routing = proxy.mode == "tcp" and routing_reads_payload(proxy)
            if proxy.logs.targets:
                frontend.logger = AccessLogger(
                    proxy.logs.targets,
                    proxy.logs,
                    mode=proxy.mode,
                    request_captures=proxy.http.request_captures,
                    response_captures=proxy.http.response_captures,
                    process=PROCESS_INFO,
                )
            if proxy.mode == "http":
                errorfiles = self.boot.errorfiles.get(proxy.name, {})
                for bp in config.proxies:
                    if bp.has_backend and not bp.disabled and bp.mode == "http":
                        bp_backend = self.backends.get(bp.name)
                        frontend.routes[bp.name] = HttpSettings(
                            proxy,
                            bp,
                            bp_backend,
                            config.global_,
                            errorfiles,
                            frontend.rules,
                            self.rules.backends.get(bp.name),
                            self._counters_of(bp_backend) if bp_backend is not None else None,
                        )
                frontend.http = frontend.routes.get(name) or HttpSettings(
                    proxy, None, None, config.global_, errorfiles
                )
                for settings in {*frontend.routes.values(), frontend.http}:
                    settings.stats_admin = self._stats_admin(settings.stats, proxy, config)
        proxied = {
            proxy.name: {b.key() for b in proxy.binds if b.accept_proxy}
            for proxy in config.frontends()
        }
        # TLS: certificates are read now, before any chroot or privilege drop
        tls: dict[tuple[str, str], ListenerTls] = {}
        for proxy in config.frontends():
            for b in proxy.binds:
                if b.ssl and (proxy.name, b.key()) not in tls:
                    settings = TlsSettings(
                        list(b.crt_files), list(b.alpn), b.ssl_min_ver, b.ciphers
                    )
                    tls[proxy.name, b.key()] = ListenerTls(settings)
        for lfd in self.boot.listeners:
            frontend = frontends[lfd.frontend]
            accept_proxy = lfd.bind_key in proxied.get(lfd.frontend, ())
            listener_tls = tls.get((lfd.frontend, lfd.bind_key))
            frontend.listeners.append(Listener(frontend, lfd.fd, accept_proxy, listener_tls))
        return frontends

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        for frontend in self.frontends.values():
            self._listen(frontend)
        self.loop.call_later(self.tick, self._on_tick)

    def graceful_stop(self) -> None:
        """Stop accepting; finish the sessions in flight; then exit."""
        if self.stopping:
            return
        self.stopping = True
        for frontend in self.frontends.values():
            self._unlisten(frontend)
            for listener in frontend.listeners:
                # Only this process's descriptor: the master keeps the socket open,
                # so connections waiting in the backlog stay for the next worker.
                listener.sock.close()
        for http in list(self.http_sessions):
            http.graceful()  # idle keep-alive connections close now, busy ones after
        for reader in list(self.handshakes):
            reader.fail()  # no PROXY header yet: nothing in flight
        self._maybe_exit()

    def fast_stop(self) -> None:
        self.stopping = True
        for frontend in self.frontends.values():
            self._unlisten(frontend)
        for session in list(self.sessions):
            session.close(abort=True)
        for reader in list(self.handshakes):
            reader.fail()
        for http in list(self.http_sessions):
            http.abort()
        self.flush_stats()
        self.loop.stop()

    def _maybe_exit(self) -> None:
        if (
            self.stopping
            and not self.sessions
            and not self.http_sessions
            and not self.handshakes
            and not self.starting
        ):
            self.flush_stats()  # the last counts, before the master folds the slab
            self.loop.stop()

    def _on_tick(self) -> None:
        self.clock = now = self.loop.time()
        for session in [s for s in self.sessions if s.idle_limit and now - s.active > s.idle_limit]:
            session.termination = "cD"  # the log's "client-side timeout during data"
            session.close(abort=False)
        for http in [h for h in self.http_sessions if h.deadline and now >= h.deadline]:
            http.on_tick(now)
        if self.stats.due(now):
            self.flush_stats()
        self.loop.call_later(self.tick, self._on_tick)

    # ------------------------------------------------------------------ stats

    def flush_stats(self) -> None:
        """Publish the data paths' counters (and the queue lengths) in this worker's slab."""
        self.stats.flush(self.loop.time(), {b.name: len(q) for b, q in self.queues.items()})

    @property
    def stats_source(self) -> SnapshotSource:
        """What the stats page and /metrics read (``source.take()``: a fresh snapshot)."""
        if self._stats_source is None:
            boot = self.boot
            self._stats_source = SnapshotSource(
                self.region, boot.config, self._stats_ids, boot.gauges.get, boot.maxconn
            )
        return self._stats_source

    def send_admin(self, command: str) -> bool:
        """Hand a runtime API command (from the stats page's form) to the master."""
        control = self.control
        if control is None:
            return False
        try:
            return control.send(encode_frame(command)) > 0
        except OSError:  # full (the master is not reading) or gone
            return False

    def _stats_admin(
        self, stats: StatsSettings | None, proxy: Proxy, config: Config
    ) -> list[Callable[[HttpTxn, Runtime], bool]]:
        """``stats admin if COND`` lines that need a request to decide (ACLs)."""
        if stats is None or admin_static(stats) is not None:
            return []
        # the conditions use the ACLs of the proxy whose "stats" lines they are
        owner = next((p for p in config.proxies if p.stats is stats), proxy)
        conditions = []
        for words in stats.admin:
            test = compile_condition_of(owner, config, words, stats.source)
            if test is not None:
                conditions.append(test)
        return conditions

    # ------------------------------------------------------------------ counters (tcp mode)

    def backend_stats(self, backend: Backend) -> ObjectCounters:
        return self._counters_of(backend)[0]

    def server_stats(self, backend: Backend, target: ServerTarget) -> ObjectCounters:
        return self._counters_of(backend)[1][target.index]

    def _counters_of(self, backend: Backend) -> tuple[ObjectCounters, list[ObjectCounters]]:
        """A backend's counters and its servers' (by index), looked up once, not per event."""
        found = self._backend_counters.get(backend.name)
        if found is None:
            stats = self.stats
            found = self._backend_counters[backend.name] = (
                stats.backend(backend.name),
                [stats.server(backend.name, t.name) for t in backend.servers],
            )
        return found

    # ------------------------------------------------------------------ rules' view of servers

    def servers_up(self, backend: str) -> int:
        """nbsrv(BACKEND): the servers that may take traffic now."""
        be = self.backends.get(backend)
        if be is None:
            return 0
        be.refresh()
        return sum(1 for t in be.servers if t.usable)

    def server_is_up(self, backend: str, server: str) -> bool:
        """srv_is_up(BACKEND/SERVER), and what use-server asks before it sends there."""
        be = self.backends.get(backend)
        if be is None:
            return False
        be.refresh()
        return any(t.usable for t in be.servers if t.name == server)

    def route_connection(
        self,
        frontend: Frontend,
        client_addr: tuple[str, int],
        sock: socket.socket,
        local: tuple[str, int] | None = None,
        client_tls: asyncio.Transport | None = None,
        content: ContentTxn | None = None,
    ) -> Backend | None:
        """mode tcp with conditional use_backend: the backend for this connection.

        ``local`` is the address the client connected to when a PROXY header said it;
        ``content`` what tcp-request content rules saw of the first bytes.
        """
        rules = frontend.rules
        assert rules is not None
        txn = content
        if txn is None:
            txn = content_txn(frontend, sock, client_addr, local)
            if frontend.peek_routing and client_tls is None:  # no rule waited: what is there
                txn.payload = peek_now(sock)
        if client_tls is not None:  # bind … ssl: ssl_fc and ssl_fc_sni route too
            txn.ssl_fc = True
            sni = sni_of(client_tls.get_extra_info("ssl_object"))
            txn.ssl_fc_sni = sni.encode() if sni else None
        name = rules.choose_backend(txn, self)
        if name is None:
            name = frontend.own_backend
        return self.backends.get(name) if name else None

    # ------------------------------------------------------------------ server queues

    def wait_for_server(
        self,
        backend: Backend,
        timeout: float,
        callback: Callable[[ServerTarget | None], None],
        key: PickKey | None = None,
    ) -> None:
        """Every server of ``backend`` is full: call back with a slot, or None at ``timeout``.

        ``key`` is what a hashing algorithm hashes for this request: it still decides
        which server the request goes to once one has a free slot.
        """
        deadline = self.loop.time() + timeout
        self.queues.setdefault(backend, deque()).append((deadline, callback, key))
        self._arm_queue_timer()

    def wait_for_this_server(
        self,
        backend: Backend,
        target: ServerTarget,
        timeout: float,
        callback: Callable[[ServerTarget | None], None],
    ) -> bool:
        """A request sticks to ``target``, which is full: wait for one of its slots.

        False when its queue is at ``maxqueue`` daemon-wide: the caller balances the
        request instead (HAProxy redispatches it).
        """
        if target.queue_index < 0 or not self.counters.try_acquire(
            target.queue_index, target.maxqueue
        ):
            return False
        deadline = self.loop.time() + timeout
        self.server_queues.setdefault(target, deque()).append((deadline, callback, backend))
        self._arm_queue_timer()
        return True

    def slot_released(self) -> None:
        """A local connection freed a server slot: let a waiter have it now."""
        if self.queues or self.server_queues:
            self._serve_queues()

    def _arm_queue_timer(self) -> None:
        if self._queue_timer is None:
            # other workers free slots too; shared counters have no wake-up, so look often
            self._queue_timer = self.loop.call_later(QUEUE_POLL, self._on_queue_timer)

    def _on_queue_timer(self) -> None:
        self._queue_timer = None
        self._serve_queues()
        if self.queues or self.server_queues:
            self._arm_queue_timer()

    def _serve_queues(self) -> None:
        now = self.loop.time()
        # requests waiting for one server in particular go first: it is their server
        for target, waiting in list(self.server_queues.items()):
            while waiting:
                deadline, callback, backend = waiting[0]
                if now >= deadline:
                    waiting.popleft()
                    self.counters.release(target.queue_index)
                    callback(None)
                    continue
                if not backend.acquire(target):
                    break
                waiting.popleft()
                self.counters.release(target.queue_index)
                callback(target)
            if not waiting:
                del self.server_queues[target]
        for backend, waiters in list(self.queues.items()):
            while waiters:
                deadline, callback, key = waiters[0]
                if now >= deadline:
                    waiters.popleft()
                    callback(None)
                    continue
                target = backend.pick(key=key)
                if target is None:
                    break
                waiters.popleft()
                callback(target)
            if not waiters:
                del self.queues[backend]

    def server_pool(self, target: ServerTarget, sni: str = "") -> ServerPool:
        """Idle connections to ``target``; with TLS, one pool per SNI sent (a connection
        opened for one name never serves another)."""
        key = (target, sni) if sni else target
        pool = self._pools.get(key)
        if pool is None:
            if sni and len(self._pools) >= MAX_POOLS:  # SNI from Host: clients choose the names
                for k in [k for k, p in self._pools.items() if not p.idle]:
                    del self._pools[k]
            pool = self._pools[key] = ServerPool()
        return pool

    # ------------------------------------------------------------------ accept

    def _listen(self, frontend: Frontend) -> None:
        if self.stopping:
            return
        for listener in frontend.listeners:
            if not listener.accepting:
                self.loop.add_reader(listener.fd, self._on_acceptable, listener)
                listener.accepting = True

    def _unlisten(self, frontend: Frontend) -> None:
        for listener in frontend.listeners:
            if listener.accepting:
                self.loop.remove_reader(listener.fd)
                listener.accepting = False

    def _on_acceptable(self, listener: Listener) -> None:
        frontend = listener.frontend
        counters = self.counters
        for _ in range(ACCEPT_BATCH):
            if not counters.try_acquire(self.global_cur, self.maxconn):
                self._pause(frontend=None)
                return
            # (a maxconn of 0 means no limit: the count still goes up, for stats and logs)
            if not counters.try_acquire(frontend.cur_index, frontend.maxconn):
                counters.release(self.global_cur)
                self._pause(frontend)
                return
            try:
                client, addr = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                self._release(frontend)
                return
            except OSError as exc:  # EMFILE and friends: back off instead of spinning
                self._release(frontend)
                log.warning(f"accept on frontend '{frontend.name}' failed: {exc}")
                self._pause(frontend)
                return
            counters.add(self.global_cum, 1)
            counters.add(frontend.cum_index, 1)
            stats = frontend.stats
            stats.conn_tot += 1
            stats.stot += 1  # HAProxy's frontend sessions: connections, in both modes
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if frontend.tcp_rules is not None and not self._connection_rules(
                frontend, client, addr
            ):
                continue  # tcp-request connection reject
            if frontend.http is not None:
                # (with accept-proxy the session reads the header off its first bytes)
                self._start_http(
                    frontend, frontend.http, client, listener.accept_proxy, listener.tls
                )
            elif listener.tls is not None:  # the handshake first, then the copy path
                self._start_tls_tcp(frontend, listener.tls, client, addr)
            elif listener.accept_proxy:  # the header first, then routing and splicing
                reader = ProxyHeaderReader(self, frontend, client, addr, frontend.client_timeout)
                self.handshakes.add(reader)
            else:
                self._start_tcp(frontend, client, addr)

    def _start_tcp(
        self,
        frontend: Frontend,
        client: socket.socket,
        addr: tuple[str, int],
        local: tuple[str, int] | None = None,
        client_tls: asyncio.Transport | None = None,
        content: ContentTxn | None = None,
    ) -> None:
        if content is None and frontend.content is not None:  # tcp-request content first
            inspector = Inspector(
                self, frontend, frontend.content, client, addr, local, client_tls is not None
            )
            inspector.tls = client_tls
            if not inspector.begin():
                self.handshakes.add(inspector)
            return
        backend = frontend.backend
        if frontend.rules is not None:
            backend = self.route_connection(frontend, addr, client, local, client_tls, content)
        if backend is None:
            # no backend for this connection: HAProxy closes it
            (client_tls or client).close()
            self._release(frontend)
            self._drop_sticky(client)
            return
        session = TcpSession(self, frontend, backend, client, addr, local, client_tls)
        self.sessions.add(session)
        if self.sticky:  # what tcp-request connection tracks ends with the session
            tracking = self.sticky.pop(client, None)
            if tracking is not None:
                self.tcp_sticky[session] = tracking
        session.start()

    # ------------------------------------------------------------------ stick tables

    def _connection_rules(
        self, frontend: Frontend, client: socket.socket, addr: tuple[str, int]
    ) -> bool:
        """tcp-request connection rules, before any byte is read. False: rejected (the
        connection is closed and its slots are back)."""
        rules = frontend.tcp_rules
        assert rules is not None
        try:
            local = client.getsockname()
        except OSError:
            local = ("", 0)
        txn = HttpTxn(b"", b"", "1.1", [], addr[0], addr[1], local[0], local[1], frontend.name)
        if not rules.run(txn, self):
            # as HAProxy: an abortive close (RST), no FIN handshake to wait for
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            client.close()
            self._release(frontend)
            frontend.stats.dcon += 1  # HAProxy's "denied connections"
            if txn.sc is not None:
                txn.sc.release_owned()
            return False
        if txn.sc is not None:
            self.sticky[client] = txn.sc  # the session takes it when it starts
        return True

    def content_decided(self, inspector: Inspector, rejected: bool) -> None:
        """tcp-request content rules decided: close the connection, or route it."""
        self.handshakes.discard(inspector)
        frontend, client, txn = inspector.frontend, inspector.client, inspector.txn
        if rejected:
            frontend.stats.dreq += 1  # HAProxy counts content rejects as denied requests
            if txn.sc is not None:
                txn.sc.release_owned()
            (inspector.tls or client).close()
            self._slot_freed(frontend)
            return
        if txn.sc is not None:
            self.sticky[client] = txn.sc  # the session takes it when it starts
        txn.final = True
        self._start_tcp(frontend, client, inspector.addr, inspector.local, inspector.tls, txn)

    def _tcp_txn(self, session: TcpSession) -> HttpTxn:
        """What stick rules see of a mode tcp connection: its addresses, no request."""
        client = session.client_addr
        local = session.local_address() or ("", 0)
        return HttpTxn(
            b"", b"", "1.1", [], client[0], client[1], local[0], local[1], session.frontend.name
        )

    def tcp_stick_target(self, session: TcpSession) -> ServerTarget | None:
        """mode tcp ``stick on|match``: the stored server, with a slot taken, if it can
        take the connection."""
        stick = self.stick_rules.get(session.backend.name)
        if stick is None or not stick.matchers:
            return None
        sid = stick.match(self._tcp_txn(session), self)
        if sid is None:
            return None
        backend = session.backend
        for target in backend.servers:
            if target.id == sid:
                return target if backend.acquire(target) else None
        return None

    def tcp_stick_store(self, session: TcpSession, target: ServerTarget) -> None:
        stick = self.stick_rules.get(session.backend.name)
        if stick is not None and stick.storers:
            stick.store(self._tcp_txn(session), self, target.id)

    def _drop_sticky(self, client: socket.socket) -> None:
        """A connection that tracked entries closes before any session took it."""
        if self.sticky:
            tracking = self.sticky.pop(client, None)
            if tracking is not None:
                tracking.release_owned()

    def proxy_header_read(self, reader: ProxyHeaderReader, header: ProxyHeader) -> None:
        """accept-proxy, mode tcp: the header is in; the client is who it says."""
        self.handshakes.discard(reader)
        client_addr, local = proxied_addresses(header, reader.peer)
        self._start_tcp(reader.frontend, reader.client, client_addr, local)

    def proxy_header_failed(self, reader: ProxyHeaderReader) -> None:
        """accept-proxy, mode tcp: no valid header; the reader closed the connection."""
        self.handshakes.discard(reader)
        self._drop_sticky(reader.client)
        self._slot_freed(reader.frontend)

    def _start_tls_tcp(
        self,
        frontend: Frontend,
        tls: ListenerTls,
        client: socket.socket,
        addr: tuple[str, int],
    ) -> None:
        """mode tcp, bind … ssl: the handshake, then routing and the copy path (tls_relay)."""

        def started(task: asyncio.Task[tuple[asyncio.Transport, PendingClient]]) -> None:
            self.starting.discard(task)  # type: ignore[arg-type]
            if task.cancelled() or task.exception() is not None:
                self._tls_failed(frontend, task)  # type: ignore[arg-type]
                client.close()
                self._drop_sticky(client)
                self._slot_freed(frontend)
                return
            transport, _pending = task.result()
            frontend.stats.ssl_sess += 1
            self._start_tcp(frontend, client, addr, client_tls=transport)

        timeout = frontend.client_timeout or TLS_HANDSHAKE_TIMEOUT
        connecting = self.loop.connect_accepted_socket(
            PendingClient, sock=client, ssl=tls.default, ssl_handshake_timeout=timeout
        )
        task = self.loop.create_task(connecting)
        self.starting.add(task)  # type: ignore[arg-type]
        task.add_done_callback(started)  # type: ignore[arg-type]

    def _start_http(
        self,
        frontend: Frontend,
        settings: HttpSettings,
        client: socket.socket,
        accept_proxy: bool = False,
        tls: ListenerTls | None = None,
    ) -> None:
        sticky = self.sticky.pop(client, None) if self.sticky else None

        def started(task: asyncio.Task[object]) -> None:
            self.starting.discard(task)
            if task.cancelled() or task.exception() is not None:
                if tls is not None:
                    self._tls_failed(frontend, task)
                client.close()
                self._release(frontend)
                if sticky is not None:  # no session took what the connection tracked
                    sticky.release_owned()
            elif tls is not None:
                frontend.stats.ssl_sess += 1
            if self.stopping:
                self._maybe_exit()

        cls = ProxiedHttpSession if accept_proxy else HttpSession

        def factory(worker: Worker, fe: Frontend, hs: HttpSettings) -> HttpSession:
            session = cls(worker, fe, hs)
            session.sticky = sticky  # what tcp-request connection tracks (or None)
            return session

        if tls is None:
            connecting = self.loop.connect_accepted_socket(
                lambda: factory(self, frontend, settings), sock=client
            )
        else:  # the session starts once the handshake is done
            timeout = frontend.client_timeout or TLS_HANDSHAKE_TIMEOUT
            connecting = self.loop.connect_accepted_socket(
                lambda: factory(self, frontend, settings),
                sock=client,
                ssl=tls.default,
                ssl_handshake_timeout=timeout,
            )
        task = self.loop.create_task(connecting)
        self.starting.add(task)  # accepted, not yet a session: a stopping worker waits for it
        task.add_done_callback(started)

    def _tls_failed(self, frontend: Frontend, task: asyncio.Task[object]) -> None:
        """A handshake failed or timed out: counted and logged (the first, then every 1000th)."""
        frontend.tls_failed += 1
        frontend.stats.ssl_failed_handshake += 1
        if frontend.tls_failed % 1000 == 1:
            exc = None if task.cancelled() else task.exception()
            log.warning(
                f"frontend '{frontend.name}': TLS handshake failed ({exc or 'cancelled'}); "
                f"{frontend.tls_failed} failed handshakes in worker {self.slot}"
            )

    def _release(self, frontend: Frontend) -> None:
        self.counters.release(self.global_cur)
        self.counters.release(frontend.cur_index)

    def session_closed(self, session: TcpSession) -> None:
        self.sessions.discard(session)
        if self.tcp_sticky:
            tracking = self.tcp_sticky.pop(session, None)
            if tracking is not None:
                tracking.release_owned()
        self._slot_freed(session.frontend)

    def _slot_freed(self, frontend: Frontend) -> None:
        """A connection ended: its slots go back, and a paused accept may go on."""
        self._release(frontend)
        if self._resume_handle is not None:
            self._resume_handle.cancel()
            self._resume()
        self._maybe_exit()

    # ------------------------------------------------------------------ limits

    def _pause(self, frontend: Frontend | None) -> None:
        """A limit is full: stop accepting (globally or on one frontend) and look again soon."""
        if frontend is None:
            self.globally_paused = True
            for fe in self.frontends.values():
                self._unlisten(fe)
        else:
            frontend.paused = True
            self._unlisten(frontend)
        if self._resume_handle is None:
            self._resume_handle = self.loop.call_later(LIMIT_RETRY, self._resume)

    def _resume(self) -> None:
        self._resume_handle = None
        self.globally_paused = False
        for frontend in self.frontends.values():
            frontend.paused = False
            self._listen(frontend)


def _tick_interval(frontends: dict[str, Frontend]) -> float:
    """How often idle sessions are looked at: a quarter of the tightest timeout, 50 ms to 1 s."""
    limits = [fe.idle_timeout for fe in frontends.values() if fe.idle_timeout]
    for fe in frontends.values():
        h = fe.http
        if h is not None:
            timeouts = (
                h.http_request_timeout,
                h.keep_alive_timeout,
                h.server_timeout,
                h.connect_timeout,
                h.tunnel_timeout,
            )
            limits += [t for t in timeouts if t]
    if not limits:
        return 1.0
    return max(0.05, min(1.0, min(limits) / 4))
