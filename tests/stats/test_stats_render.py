"""Renderers are pure functions of a snapshot: CSV, typed, JSON, Prometheus, the page."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lb.stats.info import MasterInfo, VrrpInfo, WorkerInfo
from lb.stats.render_html import PageOptions, render_html, row_class
from lb.stats.render_prom import parse_scopes, render_prometheus
from lb.stats.render_text import render_csv, render_json, render_typed
from lb.stats.server_state import CheckStatus, OpState, ServerState
from lb.stats.snapshot import Snapshot
from lb.stats.view import View, select
from tests.stats.helpers import Rig, load
from tests.support.peers import need_command


@pytest.fixture
def snap(tmp_path: Path) -> Iterator[Snapshot]:
    rig = Rig(load(tmp_path))
    try:
        _pid, ws = rig.worker()
        for _ in range(3):
            fe = ws.frontend("web")
            fe.stot += 1
            fe.req_tot += 1
            fe.http_rsp[2] += 1
            s1 = ws.server("app", "s1")
            s1.stot += 1
            s1.req_tot += 1
            s1.http_rsp[2] += 1
            s1.observe(0.0, 0.0002, 0.003, 0.004)
        ws.frontend("db").stot += 2
        ws.server("pg", "p2").observe(-1, 0.0001, -1, 1.5)
        ws.flush(0.0)
        rig.stats.tick(1000.0)
        rig.stats.tick(1001.0)
        yield rig.stats.snapshot(rig.config, 1000, history=True)
    finally:
        rig.close()


def names(proxies: list) -> list[str]:  # type: ignore[type-arg]
    return [p.name for p in proxies]


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (View(), ["web", "app", "db", "pg"]),
        (View(scope="A"), ["app"]),  # any case, substring
        (View(scope="p"), ["app", "pg"]),
        (View(allowed=frozenset({"web", "pg"})), ["web", "pg"]),
        (View(allowed=frozenset({"web"}), scope="pg"), []),
    ],
)
def test_scope(snap: Snapshot, view: View, expected: list[str]) -> None:
    assert names(select(snap, view)) == expected


def test_up_and_no_maint_hide_servers(snap: Snapshot) -> None:
    def servers(view: View) -> list[str]:
        return [s.name for p in select(snap, view) for s in p.servers]

    assert servers(View()) == ["s1", "s2", "p1", "p2"]  # p1 is "disabled": MAINT
    assert servers(View(no_maint=True)) == ["s1", "s2", "p2"]
    assert servers(View(up_only=True)) == ["s1", "s2", "p2"]
    pg = select(snap, View(up_only=True))[3].backend
    assert pg is not None and pg.status == "UP (1/2)"  # as HAProxy's page says it then


def test_csv_rows(snap: Snapshot) -> None:
    text = render_csv(select(snap, View(scope="app")))
    lines = text.splitlines()
    assert lines[0].startswith("# pxname,svname,")
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["app", "s1"],
        ["app", "s2"],
        ["app", "BACKEND"],
    ]
    assert all(line.endswith(",") for line in lines)
    s1 = dict(zip(lines[0][2:].split(","), lines[1].split(","), strict=False))
    assert (s1["stot"], s1["req_tot"], s1["hrsp_2xx"], s1["status"]) == ("3", "3", "3", "no check")


def test_typed_and_json_say_the_same(snap: Snapshot) -> None:
    proxies = select(snap, View(scope="db"))
    typed = render_typed(proxies).splitlines()
    assert typed[0] == "F.3.0.0.pxname.1:KNS:str:db"
    assert "F.3.0.7.stot.1:MCP:u64:2" in typed
    rows = json.loads(render_json(proxies))
    assert len(rows) == 1
    stot = next(f for f in rows[0] if f["field"]["name"] == "stot")
    assert stot == {
        "objType": "Frontend",
        "proxyId": 3,
        "id": 0,
        "field": {"pos": 7, "name": "stot"},
        "processNum": 1,
        "tags": {"origin": "Metric", "nature": "Counter", "scope": "Process"},
        "value": {"type": "u64", "value": 2},
    }
    assert len(rows[0]) == len(typed)


def test_prometheus_names_labels_and_histograms(snap: Snapshot) -> None:
    text = render_prometheus(snap)
    lines = text.splitlines()
    assert 'haproxy_frontend_http_requests_total{proxy="web"} 3' in lines
    assert 'haproxy_frontend_http_responses_total{proxy="web",code="2xx"} 3' in lines
    assert 'haproxy_server_status{proxy="pg",server="p1",state="MAINT"} 1' in lines
    assert 'haproxy_server_status{proxy="pg",server="p2",state="UP"} 1' in lines
    assert 'haproxy_backend_status{proxy="pg",state="UP"} 1' in lines
    assert 'haproxy_server_total_time_seconds_count{proxy="app",server="s1"} 3' in lines
    assert (
        'haproxy_server_total_time_seconds_bucket{proxy="app",server="s1",le="0.0025"} 0' in lines
    )
    assert 'haproxy_server_total_time_seconds_bucket{proxy="app",server="s1",le="0.005"} 3' in lines
    assert 'haproxy_backend_response_time_seconds_count{proxy="app"} 3' in lines
    assert not any(line.startswith("haproxy_server_response_time_seconds") for line in lines)
    assert 'haproxy_backend_total_time_seconds_sum{proxy="pg"} 1.5' in lines
    assert "# TYPE haproxy_backend_response_time_seconds histogram" in lines
    # HTTP-only families say nothing of tcp proxies
    assert not any(
        line.startswith('haproxy_frontend_http_requests_total{proxy="db"}') for line in lines
    )
    assert any(line.startswith("haproxy_process_build_info{version=") for line in lines)
    assert "lb_workers 0" in lines and "lb_reloads_total 0" in lines
    # every sample's family was declared first, once
    declared: set[str] = set()
    for line in lines:
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert name not in declared
            declared.add(name)
        elif not line.startswith("#"):
            family = line.split("{")[0].split(" ")[0]
            base = family.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
            assert family in declared or base in declared, line


def test_promtool_accepts_the_exposition(snap: Snapshot, tmp_path: Path) -> None:
    promtool = need_command("promtool")
    snap.process.master = MasterInfo(
        generation=2,
        workers=[WorkerInfo(1, 0, 2, 0.0)],
        vrrp=[VrrpInfo("VI_1", "MASTER", 150)],
    )
    out = subprocess.run(
        [promtool, "check", "metrics"],
        input=render_prometheus(snap).encode(),
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()


@pytest.mark.parametrize(
    ("query", "scopes", "no_maint"),
    [
        ([], {"global", "frontend", "backend", "server"}, False),
        ([("scope", "backend")], {"backend"}, False),
        ([("scope", "backend"), ("scope", "server")], {"backend", "server"}, False),
        ([("scope", "")], set(), False),
        ([("scope", "*"), ("no-maint", "")], {"global", "frontend", "backend", "server"}, True),
    ],
)
def test_exporter_parameters(
    query: list[tuple[str, str]], scopes: set[str], no_maint: bool
) -> None:
    assert parse_scopes(query) == (frozenset(scopes), no_maint)


def test_scopes_filter_the_exposition(snap: Snapshot) -> None:
    text = render_prometheus(snap, {"server"}, no_maint=True)
    assert "haproxy_frontend_" not in text and "haproxy_process_" not in text
    assert 'server="s1"' in text and 'server="p1"' not in text


class _Checker(HTMLParser):
    VOID = {"meta", "link", "input", "br", "hr", "img"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.forms = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.forms += 1
        if tag not in self.VOID and tag not in ("li", "p", "tr", "td", "th"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("li", "p", "tr", "td", "th"):
            return
        assert self.stack and self.stack[-1] == tag, (self.stack[-5:], tag)
        self.stack.pop()


def _page(snap: Snapshot, **kw: object) -> str:
    opts = PageOptions(uri="/haproxy?stats", **kw)  # type: ignore[arg-type]
    return render_html(snap, select(snap, opts.view), opts)


def test_the_page_is_well_formed_and_self_contained(snap: Snapshot) -> None:
    page = _page(snap, refresh=5, node="lb1", desc="edge")
    checker = _Checker()
    checker.feed(page)
    assert checker.stack == []
    assert "http://" not in page.replace("'http://www.w3.org/2000/svg'", "")  # nothing external
    assert "https://" not in page
    assert "Statistics Report for pid" in page and "on lb1: edge" in page
    assert '<meta http-equiv="refresh" content="5;' in page
    assert page.count('<table class="tbl">') == 8  # a title and a table per proxy
    assert 'id="lb-history"' in page and 'data-chart="app"' in page
    assert checker.forms == 1  # the scope box; no admin form
    assert 'class="maintain"' in page  # p1


def test_the_admin_form_only_for_admins(snap: Snapshot) -> None:
    page = _page(snap, admin=True)
    assert page.count('<select name="action">') == 2  # app and pg have servers
    assert '<input type="hidden" name="b" value="#2">' in page
    assert 'name="s" value="s1"' in page


def test_version_can_be_hidden(snap: Snapshot) -> None:
    assert " version " in _page(snap)
    assert " version " not in _page(snap, hide_version=True)


@pytest.mark.parametrize(
    ("state", "backup", "expected"),
    [
        (ServerState(), False, "active_no_check"),
        (ServerState(admin=0x01), False, "maintain"),
        (ServerState(admin=0x08), True, "backup_draining"),
        (ServerState(checked=True, health=4, check_status=CheckStatus.L4OK), False, "active_up"),
        (
            ServerState(checked=True, health=2, check_status=CheckStatus.L4OK),
            False,
            "active_going_down",
        ),
        (ServerState(checked=True, health=0, op=OpState.STOPPED), True, "backup_down"),
        (ServerState(checked=True, health=1, op=OpState.STOPPED), False, "active_going_up"),
        (ServerState(checked=True, health=4, op=OpState.STOPPING), False, "active_nolb"),
    ],
)
def test_row_colours(snap: Snapshot, state: ServerState, backup: bool, expected: str) -> None:
    row = snap.proxies[1].servers[0]
    row.state, row.backup, row.rise, row.fall = state, backup, 2, 3
    assert row_class(row) == expected
