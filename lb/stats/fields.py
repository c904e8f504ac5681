"""HAProxy's stat fields: the CSV columns, their typed tags, and each row's values.

``NAMES`` are HAProxy's column names in HAProxy's order (0 pxname … 61 ttime … 102
agg_check_status): scripts index them by position. A row fills only the fields that exist
for its kind of object, as HAProxy does; the others stay empty in CSV and are left out of
the typed and JSON forms. Tags and types are HAProxy's (origin, nature, scope; u32, u64,
s32, str), as its ``show stat typed`` prints them.
"""

from __future__ import annotations

from lb.stats.objects import ObjKind
from lb.stats.schema import INDEX, Record
from lb.stats.server_state import CheckStatus
from lb.stats.snapshot import Row

_COLUMNS = """pxname svname qcur qmax scur smax slim stot bin bout dreq dresp ereq econ eresp wretr
    wredis status weight act bck chkfail chkdown lastchg downtime qlimit pid iid sid throttle
    lbtot tracked type rate rate_lim rate_max check_status check_code check_duration hrsp_1xx
    hrsp_2xx hrsp_3xx hrsp_4xx hrsp_5xx hrsp_other hanafail req_rate req_rate_max req_tot
    cli_abrt srv_abrt comp_in comp_out comp_byp comp_rsp lastsess last_chk last_agt qtime ctime
    rtime ttime agent_status agent_code agent_duration check_desc agent_desc check_rise
    check_fall check_health agent_rise agent_fall agent_health addr cookie mode algo conn_rate
    conn_rate_max conn_tot intercepted dcon dses wrew connect reuse cache_lookups cache_hits
    srv_icur src_ilim qtime_max ctime_max rtime_max ttime_max eint idle_conn_cur safe_conn_cur
    used_conn_cur need_conn_est uweight agg_server_status agg_server_check_status
    agg_check_status"""
NAMES: tuple[str, ...] = tuple(_COLUMNS.split())
POS: dict[str, int] = {n: i for i, n in enumerate(NAMES)}

# Tags and type per object kind, where the field exists: "F" frontend, "B" backend,
# "S" server, "L" listener; tags = origin, nature, scope letters.
_TYPED = """
pxname FBSL:KNS:str
svname FBSL:KNS:str
qcur BS:MGP:u32
qmax BS:MMP:u32
scur FBSL:MGP:u32
smax FBSL:MMP:u32
slim FBSL:CLP:u32
stot FBSL:MCP:u64
bin FBSL:MCP:u64
bout FBSL:MCP:u64
dreq FBL:MCP:u64
dresp FBSL:MCP:u64
ereq FL:MCP:u64
econ BS:MCP:u64
eresp BS:MCP:u64
wretr BS:MCP:u64
wredis BS:MCP:u64
status FBSL:SGP:str
weight BS:MaP:u32
act B:MGP:u32 S:SGP:u32
bck B:MGP:u32 S:SGP:u32
chkfail S:MCP:u64
chkdown BS:MCP:u64
lastchg BS:MAP:u32
downtime BS:MCP:u32
qlimit S:CGS:u32
pid FBSL:KGP:u32
iid FBSL:KGS:u32
sid FBSL:KGS:u32
throttle S:MaP:u32
lbtot BS:MCP:u64
tracked S:CNS:str
type FBSL:CGS:u32
rate B:MGP:u32 FS:MRP:u32
rate_lim F:CLP:u32
rate_max B:MGP:u32 FS:MMP:u32
check_status S:MOP:str
check_code S:MOP:u32
check_duration S:MDP:u64
hrsp_1xx FBS:MCP:u64
hrsp_2xx FBS:MCP:u64
hrsp_3xx FBS:MCP:u64
hrsp_4xx FBS:MCP:u64
hrsp_5xx FBS:MCP:u64
hrsp_other FBS:MCP:u64
hanafail S:MCP:u64
req_rate F:MRP:u32
req_rate_max F:MMP:u32
req_tot FBS:MCP:u64
cli_abrt BS:MCP:u64
srv_abrt BS:MCP:u64
comp_in FB:MCP:u64
comp_out FB:MCP:u64
comp_byp FB:MCP:u64
comp_rsp FB:MCP:u64
lastsess BS:MAP:s32
last_chk S:MOP:str
last_agt S:MOP:str
qtime BS:MaP:u32
ctime BS:MaP:u32
rtime BS:MaP:u32
ttime BS:MaP:u32
agent_status S:MOP:str
agent_code S:MOP:u32
agent_duration S:MDP:u64
check_desc S:MOP:str
agent_desc S:MOP:str
check_rise S:CGS:u32
check_fall S:CGS:u32
check_health S:CGS:u32
agent_rise S:CGS:u32
agent_fall S:CGS:u32
agent_health S:CGS:u32
addr LS:CGS:str
cookie BS:CNS:str
mode FBSL:CGS:str
algo B:CGS:str
conn_rate F:MRP:u32
conn_rate_max F:MMP:u32
conn_tot F:MCP:u64
intercepted F:MCP:u64
dcon FL:MCP:u64
dses FL:MCP:u64
wrew FBSL:MCP:u64
connect BS:MCP:u64
reuse BS:MCP:u64
cache_lookups FB:MCP:u64
cache_hits FB:MCP:u64
srv_icur S:MGP:u32
src_ilim S:MGP:u32
qtime_max BS:MMP:u32
ctime_max BS:MMP:u32
rtime_max BS:MMP:u32
ttime_max BS:MMP:u32
eint FBSL:MCP:u64
idle_conn_cur S:MGP:u32
safe_conn_cur S:MGP:u32
used_conn_cur S:MGP:u32
need_conn_est S:MGP:u32
uweight BS:MaP:u32
agg_server_status B:MGP:u32
agg_server_check_status B:MGP:u32
agg_check_status B:MGP:u32
"""

KIND_LETTER = {
    ObjKind.FRONTEND: "F",
    ObjKind.BACKEND: "B",
    ObjKind.SERVER: "S",
    ObjKind.LISTENER: "L",
}
KIND_NAME = {
    ObjKind.FRONTEND: "Frontend",
    ObjKind.BACKEND: "Backend",
    ObjKind.SERVER: "Server",
    ObjKind.LISTENER: "Listener",
}


def _parse_typed() -> dict[tuple[str, int], tuple[str, str]]:
    out: dict[tuple[str, int], tuple[str, str]] = {}
    for line in _TYPED.strip().splitlines():
        name, *specs = line.split()
        for spec in specs:
            kinds, tags, typ = spec.split(":")
            for k in kinds:
                out[(k, POS[name])] = (tags, typ)
    return out


TYPED: dict[tuple[str, int], tuple[str, str]] = _parse_typed()
assert len(NAMES) == 103 and {p for _, p in TYPED} == set(range(103))

Value = int | str


def _ms(us: int) -> int:
    return (us + 500) // 1000


def _slots(*names: str) -> tuple[tuple[int, int], ...]:
    """(field position, record slot) of counters shown as they are."""
    return tuple((POS[n], INDEX[n]) for n in names)


def _zeros(*names: str) -> tuple[int, ...]:
    return tuple(POS[n] for n in names)


# values() runs once per row and fills a hundred fields: positions and slots are looked up
# here, once, not by name in every row
_ALL = _slots("stot", "bin", "bout", "dresp", "wrew", "eint")
_FE_LI = _slots("dreq", "ereq", "dcon", "dses")
_BE_SRV = _slots(
    "econ", "eresp", "wretr", "wredis", "lbtot", "cli_abrt", "srv_abrt", "connect", "reuse"
)
_RSP = _slots("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
_REQ_TOT = _slots("req_tot")
_COMP = _slots("comp_in", "comp_out", "comp_byp", "comp_rsp")
_CACHE = _zeros("cache_lookups", "cache_hits")
_AGG = _zeros("agg_server_status", "agg_server_check_status", "agg_check_status")
_CONNS = _zeros("srv_icur", "idle_conn_cur", "safe_conn_cur", "used_conn_cur", "need_conn_est")
_TIMES = tuple(
    (POS[n], POS[f"{n}_max"], Record.MAXES + i)
    for i, n in enumerate(("qtime", "ctime", "rtime", "ttime"))
)
_P = POS


def values(row: Row) -> list[Value | None]:
    """The row's value of every field, None where the field does not exist for it."""
    out: list[Value | None] = [None] * len(NAMES)
    kind = row.kind
    c = row.c
    http = row.mode == "http"
    out[_P["pxname"]] = row.proxy
    out[_P["svname"]] = row.name
    out[_P["scur"]] = row.scur
    out[_P["smax"]] = row.smax
    out[_P["pid"]] = 1
    out[_P["iid"]] = row.iid
    out[_P["sid"]] = row.sid
    out[_P["type"]] = int(kind)
    out[_P["status"]] = row.status
    out[_P["mode"]] = row.mode
    for pos, slot in _ALL:
        out[pos] = c[slot]
    if kind is ObjKind.FRONTEND or kind is ObjKind.LISTENER:
        out[_P["slim"]] = row.slim or 0
        for pos, slot in _FE_LI:
            out[pos] = c[slot]
    if kind is ObjKind.LISTENER:
        out[_P["addr"]] = row.addr
        return out
    if kind is ObjKind.FRONTEND:
        r = row.rates
        out[_P["rate"]] = r.rate
        out[_P["rate_lim"]] = 0
        out[_P["rate_max"]] = r.rate_max
        out[_P["req_rate"]] = r.req_rate
        out[_P["req_rate_max"]] = r.req_rate_max
        out[_P["req_tot"]] = c[INDEX["req_tot"]] if http else 0
        out[_P["conn_rate"]] = r.conn_rate
        out[_P["conn_rate_max"]] = r.conn_rate_max
        out[_P["conn_tot"]] = c[INDEX["conn_tot"]]
        for pos, slot in _COMP:
            out[pos] = c[slot]
        if http:
            for pos, slot in _RSP:
                out[pos] = c[slot]
            out[_P["intercepted"]] = c[INDEX["intercepted"]]
            for pos in _CACHE:
                out[pos] = 0
        return out
    # servers and backends
    out[_P["qcur"]] = c[Record.QCUR] if kind is ObjKind.BACKEND else 0
    out[_P["qmax"]] = row.qmax
    for pos, slot in _BE_SRV:
        out[pos] = c[slot]
    out[_P["weight"]] = row.weight
    out[_P["uweight"]] = row.uweight
    out[_P["act"]] = row.act
    out[_P["bck"]] = row.bck
    out[_P["lastchg"]] = row.lastchg if row.lastchg is not None else 0
    out[_P["rate"]] = row.rates.rate
    out[_P["rate_max"]] = row.rates.rate_max
    out[_P["lastsess"]] = row.lastsess
    averages = row.averages
    for i, (pos, pos_max, slot) in enumerate(_TIMES):
        out[pos] = _ms(averages[i])
        out[pos_max] = _ms(c[slot])
    if http:
        for pos, slot in (*_RSP, *_REQ_TOT):
            out[pos] = c[slot]
    if row.cookie:
        out[_P["cookie"]] = row.cookie
    if kind is ObjKind.BACKEND:
        out[_P["slim"]] = row.slim or 0
        out[_P["dreq"]] = c[INDEX["dreq"]]
        out[_P["chkdown"]] = 0
        if row.downtime is not None:  # a backend with servers
            out[_P["downtime"]] = row.downtime
        out[_P["algo"]] = row.algo
        for pos, slot in _COMP:
            out[pos] = c[slot]
        if http:
            for pos in _CACHE:
                out[pos] = 0
        for pos in _AGG:
            out[pos] = 0
        return out
    # servers
    if row.slim:
        out[_P["slim"]] = row.slim
    if row.qlimit:
        out[_P["qlimit"]] = row.qlimit
    if row.throttle is not None:
        out[_P["throttle"]] = row.throttle
    out[_P["addr"]] = row.addr
    for pos in _CONNS:
        out[pos] = 0
    state = row.state
    if state is not None and state.checked:
        out[_P["chkfail"]] = 0
        out[_P["chkdown"]] = 0
        out[_P["downtime"]] = row.downtime or 0
        status = state.check_status
        out[_P["check_status"]] = status.text
        if status.name.startswith("L7") and state.check_code:
            out[_P["check_code"]] = state.check_code
        out[_P["check_duration"]] = state.check_duration_ms
        out[_P["check_desc"]] = status.description
        if status is not CheckStatus.UNKNOWN and not status.passed:
            out[_P["last_chk"]] = status.description
        out[_P["check_rise"]] = row.rise
        out[_P["check_fall"]] = row.fall
        out[_P["check_health"]] = state.health
    return out
