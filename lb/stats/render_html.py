"""The stats page: HAProxy's layout, plus live charts and latency percentiles.

A pure function of a snapshot and the page's options. The page is self-contained (inline
CSS, inline SVG drawn by a small inline script, no external asset), so it works offline.
The charts start from the history embedded in the page and then poll ``<uri>;history``
every two seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape

from lb.stats.objects import ObjKind
from lb.stats.server_state import OpState
from lb.stats.snapshot import ProxyRows, Row, Series, Snapshot
from lb.stats.view import View

MESSAGES = {
    "DONE": ("active_up", "Action processed successfully."),
    "NONE": ("active_going_down", "Nothing has changed."),
    "PART": ("active_going_down", "Action partially processed."),
    "ERRP": ("active_down", "Action not processed: invalid parameters."),
    "EXCD": ("active_down", "Action not processed: too many servers at once."),
    "DENY": ("active_down", "Action denied."),
    "UNKN": ("active_down", "Unexpected result."),
}


@dataclass(frozen=True, slots=True)
class PageOptions:
    uri: str  # the stats URI, base of every link
    view: View = field(default_factory=View)
    refresh: int | None = None  # s, None = no automatic refresh
    hide_version: bool = False
    node: str | None = None  # shown after the pid
    desc: str | None = None
    admin: bool = False  # show the admin forms
    message: str = ""  # ;st=CODE of the last admin action


_CSS = """
body{font-family:arial,helvetica,sans-serif;font-size:12px;color:#000;background:#fff;margin:8px}
th,td{font-size:10px}
h1{font-size:x-large;margin:0 0 .3em}h1 a{color:#6020a0;text-decoration:none}
h2{font-size:large;font-style:italic;color:#6020a0;margin:0}
h3{font-size:14px;color:#b00040;background:#e8e8d0;margin:.6em 0 .2em;padding:1px 3px}
.hr{border-bottom:solid 1px #000;margin:.25em 0}
table.tbl{border-collapse:collapse;width:100%;margin-bottom:6px}
table.tbl td{text-align:right;border:1px solid gray;padding:2px 3px;white-space:nowrap}
table.tbl td.ac{text-align:center}table.tbl td.al{text-align:left}
table.tbl th{border:1px solid gray;font-weight:bold}
table.tbl th.pxname{background:#b00040;color:#ffff40;text-align:left;padding:2px 3px;
white-space:nowrap}
table.tbl th.desc{background:#fff;text-align:left;font-weight:normal;border-style:none}
.titre{background:#20D0D0;color:#000;text-align:center}
.frontend,.backend{background:#e8e8d0}.socket{background:#d0d0d0}
.active_down{background:#ff9090}.active_going_up{background:#ffd020}
.active_going_down{background:#ffffa0}.active_up{background:#c0ffc0}
.active_nolb,.active_draining{background:#20a0ff}.active_no_check{background:#e0e0e0}
.backup_down{background:#ff9090}.backup_going_up{background:#ff80ff}
.backup_going_down{background:#c060ff}.backup_up{background:#b0d0ff}
.backup_nolb{background:#90b0e0}.backup_draining{background:#cc9900}
.backup_no_check{background:#e0e0e0}.maintain{background:#c07820}
table.lgd{border-collapse:collapse}table.lgd td{border:1px solid gray;padding:2px}
table.lgd td.noborder{border-style:none;white-space:nowrap}
table.info td{vertical-align:top;padding-right:2em}
table.workers{border-collapse:collapse}
table.workers td,table.workers th{border:1px solid gray;padding:1px 4px}
.charts{display:flex;flex-wrap:wrap;gap:6px;margin:2px 0 8px}
.chart{border:1px solid #ccc;padding:2px 4px;background:#fafafa}
.chart b{font-size:10px;display:block}.chart svg{display:block}
.msg{padding:3px;margin:4px 0}
@media (prefers-color-scheme:dark){
body{color:#e8e6e3;background:#131516}h1 a,h2{color:#a265e0}h3{color:#ff5190;background:#3e3e1f}
a{color:#3391ff}.titre{background:#1aa6a6;color:#e8e6e3}
.frontend,.backend{background:#2f3437}.active_up{background:#165900}.active_down,.backup_down{background:#760000}
.active_going_up{background:#b99200}.active_going_down{background:#6c6c00}
.active_nolb,.active_draining{background:#006ab9}.active_no_check,.backup_no_check{background:#2a2d2f}
.backup_up{background:#2e3234}.maintain{background:#9a601a}table.tbl th.desc{background:#181a1b}
.chart{background:#1c1e1f;border-color:#444}
}
"""

_SCRIPT = """
(function(){
var src=document.getElementById('lb-history');if(!src)return;
var data;try{data=JSON.parse(src.textContent);}catch(e){return;}
var W=220,H=48;
function draw(svg,vals,vals2,unit){
 while(svg.firstChild)svg.removeChild(svg.firstChild);
 var all=vals.concat(vals2||[]).filter(function(v){return v>=0;});
 var max=Math.max.apply(null,all.concat([1e-9]));
 function line(v,color){if(v.length<2)return;var pts=[];for(var i=0;i<v.length;i++){
  var y=v[i]<0?null:H-2-(H-4)*v[i]/max;
  if(y!==null)pts.push((i*(W-2)/(v.length-1)+1).toFixed(1)+','+y.toFixed(1));}
  var p=document.createElementNS('http://www.w3.org/2000/svg','polyline');
  p.setAttribute('points',pts.join(' '));p.setAttribute('fill','none');
  p.setAttribute('stroke',color);
  p.setAttribute('stroke-width','1.2');svg.appendChild(p);}
 line(vals,'#2060c0');if(vals2)line(vals2,'#c03030');
 var t=document.createElementNS('http://www.w3.org/2000/svg','text');
 t.setAttribute('x','2');t.setAttribute('y','10');t.setAttribute('font-size','9');t.setAttribute('fill','#888');
 t.textContent='max '+fmt(max,unit);svg.appendChild(t);}
function fmt(v,unit){
 if(unit==='us'){return v>=1e6?(v/1e6).toFixed(2)+' s':(v/1e3).toFixed(1)+' ms';}
 return v>=100?Math.round(v)+unit:v.toFixed(1)+unit;}
function render(d){for(var name in d){var s=d[name];
 var box=document.querySelector('[data-chart="'+CSS.escape(name)+'"]');if(!box)continue;
 var g=box.querySelectorAll('svg');
 draw(g[0],s.req_rate,null,'/s');draw(g[1],s.scur,null,'');draw(g[2],s.err_rate,null,'/s');
 draw(g[3],s.p50,s.p99,'us');}}
render(data);
var url=src.getAttribute('data-url');
if(url&&window.fetch){setInterval(function(){fetch(url,{credentials:'same-origin'}).then(function(r){
 return r.ok?r.json():null;}).then(function(d){if(d)render(d);}).catch(function(){});},2000);}
})();
"""


def _num(value: int | None) -> str:
    return "" if value is None else str(value)


def _bytes(value: int) -> str:
    return str(value)


def _age(seconds: int | None) -> str:
    if seconds is None or seconds < 0:
        return "never" if seconds is not None else ""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s"
    if s < 86400:
        return f"{s // 3600}h{s // 60 % 60}m"
    return f"{s // 86400}d{s // 3600 % 24}h"


def _uptime(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 86400}d {s // 3600 % 24:2d}h{s // 60 % 60:02d}m{s % 60:02d}s"


def _ms(us: int) -> str:
    if us < 0:
        return "-"
    if us >= 10_000_000:
        return f"{us / 1e6:.1f}s"
    if us >= 10_000:
        return f"{us // 1000}ms"
    return f"{us / 1000:.2f}ms"


def row_class(row: Row) -> str:
    """The colour of a server row, as HAProxy's page paints it."""
    if row.kind is ObjKind.FRONTEND:
        return "frontend"
    if row.kind is ObjKind.BACKEND:
        return "backend"
    if row.kind is ObjKind.LISTENER:
        return "socket"
    state = row.state
    side = "backup" if row.backup else "active"
    if state is None:
        return f"{side}_no_check"
    if state.maint:
        return "maintain"
    if state.drain:
        return f"{side}_draining"
    if state.op is OpState.STOPPING:
        return f"{side}_nolb"
    if not state.checked:
        return f"{side}_no_check" if state.up else f"{side}_down"
    if not state.up:
        return f"{side}_going_up" if state.health else f"{side}_down"
    full = row.rise + row.fall - 1
    return f"{side}_up" if state.health >= full else f"{side}_going_down"


_GROUPS = (
    ("Queue", ("Cur", "Max", "Limit")),
    ("Session rate", ("Cur", "Max", "Limit")),
    ("Sessions", ("Cur", "Max", "Limit", "Total", "LbTot", "Last")),
    ("Bytes", ("In", "Out")),
    ("Denied", ("Req", "Resp")),
    ("Errors", ("Req", "Conn", "Resp")),
    ("Warnings", ("Retr", "Redis")),
    ("Server", ("Status", "LastChk", "Wght", "Act", "Bck", "Chk", "Dwn", "Dwntme", "Thrtle")),
    ("Latency, last 10 s", ("p50", "p90", "p99")),
)


def _cells(row: Row) -> list[str]:
    """The row's cells, group by group (HAProxy's columns, then lb's latency)."""
    k = row.kind
    fe = k is ObjKind.FRONTEND
    srv = k is ObjKind.SERVER
    be = k is ObjKind.BACKEND
    qcur = "" if fe or k is ObjKind.LISTENER else str(row.value("qcur") if be else 0)
    qmax = "" if fe or k is ObjKind.LISTENER else str(row.qmax)
    qlim = _num(row.qlimit) if srv else ""
    rates = row.rates
    cells = [
        qcur,
        qmax,
        qlim,
        str(rates.rate),
        str(rates.rate_max),
        "",  # no session rate limit
        str(row.scur),
        str(row.smax),
        _num(row.slim) if row.slim else ("" if srv else "-"),
        str(row.value("stot")),
        str(row.value("lbtot")) if srv or be else "",
        _age(row.lastsess) if srv or be else "",
        _bytes(row.value("bin")),
        _bytes(row.value("bout")),
        "" if srv else str(row.value("dreq")),
        str(row.value("dresp")),
        str(row.value("ereq")) if fe or k is ObjKind.LISTENER else "",
        str(row.value("econ")) if srv or be else "",
        str(row.value("eresp")) if srv or be else "",
        str(row.value("wretr")) if srv or be else "",
        str(row.value("wredis")) if srv or be else "",
    ]
    if srv:
        state = row.state
        lastchk = ""
        if state is not None and state.checked:
            lastchk = state.check_status.text
            if state.check_code:
                lastchk += f"/{state.check_code}"
            if state.check_duration_ms:
                lastchk += f" in {state.check_duration_ms}ms"
        cells += [
            f"{_age(row.lastchg)} {escape(row.status)}",
            escape(lastchk),
            f"{row.weight}/{row.uweight}",
            "N" if row.backup else "Y",
            "Y" if row.backup else "N",
            "0" if row.checked else "",
            "0" if row.checked else "",
            _age(row.downtime) if row.checked else "",
            f"{row.throttle}%" if row.throttle is not None else "-",
        ]
    elif be:
        cells += [
            f"{_age(row.lastchg)} {escape(row.status)}",
            "",
            f"{row.weight}/{row.uweight}",
            str(row.act),
            str(row.bck),
            "",
            "0",
            _age(row.downtime) if row.downtime is not None else "",
            "",
        ]
    else:
        cells += [escape(row.status), "", "", "", "", "", "", "", ""]
    pct = row.rt_pct if row.mode == "http" else row.tt_pct
    if srv or be:
        cells += [_ms(p) for p in pct]
    else:
        cells += ["", "", ""]
    return cells


def _tips(row: Row) -> str:
    """Details shown on hover (a title attribute: no script needed)."""
    lines = [f"Cum. sessions: {row.value('stot')}"]
    if row.mode == "http":
        lines.append(f"Cum. HTTP requests: {row.value('req_tot')}")
        for cls in ("1xx", "2xx", "3xx", "4xx", "5xx"):
            lines.append(f"- HTTP {cls} responses: {row.value('hrsp_' + cls)}")
        lines.append(f"- other responses: {row.value('hrsp_other')}")
    if row.kind in (ObjKind.SERVER, ObjKind.BACKEND):
        lines.append(f"New connections: {row.value('connect')}, reused: {row.value('reuse')}")
        words = ("Queue", "Connect", "Response", "Total")
        for i, word in enumerate(words):
            lines.append(f"- {word} time avg: {_ms(row.averages[i])}")
        rt = row.rt_pct if row.mode == "http" else row.tt_pct
        lines.append("Latency p50/p90/p99 (10 s): " + " / ".join(_ms(p) for p in rt))
    if row.kind is ObjKind.FRONTEND:
        lines.append(f"Cum. connections: {row.value('conn_tot')}")
        lines.append(f"Intercepted requests: {row.value('intercepted')}")
    return escape("\n".join(lines), quote=True)


def _proxy_table(proxy: ProxyRows, opts: PageOptions) -> str:
    admin = opts.admin and proxy.backend is not None and proxy.servers
    name = escape(proxy.name)
    out = []
    if admin:
        out.append(f'<form method="post" action="{escape(opts.uri, quote=True)}">')
    desc = f'<th class="desc">{escape(proxy.desc)}</th>' if proxy.desc else '<th class="desc"></th>'
    out.append(
        f'<table class="tbl"><tr class="titre"><th class="pxname" width="10%">'
        f'<a name="{name}"></a><a href="#{name}" style="color:inherit">{name}</a></th>'
        f"{desc}</tr></table>"
    )
    out.append('<table class="tbl"><tr class="titre">')
    out.append('<th rowspan="2"></th>' if admin else "")
    out.append('<th rowspan="2"></th>')
    for group, cols in _GROUPS:
        out.append(f'<th colspan="{len(cols)}">{group}</th>')
    out.append('</tr><tr class="titre">')
    for _group, cols in _GROUPS:
        out.extend(f"<th>{c}</th>" for c in cols)
    out.append("</tr>")
    for row in proxy.rows():
        cls = row_class(row)
        label = (
            "Frontend"
            if row.kind is ObjKind.FRONTEND
            else "Backend"
            if row.kind is ObjKind.BACKEND
            else escape(row.name)
        )
        out.append(f'<tr class="{cls}">')
        if admin:
            box = (
                f'<input type="checkbox" name="s" value="{escape(row.name, quote=True)}">'
                if row.kind is ObjKind.SERVER
                else ""
            )
            out.append(f'<td class="ac">{box}</td>')
        anchor = f"{name}/{escape(row.name)}"
        out.append(
            f'<td class="ac" title="{_tips(row)}"><a name="{anchor}"></a>'
            f'<a href="#{anchor}" style="color:inherit">{label}</a></td>'
        )
        out.extend(f"<td>{c}</td>" for c in _cells(row))
        out.append("</tr>")
    out.append("</table>")
    if admin:
        out.append(
            'Choose the action to perform on the checked servers: <select name="action">'
            '<option value=""></option><option value="ready">Set state to READY</option>'
            '<option value="drain">Set state to DRAIN</option>'
            '<option value="maint">Set state to MAINT</option>'
            '<option value="weight">Set weight to</option></select> '
            '<input type="number" name="weight" min="0" max="256" size="4" style="width:4em"> '
            f'<input type="hidden" name="b" value="#{proxy.iid}">'
            '<input type="submit" value="Apply"></form>'
        )
    return "".join(out)


def _charts(snapshot: Snapshot, proxies: list[ProxyRows], opts: PageOptions) -> str:
    if not snapshot.history:
        return ""
    shown = [p for p in proxies if p.name in snapshot.history]
    if not shown:
        return ""
    blank = '<svg width="220" height="48" viewBox="0 0 220 48"></svg>'
    out = ["<h3>&gt; Live, last minutes (one point a second)</h3>"]
    for p in shown:
        unit = "requests" if p.mode == "http" else "sessions"
        latency = "response" if p.mode == "http" else "total"
        out.append(f'<div class="charts" data-chart="{escape(p.name, quote=True)}">')
        out.append(f'<div class="chart"><b>{escape(p.name)}: {unit}/s</b>{blank}</div>')
        out.append(f'<div class="chart"><b>current sessions</b>{blank}</div>')
        out.append(f'<div class="chart"><b>errors/s</b>{blank}</div>')
        out.append(
            f'<div class="chart"><b>{latency} time p50 '
            f'<span style="color:#2060c0">&#9644;</span> p99 '
            f'<span style="color:#c03030">&#9644;</span></b>{blank}</div>'
        )
        out.append("</div>")
    data = {
        name: series_json(s)
        for name, s in snapshot.history.items()
        if any(p.name == name for p in shown)
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    url = f"{opts.uri};history"
    out.append(
        f'<script type="application/json" id="lb-history" data-url="{escape(url, quote=True)}">'
        f"{payload}</script>"
    )
    return "".join(out)


def series_json(s: Series) -> dict[str, list[float] | list[int]]:
    return {
        "t": s.stamps,
        "req_rate": [round(v, 2) for v in s.req_rate],
        "scur": s.scur,
        "err_rate": [round(v, 2) for v in s.err_rate],
        "p50": s.p50,
        "p99": s.p99,
    }


def _process_block(snapshot: Snapshot, opts: PageOptions) -> str:
    p = snapshot.process
    m = p.master
    bit_rate = p.bytes_out_rate * 8
    workers = []
    flushed = p.flushed_ms
    restarts = {s.slot: s.restarts for s in m.slots}
    for w in sorted(m.workers, key=lambda w: (w.generation, w.slot)):
        stale = ""
        if flushed.get(w.slab):
            stale = f"{max(0.0, snapshot.time - flushed[w.slab] / 1000):.1f}s"
        state = "stopping" if w.stopping else "ready" if w.ready else "starting"
        workers.append(
            f"<tr><td>{w.pid}</td><td>{w.slot}</td><td>{w.generation}</td><td>{state}</td>"
            f"<td>{_uptime(max(0.0, snapshot.time - w.started))}</td>"
            f"<td>{restarts.get(w.slot, 0)}</td><td>{stale}</td></tr>"
        )
    vrrp = "".join(
        f"<li>VRRP {escape(v.name)}: <b>{escape(v.state)}</b> (priority {v.priority})"
        for v in m.vrrp
    )
    legend = (
        '<table class="lgd"><tr><td class="active_up">&nbsp;</td>'
        '<td class="noborder">active UP</td>'
        '<td class="backup_up">&nbsp;</td><td class="noborder">backup UP</td></tr>'
        '<tr><td class="active_going_down"></td><td class="noborder">active UP, going down</td>'
        '<td class="backup_going_down"></td><td class="noborder">backup UP, going down</td></tr>'
        '<tr><td class="active_going_up"></td><td class="noborder">active DOWN, going up</td>'
        '<td class="backup_going_up"></td><td class="noborder">backup DOWN, going up</td></tr>'
        '<tr><td class="active_down"></td><td class="noborder">active or backup DOWN</td>'
        '<td class="active_no_check"></td><td class="noborder">not checked</td></tr>'
        '<tr><td class="maintain"></td><td class="noborder" colspan="3">'
        "active or backup DOWN for maintenance (MAINT)</td></tr>"
        '<tr><td class="active_draining"></td><td class="noborder" colspan="3">'
        "active or backup SOFT STOPPED for maintenance (DRAIN)</td></tr></table>"
        'Note: "NOLB"/"DRAIN" = UP with load-balancing disabled.'
    )
    uri = escape(opts.uri, quote=True)
    v = opts.view
    scope_q = f"?scope={escape(v.scope, quote=True)}" if v.scope else ""
    up_link = (
        f'<a href="{uri}{scope_q}">Show all servers</a>'
        if v.up_only
        else f"<a href=\"{uri};up{scope_q}\">Hide 'DOWN' servers</a>"
    )
    refresh_link = (
        f'<li><a href="{uri};norefresh{scope_q}">Disable refresh</a>' if opts.refresh else ""
    )
    options = (
        "<b>Display option:</b><ul>"
        f'<li><form method="get" action="{uri}">Scope: '
        f'<input value="{escape(v.scope, quote=True)}" '
        'name="scope" size="8" maxlength="40"></form>'
        f"<li>{up_link}{refresh_link}"
        f'<li><a href="{uri}{scope_q}">Refresh now</a>'
        f'<li><a href="{uri};csv{scope_q}">CSV export</a>'
        f'<li><a href="{uri};json{scope_q}">JSON export</a></ul>'
    )
    return (
        '<h3>&gt; General process information</h3><table class="info"><tr><td><p>'
        f"<b>pid = </b>{p.pid} (master; {p.nbthread} worker processes)<br>"
        f"<b>uptime = </b>{_uptime(p.uptime)}<br>"
        f"<b>maxconn = </b>{p.maxconn} (for the whole daemon)<br>"
        f"current conns = {p.cur_conns}; conn rate = {p.conn_rate}/sec; "
        f"bit rate = {bit_rate / 1000:.3f} kbps<br>"
        f"reloads = {m.reloads} (failed: {m.failed_reloads}); generation = {m.generation}; "
        f"worker restarts = {m.restarts}<br>"
        f"counters summed {p.sums_age:.1f}s ago, each worker's flushed as below</p>"
        f"<ul>{vrrp}</ul>"
        '<table class="workers"><tr><th>worker pid</th><th>slot</th><th>generation</th>'
        "<th>state</th><th>uptime</th><th>slot restarts</th><th>counters age</th></tr>"
        + "".join(workers)
        + f"</table></td><td>{legend}</td><td>{options}</td></tr></table>"
    )


def render_html(snapshot: Snapshot, proxies: list[ProxyRows], opts: PageOptions) -> str:
    p = snapshot.process
    title_node = f" on {escape(opts.node)}" if opts.node else ""
    desc = f": {escape(opts.desc)}" if opts.desc else ""
    version = (
        ""
        if opts.hide_version
        else f" version {escape(p.version)}, released {escape(p.release_date)}"
    )
    refresh = (
        f'<meta http-equiv="refresh" content="{opts.refresh};url={escape(opts.uri, quote=True)}">'
        if opts.refresh
        else ""
    )
    message = ""
    if opts.message in MESSAGES:
        cls, text = MESSAGES[opts.message]
        message = (
            f'<div class="msg {cls}"><a href="{escape(opts.uri, quote=True)}" '
            f'title="Remove this message">[X]</a> {escape(text)}</div>'
        )
    parts = [
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">',
        f"<title>Statistics Report for lb{title_node}</title>",
        '<link rel="icon" href="data:,">',
        refresh,
        f"<style>{_CSS}</style></head><body>",
        f'<h1><a href="#">lb{version}</a></h1>',
        f"<h2>Statistics Report for pid {p.pid}{title_node}{desc}</h2>",
        '<div class="hr"></div>',
        message,
        _process_block(snapshot, opts),
        _charts(snapshot, proxies, opts),
    ]
    parts.extend(_proxy_table(proxy, opts) for proxy in proxies)
    parts.append(f"<script>{_SCRIPT}</script></body></html>\n")
    return "".join(parts)
