"""Prometheus text exposition (format 0.0.4) of a snapshot.

Metric names and labels are those of HAProxy's exporter (``haproxy_<scope>_<name>``, labels
``proxy``, ``server``, ``code``, ``state``, times in seconds), so dashboards and alerts
written for it work unchanged. lb adds real histograms: queue, connect, response and total
times per backend (``haproxy_backend_response_time_seconds`` …), total time per server
(``haproxy_server_total_time_seconds``); and its own ``lb_*`` metrics (workers, restarts,
reloads, VRRP). Scopes filter as HAProxy's exporter does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from lb.stats.objects import ObjKind
from lb.stats.schema import BOUNDS, EXPORTED_BOUNDS, INDEX, NBUCKETS, Record
from lb.stats.server_state import CheckStatus, OpState
from lb.stats.snapshot import Process, Row, Snapshot

SCOPES = ("global", "frontend", "backend", "server")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Getter = Callable[[Row], "int | float | None"]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    kind: str  # "counter" or "gauge"
    help: str
    get: Getter | int  # an int: the record slot holding the value (read without a call)
    http_only: bool = False


def _v(name: str) -> int:
    return INDEX[name]


def _seconds(us: int) -> float:
    return us / 1_000_000


def _average(phase: int) -> Getter:
    return lambda r: _seconds(r.averages[phase])


def _highest(phase: int) -> Getter:
    return lambda r: _seconds(r.c[Record.MAXES + phase])


_COMMON = [
    Metric("current_sessions", "gauge", "Current sessions.", lambda r: r.scur),
    Metric("max_sessions", "gauge", "Highest number of current sessions seen.", lambda r: r.smax),
    Metric(
        "limit_sessions",
        "gauge",
        "Configured limit of sessions (maxconn; fullconn for a backend).",
        lambda r: r.slim,
    ),
    Metric("sessions_total", "counter", "Sessions since lb started.", _v("stot")),
    Metric("bytes_in_total", "counter", "Bytes received from clients.", _v("bin")),
    Metric("bytes_out_total", "counter", "Bytes sent to clients.", _v("bout")),
]

# HTTP compression (frontends and backends), by HAProxy's exporter names
_COMPRESSION = [
    Metric(
        "http_comp_bytes_in_total",
        "counter",
        "Response bytes fed to the HTTP compressor.",
        _v("comp_in"),
        True,
    ),
    Metric(
        "http_comp_bytes_out_total",
        "counter",
        "Bytes emitted by the HTTP compressor.",
        _v("comp_out"),
        True,
    ),
    Metric(
        "http_comp_bytes_bypassed_total",
        "counter",
        "Response bytes that went through HTTP compression uncompressed (identity).",
        _v("comp_byp"),
        True,
    ),
    Metric(
        "http_comp_responses_total",
        "counter",
        "HTTP responses compressed.",
        _v("comp_rsp"),
        True,
    ),
]

FRONTEND: list[Metric] = [
    *_COMMON,
    Metric("requests_denied_total", "counter", "Requests denied by rules.", _v("dreq")),
    Metric("responses_denied_total", "counter", "Responses denied by rules.", _v("dresp")),
    Metric("request_errors_total", "counter", "Invalid or failed requests.", _v("ereq")),
    Metric(
        "limit_session_rate",
        "gauge",
        "Configured limit of new sessions per second (0: none).",
        lambda r: 0,
    ),
    Metric(
        "max_session_rate",
        "gauge",
        "Highest number of new sessions per second seen.",
        lambda r: r.rates.rate_max,
    ),
    Metric(
        "http_requests_rate_max",
        "gauge",
        "Highest number of HTTP requests per second seen.",
        lambda r: r.rates.req_rate_max,
        True,
    ),
    Metric("http_requests_total", "counter", "HTTP requests.", _v("req_tot"), True),
    Metric(
        "connections_rate_max",
        "gauge",
        "Highest number of new connections per second seen.",
        lambda r: r.rates.conn_rate_max,
    ),
    Metric("connections_total", "counter", "Connections accepted.", _v("conn_tot")),
    Metric(
        "intercepted_requests_total",
        "counter",
        "Requests answered by lb itself (stats, redirects, services).",
        _v("intercepted"),
        True,
    ),
    Metric(
        "denied_connections_total",
        "counter",
        "Connections denied by tcp-request connection rules.",
        _v("dcon"),
    ),
    Metric(
        "denied_sessions_total",
        "counter",
        "Sessions denied by tcp-request session rules.",
        _v("dses"),
    ),
    Metric("failed_header_rewriting_total", "counter", "Failed header rewrites.", _v("wrew")),
    Metric("internal_errors_total", "counter", "Internal errors.", _v("eint")),
    *_COMPRESSION,
]

# lb's own, per frontend: TLS termination (bind … ssl); 0 on a frontend without TLS
LB_FRONTEND: list[Metric] = [
    Metric("ssl_handshakes_total", "counter", "TLS handshakes completed.", _v("ssl_sess")),
    Metric(
        "ssl_failed_handshakes_total",
        "counter",
        "TLS handshakes that failed or timed out.",
        _v("ssl_failed_handshake"),
    ),
]

_BACKEND_SIDE = [
    Metric("current_queue", "gauge", "Requests waiting in the queue.", lambda r: r.c[Record.QCUR]),
    Metric("max_queue", "gauge", "Highest number of queued requests seen.", lambda r: r.qmax),
    *_COMMON,
    Metric("responses_denied_total", "counter", "Responses denied by rules.", _v("dresp")),
    Metric("connection_errors_total", "counter", "Failed connections to a server.", _v("econ")),
    Metric("response_errors_total", "counter", "Invalid or failed responses.", _v("eresp")),
    Metric("retry_warnings_total", "counter", "Connection retries.", _v("wretr")),
    Metric("redispatch_warnings_total", "counter", "Redispatches to another server.", _v("wredis")),
    Metric(
        "weight",
        "gauge",
        "Effective weight (a backend: of its usable servers).",
        lambda r: r.weight,
    ),
    Metric(
        "check_last_change_seconds",
        "gauge",
        "Seconds since the last state change.",
        lambda r: r.lastchg,
    ),
    Metric("downtime_seconds_total", "counter", "Seconds spent down.", lambda r: r.downtime),
    Metric(
        "loadbalanced_total", "counter", "Times a server was picked by the balancer.", _v("lbtot")
    ),
    Metric(
        "max_session_rate",
        "gauge",
        "Highest number of new sessions per second seen.",
        lambda r: r.rates.rate_max,
    ),
    Metric("http_requests_total", "counter", "HTTP requests.", _v("req_tot"), True),
    Metric("client_aborts_total", "counter", "Transfers aborted by the client.", _v("cli_abrt")),
    Metric("server_aborts_total", "counter", "Transfers aborted by the server.", _v("srv_abrt")),
    Metric(
        "last_session_seconds",
        "gauge",
        "Seconds since the last session (-1: never).",
        lambda r: r.lastsess,
    ),
    *(
        Metric(
            f"{word}_time_average_seconds",
            "gauge",
            f"Average {word} time of the last 1024 requests.",
            _average(i),
        )
        for i, word in enumerate(("queue", "connect", "response", "total"))
    ),
    Metric("failed_header_rewriting_total", "counter", "Failed header rewrites.", _v("wrew")),
    Metric(
        "connection_attempts_total", "counter", "New connections opened to servers.", _v("connect")
    ),
    Metric(
        "connection_reuses_total",
        "counter",
        "Requests sent over a reused server connection.",
        _v("reuse"),
    ),
    *(
        Metric(
            f"max_{word}_time_seconds",
            "gauge",
            f"Highest {word} time seen.",
            _highest(i),
        )
        for i, word in enumerate(("queue", "connect", "response", "total"))
    ),
    Metric("internal_errors_total", "counter", "Internal errors.", _v("eint")),
    Metric(
        "uweight", "gauge", "User weight (a backend: of its usable servers).", lambda r: r.uweight
    ),
]

BACKEND: list[Metric] = [
    *_BACKEND_SIDE,
    Metric("requests_denied_total", "counter", "Requests denied by rules.", _v("dreq")),
    Metric("active_servers", "gauge", "Active servers up with a non-zero weight.", lambda r: r.act),
    Metric("backup_servers", "gauge", "Backup servers up with a non-zero weight.", lambda r: r.bck),
    Metric(
        "check_up_down_total", "counter", "Transitions of servers from up to down.", lambda r: 0
    ),
    *_COMPRESSION,
]

SERVER: list[Metric] = [
    *_BACKEND_SIDE,
    Metric(
        "queue_limit",
        "gauge",
        "Configured limit of queued requests (maxqueue).",
        lambda r: r.qlimit,
    ),
    Metric(
        "current_throttle",
        "gauge",
        "Percent of the weight applied while slowstart ramps up.",
        lambda r: r.throttle,
    ),
    Metric(
        "check_failures_total",
        "counter",
        "Failed health checks.",
        lambda r: 0 if r.checked else None,
    ),
    Metric(
        "check_up_down_total",
        "counter",
        "Transitions from up to down.",
        lambda r: 0 if r.checked else None,
    ),
    Metric(
        "check_code",
        "gauge",
        "Status code of the last layer 7 check.",
        lambda r: r.state.check_code if r.checked and r.state else None,
    ),
    Metric(
        "check_duration_seconds",
        "gauge",
        "Duration of the last health check.",
        lambda r: r.state.check_duration_ms / 1000 if r.checked and r.state else None,
    ),
]

_SERVER_STATES = ("DOWN", "UP", "MAINT", "DRAIN", "NOLB")
_CHECK_STATES = tuple(
    s.name for s in CheckStatus if s.value >= CheckStatus.HANA and s is not CheckStatus.L57DATA
)
_CODES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
_HRSP = tuple(Record.RSP + i for i in range(6))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value)) if value == value else "NaN"


def _float(value: float | bool) -> str:
    return repr(value) if type(value) is float and value == value else _num(value)


def _labels(row: Row) -> str:
    if row.kind is ObjKind.SERVER:
        return f'proxy="{_escape(row.proxy)}",server="{_escape(row.name)}"'
    return f'proxy="{_escape(row.proxy)}"'


def _server_state(row: Row) -> str:
    state = row.state
    if state is None:
        return "UP"
    if state.maint:
        return "MAINT"
    if not state.up:
        return "DOWN"
    if state.drain:
        return "DRAIN"
    if state.op is OpState.STOPPING:
        return "NOLB"
    return "UP"


class _Out:
    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines: list[str] = []

    def head(self, name: str, kind: str, text: str) -> None:
        self.lines.append(f"# HELP {name} {text}\n# TYPE {name} {kind}\n")


@dataclass(frozen=True, slots=True)
class _Group:
    """The rows of one scope with their label text, and the HTTP ones apart: every family
    of the scope walks them (tens of families x a thousand servers)."""

    rows: list[Row]
    labels: list[str]
    http_rows: list[Row]
    http_labels: list[str]

    @classmethod
    def of(cls, rows: Sequence[Row]) -> _Group:
        labels = [_labels(r) for r in rows]
        http = [i for i, r in enumerate(rows) if r.mode == "http"]
        return cls(list(rows), labels, [rows[i] for i in http], [labels[i] for i in http])


def _family(out: _Out, prefix: str, metric: Metric, group: _Group) -> None:
    if metric.http_only:
        rows, labels = group.http_rows, group.http_labels
    else:
        rows, labels = group.rows, group.labels
    start = f"{prefix}{metric.name}{{"
    get = metric.get
    if type(get) is int:  # a record slot: always an int, never absent
        samples = [f"{start}{lab}}} {row.c[get]}\n" for row, lab in zip(rows, labels, strict=True)]
    else:
        values = list(map(get, rows))  # type: ignore[arg-type]
        # ints and finite floats formatted inline (repr: the shortest exact form); anything
        # else (NaN, a bool) through _num
        samples = [
            f"{start}{lab}}} {value if type(value) is int else _float(value)}\n"
            for value, lab in zip(values, labels, strict=True)
            if value is not None
        ]
    if samples:
        out.head(prefix + metric.name, metric.kind, metric.help)
        out.lines.extend(samples)


def _status(
    out: _Out,
    name: str,
    group: _Group,
    states: Sequence[str],
    current: Callable[[Row], str | None],
    text: str,
) -> None:
    # every line's end, per current state: one concatenation per sample
    tails = {now: [f',state="{s}"}} {int(s == now)}\n' for s in states] for now in states}
    head = f"{name}{{"
    samples: list[str] = []
    for row, lab in zip(group.rows, group.labels, strict=True):
        now = current(row)
        if now is None:
            continue
        ends = tails.get(now) or [f',state="{s}"}} 0\n' for s in states]
        start = head + lab
        samples += [start + end for end in ends]
    if samples:
        out.head(name, "gauge", text)
        out.lines.extend(samples)


def _responses(out: _Out, name: str, group: _Group) -> None:
    codes = [(f',code="{code}"}} ', slot) for code, slot in zip(_CODES, _HRSP, strict=True)]
    head = f"{name}{{"
    samples: list[str] = []
    for row, lab in zip(group.http_rows, group.http_labels, strict=True):
        c = row.c
        start = head + lab
        samples += [f"{start}{code}{c[slot]}\n" for code, slot in codes]
    if samples:
        out.head(name, "counter", "HTTP responses by status class.")
        out.lines.extend(samples)


_LE = (*(f"{BOUNDS[i]:g}" for i in EXPORTED_BOUNDS), "+Inf")
_PICK = (*EXPORTED_BOUNDS, NBUCKETS - 1)  # the last cumulative count is the total
_LE_TAILS = tuple(f',le="{le}"}} ' for le in _LE)
_ZEROS = tuple(f"{tail}0\n" for tail in _LE_TAILS)  # an object that never saw a request
_PHASES = ("queue", "connect", "response", "total")


def _histograms(out: _Out, prefix: str, group: _Group, phases: Sequence[int]) -> None:
    picks = tuple(zip(_LE_TAILS, _PICK, strict=True))
    for phase in phases:
        word = _PHASES[phase]
        name = f"{prefix}{word}_time_seconds"
        first = Record.HIST + phase * Record.HIST_STRIDE + 1  # the first bucket
        samples: list[str] = []
        bucket = f"{name}_bucket{{"
        for row, lab in zip(group.rows, group.labels, strict=True):
            c = row.c
            start = bucket + lab
            counts = c[first : first + NBUCKETS]
            if any(counts):
                running = list(accumulate(counts))
                samples += [f"{start}{tail}{running[i]}\n" for tail, i in picks]
                total = running[-1]
            else:
                samples += [start + zero for zero in _ZEROS]
                total = 0
            samples.append(f"{name}_sum{{{lab}}} {c[first - 1] / 1_000_000!r}\n")
            samples.append(f"{name}_count{{{lab}}} {total}\n")
        if samples:
            out.head(name, "histogram", f"{word.capitalize()} time (tcp: of sessions), seconds.")
            out.lines.extend(samples)


def _process(out: _Out, p: Process) -> None:
    def gauge(name: str, value: int | float, text: str, kind: str = "gauge") -> None:
        out.head(f"haproxy_process_{name}", kind, text)
        out.lines.append(f"haproxy_process_{name} {_num(value)}\n")

    gauge("nbthread", p.nbthread, "Worker processes (lb's meaning of nbthread).")
    gauge("nbproc", 1, "Processes as HAProxy counts them (always 1).")
    gauge("relative_process_id", 1, "Process number (always 1).")
    gauge("uptime_seconds", round(p.uptime, 3), "Seconds since lb started.")
    gauge("start_time_seconds", round(p.started, 3), "When lb started, seconds since the epoch.")
    gauge("max_connections", p.maxconn, "Daemon-wide connection limit (maxconn).")
    gauge("hard_max_connections", p.maxconn, "Daemon-wide hard connection limit.")
    gauge("current_connections", p.cur_conns, "Connections open now, all workers.")
    gauge("connections_total", p.cum_conns, "Connections accepted since lb started.", "counter")
    gauge("requests_total", p.cum_req, "HTTP requests since lb started.", "counter")
    gauge("current_connection_rate", p.conn_rate, "New connections over the last second.")
    gauge(
        "max_connection_rate", p.conn_rate_max, "Highest number of new connections per second seen."
    )
    gauge("current_session_rate", p.sess_rate, "New sessions over the last second.")
    gauge("max_session_rate", p.sess_rate_max, "Highest number of new sessions per second seen.")
    gauge("stopping", int(p.master.stopping), "1 while lb is stopping.")
    gauge("jobs", p.cur_conns + p.listeners, "Connections and listeners.")
    gauge("listeners", p.listeners, "Listening addresses.")
    gauge("bytes_out_total", p.bytes_out, "Bytes sent to clients.", "counter")
    gauge("bytes_out_rate", p.bytes_out_rate, "Bytes sent to clients over the last second.")
    out.head("haproxy_process_build_info", "gauge", "Build information.")
    out.lines.append(f'haproxy_process_build_info{{version="{_escape(p.version)}"}} 1\n')


def _lb(out: _Out, p: Process) -> None:
    m = p.master
    current = [w for w in m.workers if w.generation == m.generation and not w.stopping]

    def one(name: str, kind: str, value: int, text: str) -> None:
        out.head(name, kind, text)
        out.lines.append(f"{name} {value}\n")

    one("lb_workers", "gauge", len(current), "Worker processes of the current generation.")
    one(
        "lb_workers_draining",
        "gauge",
        len(m.workers) - len(current),
        "Old workers finishing their connections.",
    )
    one("lb_worker_restarts_total", "counter", m.restarts, "Workers that died and were replaced.")
    one("lb_reloads_total", "counter", m.reloads, "Successful reloads.")
    one(
        "lb_failed_reloads_total",
        "counter",
        m.failed_reloads,
        "Reloads refused (the running generation kept serving).",
    )
    one("lb_generation", "gauge", m.generation, "Configuration generation now serving.")
    if m.vrrp:
        out.head("lb_vrrp_state", "gauge", "VRRP instance state, per state label value.")
        for v in m.vrrp:
            name = _escape(v.name)
            out.lines.extend(
                f'lb_vrrp_state{{instance="{name}",state="{s}"}} {int(s == v.state)}\n'
                for s in ("INIT", "BACKUP", "MASTER", "FAULT")
            )
        out.head("lb_vrrp_priority", "gauge", "VRRP instance effective priority.")
        out.lines.extend(
            f'lb_vrrp_priority{{instance="{_escape(v.name)}"}} {v.priority}\n' for v in m.vrrp
        )


def parse_scopes(query: Iterable[tuple[str, str]]) -> tuple[frozenset[str], bool]:
    """HAProxy's exporter parameters: repeated ``scope=`` (``*`` = all, empty = none) and
    ``no-maint``. Without any scope parameter, everything."""
    scopes: set[str] | None = None
    no_maint = False
    for key, value in query:
        if key == "scope":
            scopes = set() if scopes is None else scopes
            if value == "*":
                scopes.update(SCOPES)
            elif value:
                scopes.add(value)
        elif key == "no-maint":
            no_maint = True
    return frozenset(SCOPES if scopes is None else scopes), no_maint


def render_prometheus(
    snapshot: Snapshot, scopes: Iterable[str] = SCOPES, no_maint: bool = False
) -> str:
    wanted = set(scopes)
    out = _Out()
    if "global" in wanted:
        _process(out, snapshot.process)
        _lb(out, snapshot.process)
    frontends = [p.frontend for p in snapshot.proxies if p.frontend is not None]
    backends = [p.backend for p in snapshot.proxies if p.backend is not None]
    servers = [
        s
        for p in snapshot.proxies
        for s in p.servers
        if not (no_maint and s.state is not None and s.state.maint)
    ]
    if "frontend" in wanted and frontends:
        group = _Group.of(frontends)
        for metric in FRONTEND:
            _family(out, "haproxy_frontend_", metric, group)
        _status(
            out,
            "haproxy_frontend_status",
            group,
            ("DOWN", "UP"),
            lambda r: "DOWN" if r.status == "STOP" else "UP",
            "Frontend status, per state label value.",
        )
        _responses(out, "haproxy_frontend_http_responses_total", group)
        for metric in LB_FRONTEND:
            _family(out, "lb_frontend_", metric, group)
    if "backend" in wanted and backends:
        group = _Group.of(backends)
        for metric in BACKEND:
            _family(out, "haproxy_backend_", metric, group)
        _status(
            out,
            "haproxy_backend_status",
            group,
            ("DOWN", "UP"),
            lambda r: "UP" if r.status.startswith("UP") else "DOWN",
            "Backend status, per state label value.",
        )
        _responses(out, "haproxy_backend_http_responses_total", group)
        _histograms(out, "haproxy_backend_", group, (0, 1, 2, 3))
    if "server" in wanted and servers:
        group = _Group.of(servers)
        for metric in SERVER:
            _family(out, "haproxy_server_", metric, group)
        _status(
            out,
            "haproxy_server_status",
            group,
            _SERVER_STATES,
            _server_state,
            "Server status, per state label value.",
        )
        _status(
            out,
            "haproxy_server_check_status",
            group,
            _CHECK_STATES,
            lambda r: r.state.check_status.name if r.checked and r.state else None,
            "Status of the last health check, per state label value.",
        )
        _responses(out, "haproxy_server_http_responses_total", group)
        # one histogram per server (total time) keeps /metrics small with many servers;
        # the backends have all four
        _histograms(out, "haproxy_server_", group, (3,))
    return "".join(out.lines)
