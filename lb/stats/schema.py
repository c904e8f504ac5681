"""The counter record: what one object (frontend, backend, server, listener) keeps per worker.

Every object has the same record of int64 slots, in a worker's slab and in the aggregates
read from them. Keeping one shape for every kind wastes a few slots on frontends but lets a
whole slab be summed as one vector.

A slot has a kind, which says how values from several workers (or a dead worker's slab and
the retired accumulator) combine — HAProxy's typed-stats rules:

- ``COUNTER``: summed, and folded into the retired accumulator when a worker exits;
- ``GAUGE``: summed over live workers only (a dead worker holds nothing any more);
- ``MAX``: the largest value wins (maxima and "last seen" timestamps, whose age is then
  the minimum).

Latency histograms have fixed log-scale buckets (the R10 preferred numbers, 10 µs to 100 s)
so that every worker, the master and Prometheus agree on the boundaries without ever
exchanging them.
"""

from __future__ import annotations

from enum import IntEnum

# Plain counters, in record order. The names are HAProxy's CSV column names where one exists
# (``connect`` is HAProxy's count of new server connections, ``reuse`` of reused ones).
SCALARS: tuple[str, ...] = (
    "stot",  # sessions (tcp) / connections handed to the object
    "bin",  # bytes from the client
    "bout",  # bytes to the client
    "dreq",  # requests denied by rules
    "dresp",  # responses denied by rules
    "ereq",  # request errors (frontend): bad requests, client timeouts before a request
    "econ",  # failed connections to a server (after all retries)
    "eresp",  # response errors: server closed or timed out before a full response head
    "wretr",  # connection retries
    "wredis",  # redispatches to another server
    "req_tot",  # HTTP requests
    "cli_abrt",  # transfers aborted by the client
    "srv_abrt",  # transfers aborted by the server
    "lbtot",  # times a server was picked by the balancer
    "conn_tot",  # connections accepted (frontend, listener)
    "connect",  # new connections opened to a server
    "reuse",  # requests sent over a reused (pooled) server connection
    "intercepted",  # requests answered by lb itself (stats page, redirects, services)
    "dcon",  # connections denied by tcp-request connection rules
    "dses",  # sessions denied by tcp-request session rules
    "wrew",  # failed header rewrites
    "eint",  # internal errors
    "hanafail",  # failed health observations (observe layer4/layer7)
    "ssl_sess",  # TLS handshakes completed (frontend; HAProxy's SSL stats module name)
    "ssl_failed_handshake",  # TLS handshakes that failed or timed out (frontend)
    "comp_in",  # response bytes fed to the compressor
    "comp_out",  # bytes the compressor emitted
    "comp_byp",  # response bytes that went through the compression stage uncompressed (identity)
    "comp_rsp",  # responses compressed
)

# HTTP responses by class: index = status // 100 in the worker's list (0 and 6..9 = "other").
RSP_CLASSES: tuple[str, ...] = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx")
RSP_OTHER = "hrsp_other"

# The four timed phases of a request, as HAProxy's Tw/Tc/Tr/Tt: queue, connect, response, total.
PHASES: tuple[str, ...] = ("qtime", "ctime", "rtime", "ttime")


class Kind(IntEnum):
    COUNTER = 0
    GAUGE = 1
    MAX = 2


# --------------------------------------------------------------------------- buckets

_R10 = ("1", "1.25", "1.6", "2", "2.5", "3.15", "4", "5", "6.3", "8")
_MANTISSAS = [m for _e in range(-5, 2) for m in _R10] + ["1"]

# Upper bounds in seconds, inclusive (a value v lands in the first bucket with v <= bound, as
# Prometheus' ``le``). One more bucket after the last bound holds everything above 100 s.
BOUNDS: tuple[float, ...] = (
    *(float(f"{m}e{e}") for e in range(-5, 2) for m in _R10),
    100.0,
)
NBUCKETS = len(BOUNDS) + 1

# The bounds Prometheus is shown (1, 2.5 and 5 per decade from 100 µs): the full set would
# make /metrics four times longer for no dashboard's benefit.
EXPORTED_BOUNDS: tuple[int, ...] = tuple(
    i for i, b in enumerate(BOUNDS) if b >= 1e-4 and _MANTISSAS[i] in ("1", "2.5", "5")
)


# --------------------------------------------------------------------------- the record


class Record:
    """Slot numbers of one object's record (class attributes only: a namespace)."""

    names: tuple[str, ...]
    kinds: tuple[Kind, ...]
    size: int
    # where things are
    RSP: int  # first of hrsp_1xx..hrsp_5xx, hrsp_other (6 slots)
    QCUR: int
    LASTSESS: int  # CLOCK_MONOTONIC milliseconds of the last session; 0 = never
    MAXES: int  # qtime_max, ctime_max, rtime_max, ttime_max in µs (4 slots)
    HIST: int  # four histograms, each: sum of values in µs, then NBUCKETS counts
    HIST_STRIDE: int


def _build() -> None:
    names: list[str] = []
    kinds: list[Kind] = []

    def add(name: str, kind: Kind) -> int:
        names.append(name)
        kinds.append(kind)
        return len(names) - 1

    for s in SCALARS:
        add(s, Kind.COUNTER)
    Record.RSP = add(RSP_CLASSES[0], Kind.COUNTER)
    for s in (*RSP_CLASSES[1:], RSP_OTHER):
        add(s, Kind.COUNTER)
    Record.QCUR = add("qcur", Kind.GAUGE)
    Record.LASTSESS = add("lastsess", Kind.MAX)
    Record.MAXES = add("qtime_max", Kind.MAX)
    for p in PHASES[1:]:
        add(f"{p}_max", Kind.MAX)
    Record.HIST = len(names)
    Record.HIST_STRIDE = 1 + NBUCKETS
    for p in PHASES:
        add(f"{p}_sum", Kind.COUNTER)
        for i in range(NBUCKETS):
            add(f"{p}_b{i}", Kind.COUNTER)
    Record.names = tuple(names)
    Record.kinds = tuple(kinds)
    Record.size = len(names)


_build()

INDEX: dict[str, int] = {name: i for i, name in enumerate(Record.names)}
MAX_SLOTS: tuple[int, ...] = tuple(i for i, k in enumerate(Record.kinds) if k is Kind.MAX)
GAUGE_SLOTS: tuple[int, ...] = tuple(i for i, k in enumerate(Record.kinds) if k is Kind.GAUGE)


def hist_offset(phase: int) -> int:
    """Slot of the sum of histogram ``phase`` (0 queue, 1 connect, 2 response, 3 total)."""
    return Record.HIST + phase * Record.HIST_STRIDE
