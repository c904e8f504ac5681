"""Counters after real traffic: exact over 4 workers, never lower after kill -9 or a reload,
scraped by a real Prometheus, and the admin form steering traffic away from a server."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.stats.test_stats_daemon import rows
from tests.support.clients import free_port
from tests.support.http_clients import HttpConn, build_request, get
from tests.support.http_servers import HttpBackend
from tests.support.lbproc import LbProcess, tcp_config
from tests.support.peers import need_command
from tests.support.procs import ProcRef


def http_lb(lb: LbProcess, port: int, servers: list[tuple[str, int]], **sections: list[str]) -> str:
    return tcp_config(
        stats_socket=lb.stats_socket, bind_port=port, servers=servers, mode="http", **sections
    )


def counters(lb: LbProcess) -> dict[tuple[str, str], dict[str, str]]:
    return rows(lb.api("show stat"))


def wait_counts(lb: LbProcess, key: tuple[str, str], field: str, want: int) -> dict[str, str]:
    """Workers publish their counters every 0.25 s: wait for them to show ``want``."""
    deadline = time.monotonic() + 5
    while True:
        row = counters(lb)[key]
        if int(row[field] or 0) >= want or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


def test_counts_are_exact_over_four_workers_and_never_go_down(
    lb_factory: Callable[..., LbProcess], http_backend: Callable[..., HttpBackend]
) -> None:
    srv = http_backend("s1")
    lb = lb_factory(workers=4)
    port = free_port()
    lb.start(http_lb(lb, port, [("s1", srv.port)]))
    sent = received = 0
    requests = 0
    # keep-alive connections and one-shot ones, so that every worker gets some
    for c in range(12):
        with HttpConn(port, 10) as conn:
            for i in range(5 if c % 2 else 1):
                raw = build_request("GET", f"/?s={100 + i * 37}&c={c}", [("Host", "h")])
                conn.send(raw)
                r = conn.read_response("GET")
                assert r.status == 200
                sent += len(raw)
                received += len(r.raw_head) + len(r.body)
                requests += 1
    fe = wait_counts(lb, ("fe", "FRONTEND"), "req_tot", requests)
    assert int(fe["req_tot"]) == requests
    assert int(fe["hrsp_2xx"]) == requests
    assert int(fe["stot"]) == 12  # connections
    assert int(fe["bin"]) == sent
    assert int(fe["bout"]) == received
    be = counters(lb)[("be", "BACKEND")]
    assert int(be["stot"]) == requests and int(be["hrsp_2xx"]) == requests
    assert int(counters(lb)[("be", "s1")]["hrsp_2xx"]) == requests

    # a worker killed outright, then a reload: nothing counted goes back down
    before = counters(lb)
    os.kill(lb.workers()[0].pid, signal.SIGKILL)
    lb.reload()
    get(port, "/", [("Host", "h")])
    after = wait_counts(lb, ("fe", "FRONTEND"), "req_tot", requests + 1)
    assert int(after["req_tot"]) == requests + 1
    for key in (("fe", "FRONTEND"), ("be", "BACKEND"), ("be", "s1")):
        for field in ("stot", "bin", "bout", "hrsp_2xx"):
            if field in ("req_tot",) and key[1] == "s1":
                continue
            assert int(counters(lb)[key][field]) >= int(before[key][field]), (key, field)


PROMETHEUS_YML = """global:
  scrape_interval: 1s
scrape_configs:
  - job_name: lb
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def test_a_real_prometheus_scrapes_the_request_count(
    lb_factory: Callable[..., LbProcess], http_backend: Callable[..., HttpBackend], tmp_path: Path
) -> None:
    prometheus = need_command("prometheus")
    srv = http_backend("s1")
    lb = lb_factory(workers=2)
    port = free_port()
    lines = ["http-request use-service prometheus-exporter if { path /metrics }"]
    lb.start(http_lb(lb, port, [("s1", srv.port)], frontend_lines=lines))
    for _ in range(7):
        assert get(port, "/", [("Host", "h")]).status == 200
    (tmp_path / "prometheus.yml").write_text(PROMETHEUS_YML.format(port=port))
    web = free_port()
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{web}",
        ],
        stdout=log,
        stderr=log,
    )
    ref = ProcRef.of(proc.pid)
    try:
        query = urllib.parse.quote('haproxy_frontend_http_requests_total{proxy="fe"}')
        url = f"http://127.0.0.1:{web}/api/v1/query?query={query}"
        value = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    data = json.load(resp)
                result = data["data"]["result"]
                if result:
                    value = int(float(result[0]["value"][1]))
                    if value >= 7:
                        break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        # the scrapes are requests too (/metrics goes through the frontend)
        assert value is not None and value >= 7, (
            value,
            (tmp_path / "prometheus.log").read_text()[-2000:],
        )
    finally:
        if ref is not None:
            ref.kill(signal.SIGTERM)
        proc.wait(10)


def test_the_admin_form_drains_a_server_and_traffic_follows(
    lb_factory: Callable[..., LbProcess], http_backend: Callable[..., HttpBackend]
) -> None:
    s1, s2 = http_backend("s1"), http_backend("s2")
    lb = lb_factory(workers=2)
    port = free_port()
    stats = ["stats enable", "stats uri /st", "stats auth admin:pw", "stats admin if TRUE"]
    lb.start(http_lb(lb, port, [("s1", s1.port), ("s2", s2.port)], backend_lines=stats))
    auth = ("Authorization", "Basic " + base64.b64encode(b"admin:pw").decode())
    form = b"s=s1&action=maint&b=be"
    head = [
        ("Host", f"127.0.0.1:{port}"),
        auth,
        ("Content-Type", "application/x-www-form-urlencoded"),
    ]
    # another site's page posting the form: refused
    evil = build_request("POST", "/st", [*head, ("Origin", "http://evil.example")], form)
    with HttpConn(port, 10) as conn:
        conn.send(evil)
        assert conn.read_response("POST").status == 403
    assert get(port, "/st", [("Host", "h")]).status == 401  # no credentials
    ok = build_request("POST", "/st", [*head, ("Origin", f"http://127.0.0.1:{port}")], form)
    with HttpConn(port, 10) as conn:
        conn.send(ok)
        assert conn.read_response("POST").status in (200, 303)
    deadline = time.monotonic() + 5
    while counters(lb)[("be", "s1")]["status"] != "MAINT" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counters(lb)[("be", "s1")]["status"] == "MAINT"
    s1_before = len(s1.requests())
    for _ in range(6):
        r = get(port, "/", [("Host", "h")])
        assert r.status == 200 and r.header("X-Server") == "s2"
    assert len(s1.requests()) == s1_before


ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"


def test_the_page_renders_in_headless_chromium_without_console_errors(
    lb_factory: Callable[..., LbProcess], http_backend: Callable[..., HttpBackend], tmp_path: Path
) -> None:
    chromium = need_command("chromium")
    srv = http_backend("s1")
    lb = lb_factory(workers=2)
    port = free_port()
    stats = ["stats enable", "stats uri /stats"]  # no meta refresh: one page to shoot
    lb.start(http_lb(lb, port, [("s1", srv.port)], backend_lines=stats))
    for _ in range(20):
        get(port, "/", [("Host", "h")])
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "stats-page.png"
    shot.unlink(missing_ok=True)
    # (as root chromium needs --no-sandbox; the profile goes to the test's directory)
    run = subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,1000",
            "--virtual-time-budget=5000",  # long enough for the charts' first refresh
            f"--screenshot={shot}",
            f"http://127.0.0.1:{port}/stats",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    errors = [line for line in console if "rror" in line or "Uncaught" in line]
    assert not errors, "\n".join(console)
    assert shot.exists() and shot.stat().st_size > 10_000, run.stderr[-2000:]
