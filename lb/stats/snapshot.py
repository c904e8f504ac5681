"""A snapshot: every number the renderers show, as plain data.

``assemble`` is pure: it takes the configuration, the summed records, the ring's newest
entries, the gauges and the server states, and lays them out one ``Row`` per CSV line,
grouped by proxy. Reading those inputs out of shared memory is ``lb.stats.source``'s job;
every renderer (CSV, typed, JSON, Prometheus, HTML) is a function of a ``Snapshot`` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lb import RELEASE_DATE, __version__
from lb.config.model import Config, Proxy, Server
from lb.stats.area import MAXIMA_FIELDS, RING_FIELDS, Maxima, Ring
from lb.stats.info import MasterInfo
from lb.stats.objects import (
    ObjKind,
    backend_key,
    frontend_key,
    listener_key,
    listener_name,
    server_key,
)
from lb.stats.schema import INDEX, Record
from lb.stats.server_state import OpState, ServerState

_R = Record.size


@dataclass(slots=True)
class Rates:
    """Per-second values from the two newest ring entries, and maxima since start."""

    rate: int = 0
    rate_max: int = 0
    req_rate: int = 0
    req_rate_max: int = 0
    conn_rate: int = 0
    conn_rate_max: int = 0
    bout_rate: int = 0  # bytes/s to clients


@dataclass(slots=True)
class Row:
    """One object: one CSV line, one table row, one set of Prometheus samples."""

    kind: ObjKind
    proxy: str
    name: str  # svname: FRONTEND, BACKEND, the server's or listener's name
    iid: int  # the proxy's id
    sid: int  # the server's or listener's id (0 for a frontend or backend)
    mode: str
    c: list[int]  # the summed record (Record layout)
    scur: int = 0
    smax: int = 0
    slim: int | None = None
    qmax: int = 0
    rates: Rates = field(default_factory=Rates)
    lastsess: int = -1  # s since the last session, -1 = never
    status: str = ""
    # latency over the last 10 s (µs, -1 = no sample) and HAProxy's sliding averages (µs)
    rt_pct: tuple[int, int, int] = (-1, -1, -1)
    tt_pct: tuple[int, int, int] = (-1, -1, -1)
    averages: tuple[int, int, int, int] = (0, 0, 0, 0)
    # servers and backends
    weight: int = 0  # effective (sum of usable servers' for a backend)
    uweight: int = 0
    act: int = 0
    bck: int = 0
    lastchg: int | None = None  # s since the last state change
    downtime: int | None = None
    # servers
    state: ServerState | None = None
    backup: bool = False
    checked: bool = False
    rise: int = 0
    fall: int = 0
    qlimit: int | None = None
    throttle: int | None = None  # % while slowstart ramps the weight
    addr: str = ""
    cookie: str = ""
    # backends
    algo: str = ""
    desc: str = ""

    def value(self, name: str) -> int:
        """A record slot by name ("stot", "hrsp_2xx", …)."""
        return self.c[INDEX[name]]


@dataclass(slots=True)
class ProxyRows:
    name: str
    iid: int
    mode: str
    kind: str  # frontend, backend, listen
    desc: str
    frontend: Row | None = None
    listeners: list[Row] = field(default_factory=list)
    servers: list[Row] = field(default_factory=list)
    backend: Row | None = None
    socket_stats: bool = False  # "option socket-stats": listeners get their own rows

    def rows(self) -> list[Row]:
        out: list[Row] = []
        if self.frontend is not None:
            out.append(self.frontend)
        if self.socket_stats:
            out.extend(self.listeners)
        out.extend(self.servers)
        if self.backend is not None:
            out.append(self.backend)
        return out


@dataclass(slots=True)
class Series:
    """A proxy's history for the page's charts: one point per ring entry."""

    stamps: list[int] = field(default_factory=list)  # wall ms
    req_rate: list[float] = field(default_factory=list)  # requests (http) or sessions (tcp) /s
    scur: list[int] = field(default_factory=list)
    err_rate: list[float] = field(default_factory=list)
    p50: list[int] = field(default_factory=list)  # µs, -1 = none
    p99: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Process:
    pid: int = 0
    version: str = __version__
    release_date: str = RELEASE_DATE
    node: str = ""
    description: str = ""
    uptime: float = 0.0
    started: float = 0.0
    nbthread: int = 0
    maxconn: int = 0
    cur_conns: int = 0
    cum_conns: int = 0
    cum_req: int = 0
    conn_rate: int = 0
    sess_rate: int = 0
    conn_rate_max: int = 0
    sess_rate_max: int = 0
    bytes_out: int = 0
    bytes_out_rate: int = 0
    listeners: int = 0
    master: MasterInfo = field(default_factory=MasterInfo)
    sums_age: float = 0.0  # s since the counters shown were summed (0: summed for this view)
    flushed_ms: dict[int, int] = field(default_factory=dict)  # slab → last flush, wall ms


@dataclass(slots=True)
class Snapshot:
    time: float  # wall clock, s
    process: Process
    proxies: list[ProxyRows]
    history: dict[str, Series] = field(default_factory=dict)  # by proxy name, when asked

    def rows(self) -> list[Row]:
        return [r for p in self.proxies for r in p.rows()]


# --------------------------------------------------------------------------- inputs


@dataclass(slots=True)
class Inputs:
    """Everything ``assemble`` needs, already read out of shared memory."""

    config: Config
    ids: Mapping[str, int]  # object key → id
    totals: Sequence[int]  # summed records, indexed by id
    ring: Sequence[int] = ()  # newest ring entry (ids x RING_FIELDS), empty = none yet
    ring_prev: Sequence[int] = ()  # the one before
    ring_elapsed: float = 0.0  # s between them
    maxima: Sequence[int] = ()  # ids x MAXIMA_FIELDS (Maxima), empty = none
    scur: Mapping[str, int] = field(default_factory=dict)  # object key → current sessions
    states: Mapping[str, ServerState] = field(default_factory=dict)  # server key → state
    lastsess_ms: int = 0  # CLOCK_MONOTONIC ms now (lastsess ages)
    now: float = 0.0  # wall clock s
    process: Process = field(default_factory=Process)


# Ring and maxima fields as plain ints: _common runs once per row, a thousand times a page.
_STOT, _REQ_TOT, _CONN_TOT, _BOUT = Ring.STOT, Ring.REQ_TOT, Ring.CONN_TOT, Ring.BOUT
_RT_P50, _TT_P50, _QT_AVG = Ring.RT_P50, Ring.TT_P50, Ring.QT_AVG
_SMAX, _QMAX, _RATE_MAX = Maxima.SMAX, Maxima.QMAX, Maxima.RATE_MAX
_REQ_RATE_MAX, _CONN_RATE_MAX = Maxima.REQ_RATE_MAX, Maxima.CONN_RATE_MAX
_QCUR, _LASTSESS = Record.QCUR, Record.LASTSESS


def _record(values: Sequence[int], ident: int) -> list[int]:
    start = ident * _R
    if ident < 0 or start + _R > len(values):
        return [0] * _R
    chunk = values[start : start + _R]
    return chunk if type(chunk) is list else list(chunk)  # a list's slice is already a copy


class _Context:
    """The inputs, and what every row needs computed once for all objects: rates come
    column by column (one comprehension per field), not with four calls per row."""

    __slots__ = ("ids", "inputs", "rates", "scur", "states", "stopping", "uptime")

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self.ids = inputs.ids
        self.scur = inputs.scur
        self.states = inputs.states
        self.uptime = int(inputs.process.uptime)
        self.stopping = inputs.process.master.stopping
        self.rates = _rate_columns(inputs.ring, inputs.ring_prev, inputs.ring_elapsed)


def _rate_columns(
    ring: Sequence[int], prev: Sequence[int], elapsed: float
) -> list[tuple[int, int, int, int]]:
    """Per object id: sessions, requests, connections and bytes out per second between the
    two newest ring entries (objects missing from either have none)."""
    if elapsed <= 0:
        return []
    end = min(len(ring), len(prev)) // RING_FIELDS * RING_FIELDS

    def column(f: int) -> list[int]:
        now, before = ring[f:end:RING_FIELDS], prev[f:end:RING_FIELDS]
        return [max(0, round((a - b) / elapsed)) for a, b in zip(now, before, strict=True)]

    return list(zip(column(_STOT), column(_REQ_TOT), column(_CONN_TOT), column(_BOUT), strict=True))


def _common(ctx: _Context, row: Row, ident: int) -> None:
    """Rates, maxima, the age of the last session, percentiles and averages of one row."""
    inputs = ctx.inputs
    c = row.c
    if 0 <= ident < len(ctx.rates):
        rate, req_rate, conn_rate, bout_rate = ctx.rates[ident]
        rates = row.rates = Rates(rate, 0, req_rate, 0, conn_rate, 0, bout_rate)
    else:
        rates = row.rates
    ring = inputs.ring
    base = ident * RING_FIELDS
    if ident >= 0 and base + RING_FIELDS <= len(ring):
        row.rt_pct = tuple(ring[base + _RT_P50 : base + _RT_P50 + 3])  # type: ignore[assignment]
        row.tt_pct = tuple(ring[base + _TT_P50 : base + _TT_P50 + 3])  # type: ignore[assignment]
        row.averages = tuple(ring[base + _QT_AVG : base + _QT_AVG + 4])  # type: ignore[assignment]
    maxima = inputs.maxima
    m = ident * MAXIMA_FIELDS
    qcur = c[_QCUR]
    if ident >= 0 and m + MAXIMA_FIELDS <= len(maxima):
        row.smax = max(maxima[m + _SMAX], row.scur)
        row.qmax = max(maxima[m + _QMAX], qcur)
        rates.rate_max = max(maxima[m + _RATE_MAX], rates.rate)
        rates.req_rate_max = max(maxima[m + _REQ_RATE_MAX], rates.req_rate)
        rates.conn_rate_max = max(maxima[m + _CONN_RATE_MAX], rates.conn_rate)
    else:
        row.smax = row.scur
        row.qmax = qcur
    last = c[_LASTSESS]
    if last > 0 and inputs.lastsess_ms:
        row.lastsess = max(0, (inputs.lastsess_ms - last) // 1000)


# --------------------------------------------------------------------------- assembly


def frontend_maxconn(proxy: Proxy, global_maxconn: int) -> int:
    return proxy.maxconn if proxy.maxconn else global_maxconn


def fullconn(config: Config, backend: Proxy, global_maxconn: int) -> int:
    """HAProxy's default fullconn: a tenth of the maxconn of the frontends that reach it."""
    total = 0
    for fe in config.frontends():
        names = {u.backend for u in fe.use_backends}
        if fe.default_backend:
            names.add(fe.default_backend)
        if fe is backend or backend.name in names:
            total += frontend_maxconn(fe, global_maxconn)
    return -(-total // 10)


def assemble(inputs: Inputs) -> Snapshot:
    config = inputs.config
    process = inputs.process
    maxconn = process.maxconn or config.global_.maxconn or 0
    ctx = _Context(inputs)
    proxies: list[ProxyRows] = []
    for iid, proxy in enumerate(config.proxies, start=1):
        if proxy.disabled:
            continue
        proxies.append(_proxy_rows(ctx, proxy, iid, maxconn))
    snapshot = Snapshot(time=inputs.now, process=process, proxies=proxies)
    _process_totals(snapshot)
    return snapshot


def _row(
    ctx: _Context, kind: ObjKind, proxy: Proxy, name: str, iid: int, sid: int, key: str
) -> Row:
    ident = ctx.ids.get(key, -1)
    row = Row(kind, proxy.name, name, iid, sid, proxy.mode, _record(ctx.inputs.totals, ident))
    row.scur = ctx.scur.get(key, 0)
    _common(ctx, row, ident)
    return row


def _proxy_rows(ctx: _Context, proxy: Proxy, iid: int, maxconn: int) -> ProxyRows:
    out = ProxyRows(proxy.name, iid, proxy.mode, proxy.kind, proxy.description or "")
    out.socket_stats = bool(getattr(proxy, "socket_stats", False))
    stopping = ctx.stopping
    if proxy.has_frontend:
        fe = _row(ctx, ObjKind.FRONTEND, proxy, "FRONTEND", iid, 0, frontend_key(proxy.name))
        fe.slim = frontend_maxconn(proxy, maxconn)
        fe.status = "STOP" if stopping else "FULL" if fe.slim and fe.scur >= fe.slim else "OPEN"
        out.frontend = fe
        for i, bind in enumerate(proxy.binds):
            name = listener_name(bind, i)
            li = _row(
                ctx, ObjKind.LISTENER, proxy, name, iid, i + 1, listener_key(proxy.name, name)
            )
            li.slim = 0
            li.status = "STOP" if stopping else "OPEN"
            host = bind.host or "0.0.0.0"
            li.addr = f"[{host}]:{bind.port}" if ":" in host else f"{host}:{bind.port}"
            out.listeners.append(li)
    if proxy.has_backend:
        out.servers = [
            _server_row(ctx, proxy, server, iid, i) for i, server in enumerate(proxy.servers)
        ]
        out.backend = _backend_row(ctx, proxy, out.servers, iid, maxconn)
    return out


def _server_row(ctx: _Context, proxy: Proxy, server: Server, iid: int, position: int) -> Row:
    key = server_key(proxy.name, server.name)
    row = _row(ctx, ObjKind.SERVER, proxy, server.name, iid, server.id or position + 1, key)
    state = ctx.states.get(key) or placeholder_state(server)
    row.state = state
    backup = row.backup = server.backup
    checked = row.checked = state.checked
    rise = row.rise = server.rise
    fall = row.fall = server.fall
    row.status = state.status_text(rise, fall)
    uweight = row.uweight = state.uweight
    row.weight = state.eweight
    row.act, row.bck = (0, 1) if backup else (1, 0)
    row.slim = server.maxconn or None
    row.qlimit = server.maxqueue or None
    if state.op is OpState.STARTING and uweight:
        row.throttle = min(100, state.eweight * 100 // uweight)
    if state.last_change_ms:
        row.lastchg = max(0, int(ctx.inputs.now - state.last_change_ms / 1000))
    else:
        row.lastchg = ctx.uptime
    if checked:
        row.downtime = 0
    host = server.host
    row.addr = f"[{host}]:{server.port}" if ":" in host else f"{host}:{server.port}"
    row.cookie = server.cookie or ""
    return row


def placeholder_state(server: Server) -> ServerState:
    """A server nobody wrote a state for (no health checks yet): as its configuration says."""
    weight = server.weight
    admin = 0x04 if server.disabled else 0  # maintenance from the configuration
    return ServerState(
        op=OpState.RUNNING, admin=admin, eweight=weight, uweight=weight, checked=False
    )


def _backend_row(ctx: _Context, proxy: Proxy, servers: list[Row], iid: int, maxconn: int) -> Row:
    inputs = ctx.inputs
    row = _row(ctx, ObjKind.BACKEND, proxy, "BACKEND", iid, 0, backend_key(proxy.name))
    row.scur = sum(s.scur for s in servers)
    row.smax = max(row.smax, row.scur)
    row.slim = fullconn(inputs.config, proxy, maxconn)
    usable_act = [s for s in servers if not s.backup and s.state is not None and s.state.usable]
    usable_bck = [s for s in servers if s.backup and s.state is not None and s.state.usable]
    row.act = len(usable_act)
    row.bck = len(usable_bck)
    counted = usable_act or usable_bck
    row.weight = sum(s.weight for s in counted)
    row.uweight = sum(s.uweight for s in counted)
    row.status = "UP" if counted or not servers else "DOWN"
    changes = [s.lastchg for s in servers if s.lastchg is not None]
    row.lastchg = min(changes) if changes else ctx.uptime
    row.downtime = 0 if servers else None
    row.algo = proxy.balance
    row.cookie = proxy.cookie.name if getattr(proxy, "cookie", None) else ""
    row.desc = proxy.description or ""
    return row


def _process_totals(snapshot: Snapshot) -> None:
    p = snapshot.process
    fes = [px.frontend for px in snapshot.proxies if px.frontend is not None]
    p.cum_req = sum(fe.value("req_tot") for fe in fes)
    p.sess_rate = sum(fe.rates.rate for fe in fes)
    p.conn_rate = sum(fe.rates.conn_rate for fe in fes)
    p.sess_rate_max = max([p.sess_rate_max, p.sess_rate, *(fe.rates.rate_max for fe in fes)])
    p.conn_rate_max = max([p.conn_rate_max, p.conn_rate, *(fe.rates.conn_rate_max for fe in fes)])
    p.bytes_out = sum(fe.value("bout") for fe in fes)
    p.bytes_out_rate = sum(fe.rates.bout_rate for fe in fes)
    p.listeners = sum(len(px.listeners) for px in snapshot.proxies)
