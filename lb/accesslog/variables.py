"""The %-variables of a log-format (HAProxy manual 8.2.6), each built once into a closure.

A builder takes the variable's flags and the compile context and returns a renderer:
``record -> str``, or ``None`` for "printed nothing" (only %hr/%hs/%hrl/%hsl without captures),
which lets the separator that follows collapse as in HAProxy.
"""

from __future__ import annotations

from collections.abc import Callable

from msgspec import Struct

from lb.accesslog import dates
from lb.accesslog.escape import encode_header, encode_uri, escape_e, hex_ip
from lb.accesslog.record import LogRecord, ProcessInfo

Renderer = Callable[[LogRecord], str | None]
Getter = Callable[[LogRecord], str | None]

REQURI_MAX = 1023  # HAProxy keeps the first tune.requri_len - 1 bytes of the request line
BADREQ = "<BADREQ>"


class Flags(Struct, frozen=True):
    q: bool = False  # +Q: quote strings and addresses
    x: bool = False  # +X: hexadecimal addresses, ports, %Ts, %rt, %pid
    e: bool = False  # +E: backslash before '"', '\' and ']'


class Context(Struct, frozen=True):
    process: ProcessInfo
    logasap: bool = False  # "+" before %B, %Ta and %Tt


Builder = Callable[[Flags, Context], Renderer]


# --------------------------------------------------------------------------- shapes


def string_renderer(get: Getter, f: Flags) -> Renderer:
    """A string value; None prints "-" (or "" when quoted), as HAProxy."""
    if not f.q and not f.e:

        def plain(rec: LogRecord) -> str:
            v = get(rec)
            return "-" if v is None else v

        return plain

    def flagged(rec: LogRecord) -> str:
        v = get(rec)
        if v is None:
            return '""' if f.q else "-"
        if f.e:
            v = escape_e(v)
        return f'"{v}"' if f.q else v

    return flagged


def _raw(get: Callable[[LogRecord], str]) -> Builder:
    """Printed as is whatever the flags (%ts, %tsc, dates)."""
    return lambda f, c: get


def _int(get: Callable[[LogRecord], int], hexwidth: int = 0, plus: bool = False) -> Builder:
    """A number; X applies only where HAProxy applies it (hexwidth > 0)."""

    def build(f: Flags, c: Context) -> Renderer:
        if f.x and hexwidth:
            return lambda rec: f"{get(rec):0{hexwidth}X}"
        if plus and c.logasap:
            return lambda rec: f"+{get(rec)}"
        return lambda rec: str(get(rec))

    return build


def _port(get: Callable[[LogRecord], int]) -> Builder:
    def build(f: Flags, c: Context) -> Renderer:
        if f.x:
            return lambda rec: "-" if (p := get(rec)) < 0 else f"{p:04X}"
        return lambda rec: "-" if (p := get(rec)) < 0 else str(p)

    return build


def _ip(get: Callable[[LogRecord], str]) -> Builder:
    def build(f: Flags, c: Context) -> Renderer:
        def value(rec: LogRecord) -> str | None:
            v = get(rec)
            if v == "-" or not v:
                return None
            return hex_ip(v) if f.x else v

        return string_renderer(value, f)

    return build


def _str(get: Getter) -> Builder:
    return lambda f, c: string_renderer(get, f)


# --------------------------------------------------------------------------- the request line


def request_line(rec: LogRecord) -> str:
    if rec.method is None:
        return BADREQ
    line = rec.method + b" " + rec.uri
    if rec.version:
        line += b" " + rec.version
    return encode_uri(line[:REQURI_MAX])


def _req_part(part: Callable[[LogRecord], bytes]) -> Getter:
    def get(rec: LogRecord) -> str:
        return BADREQ if rec.method is None else encode_uri(part(rec))

    return get


def _path(rec: LogRecord) -> bytes:
    return rec.uri.partition(b"?")[0]


def _path_only(rec: LogRecord) -> bytes:
    path = _path(rec)
    if path.startswith(b"/") or b"://" not in path:
        return path
    rest = path.partition(b"://")[2]
    slash = rest.find(b"/")
    return b"/" if slash < 0 else rest[slash:]


def _query(rec: LogRecord) -> bytes:
    _, sep, query = rec.uri.partition(b"?")
    return sep + query


# --------------------------------------------------------------------------- captures


def _captures_block(get: Callable[[LogRecord], list[bytes | None] | None]) -> Builder:
    """%hr / %hs: ``{v1|v2}``, nothing at all when nothing was captured."""

    def build(f: Flags, c: Context) -> Renderer:
        def render(rec: LogRecord) -> str | None:
            caps = get(rec)
            if caps is None:
                return None
            body = "|".join("" if v is None else encode_header(v) for v in caps)
            v = escape_e(body) if f.e else body
            return f'"{{{v}}}"' if f.q else f"{{{v}}}"

        return render

    return build


def _captures_list(get: Callable[[LogRecord], list[bytes | None] | None]) -> Builder:
    """%hrl / %hsl: the values separated by spaces, "-" for an absent header."""

    def build(f: Flags, c: Context) -> Renderer:
        absent = '""' if f.q else "-"

        def one(v: bytes | None) -> str:
            if v is None:
                return absent
            s = encode_header(v)
            if f.e:
                s = escape_e(s)
            return f'"{s}"' if f.q else s

        def render(rec: LogRecord) -> str | None:
            caps = get(rec)
            if caps is None:
                return None
            return " ".join([one(v) for v in caps])

        return render

    return build


def _cookie(get: Callable[[LogRecord], bytes | None]) -> Getter:
    def value(rec: LogRecord) -> str | None:
        v = get(rec)
        return None if v is None else encode_uri(v)

    return value


# --------------------------------------------------------------------------- timers and dates


def _tq(rec: LogRecord) -> int:
    if rec.Th < 0 or rec.Ti < 0 or rec.TR < 0:
        return -1
    return rec.Th + rec.Ti + rec.TR


def _tu(rec: LogRecord) -> int:
    if rec.Tt < 0:
        return -1
    return rec.Tt - rec.Ti if rec.Ti > 0 else rec.Tt


def _td(rec: LogRecord) -> int:
    if rec.Tt < 0:
        return -1
    spent = sum(t for t in (_tq(rec), rec.Tw, rec.Tc, rec.Tr) if t > 0)
    return max(rec.Tt - spent, 0)


def request_date_ms(rec: LogRecord) -> int:
    if rec.request_ms >= 0:
        return rec.request_ms
    return rec.accept_ms + max(rec.Th, 0) + max(rec.Ti, 0)


def _retries(f: Flags, c: Context) -> Renderer:
    return lambda rec: f"+{rec.retries}" if rec.redispatched else str(rec.retries)


def _constant_int(value: Callable[[Context], int]) -> Builder:
    def build(f: Flags, c: Context) -> Renderer:
        text = f"{value(c):04X}" if f.x else str(value(c))
        return lambda rec: text

    return build


def _hostname(f: Flags, c: Context) -> Renderer:
    host = c.process.hostname
    return string_renderer(lambda rec: host, f)


# --------------------------------------------------------------------------- the table

VARIABLES: dict[str, Builder] = {
    # connection and routing
    "ci": _ip(lambda r: r.client_ip),
    "cp": _port(lambda r: r.client_port),
    "fi": _ip(lambda r: r.frontend_ip),
    "fp": _port(lambda r: r.frontend_port),
    "si": _ip(lambda r: r.server_ip),
    "sp": _port(lambda r: r.server_port),
    "bi": _ip(lambda r: r.backend_src_ip),
    "bp": _port(lambda r: r.backend_src_port),
    "f": _str(lambda r: r.frontend_name),
    "ft": _str(lambda r: r.frontend_name + "~" if r.tls else r.frontend_name),
    "b": _str(lambda r: r.backend_name or r.frontend_name),
    "s": _str(lambda r: r.server_name),
    # dates
    "t": _raw(lambda r: dates.clf_ms(r.accept_ms)),
    "T": _raw(lambda r: dates.clf_gmt(r.accept_ms)),
    "Tl": _raw(lambda r: dates.clf_local(r.accept_ms)),
    "tr": _raw(lambda r: dates.clf_ms(request_date_ms(r))),
    "trg": _raw(lambda r: dates.clf_gmt(request_date_ms(r))),
    "trl": _raw(lambda r: dates.clf_local(request_date_ms(r))),
    "ms": _raw(lambda r: f"{r.accept_ms % 1000:03d}"),
    "Ts": _int(lambda r: r.accept_ms // 1000, hexwidth=8),
    # timers
    "Th": _int(lambda r: r.Th),
    "Ti": _int(lambda r: r.Ti),
    "TR": _int(lambda r: r.TR),
    "Tq": _int(_tq),
    "Tw": _int(lambda r: r.Tw),
    "Tc": _int(lambda r: r.Tc),
    "Tr": _int(lambda r: r.Tr),
    "Ta": _int(lambda r: r.Ta, plus=True),
    "Tt": _int(lambda r: r.Tt, plus=True),
    "Tu": _int(_tu),
    "Td": _int(_td),
    # outcome and counters
    "ST": _int(lambda r: r.status),
    "B": _int(lambda r: r.bytes_out, plus=True),
    "U": _int(lambda r: r.bytes_in),
    "CC": _str(_cookie(lambda r: r.cookie_req)),
    "CS": _str(_cookie(lambda r: r.cookie_res)),
    "ts": _raw(lambda r: r.termination),
    "tsc": _raw(lambda r: r.termination + r.cookie_state),
    "ac": _int(lambda r: r.actconn),
    "fc": _int(lambda r: r.feconn),
    "bc": _int(lambda r: r.beconn),
    "sc": _int(lambda r: r.srv_conn),
    "rc": _retries,
    "rt": _int(lambda r: r.request_counter, hexwidth=4),
    "sq": _int(lambda r: r.srv_queue),
    "bq": _int(lambda r: r.backend_queue),
    # captures
    "hr": _captures_block(lambda r: r.req_captures),
    "hs": _captures_block(lambda r: r.res_captures),
    "hrl": _captures_list(lambda r: r.req_captures),
    "hsl": _captures_list(lambda r: r.res_captures),
    # the request
    "r": _str(request_line),
    "HM": _str(_req_part(lambda r: r.method or b"")),
    "HU": _str(_req_part(lambda r: r.uri)),
    "HP": _str(_req_part(_path)),
    "HPO": _str(_req_part(_path_only)),
    "HQ": _str(_req_part(_query)),
    "HV": _str(_req_part(lambda r: r.version)),
    # process
    "pid": _constant_int(lambda c: c.process.pid),
    "H": _hostname,
    "ID": _str(lambda r: r.unique_id),
}

# Variables HAProxy refuses outside "mode http" (checked against haproxy 2.6).
# fmt: off
HTTP_ONLY = frozenset((
    "CC", "CS", "HM", "HP", "HPO", "HQ", "HU", "HV",
    "Ta", "Ti", "Tq", "TR", "Tr", "r", "tr", "trg", "trl",
))
# fmt: on

# Known to HAProxy, not to lb yet: an explicit error rather than "no such variable".
NOT_YET = frozenset(("lc", "sslc", "sslv"))
