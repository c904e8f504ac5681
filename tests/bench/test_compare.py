"""``lb-bench compare`` end to end: tiny rounds against real proxies, JSON and HTML out, and
the clear errors for what is missing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.conftest import bench
from tests.bench.test_summary import assert_self_contained
from tests.support.peers import need_command


def run_compare(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``lb-bench compare ARGS`` writing under tmp_path/out; env adds to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "lb.bench", "compare", "--out", str(tmp_path / "out"), "-q", *args],
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def outputs(tmp_path: Path) -> tuple[dict, str, str]:
    out = tmp_path / "out"
    (j,) = out.glob("compare-*.json")
    (h,) = out.glob("compare-*.html")
    (m,) = out.glob("compare-*.md")
    return json.loads(j.read_text()), h.read_text(), m.read_text()


@pytest.mark.slow
def test_lb_against_haproxy_one_tiny_round(tmp_path: Path) -> None:
    need_command("haproxy")
    r = run_compare(
        tmp_path,
        "--scenario",
        "http-keepalive",
        "--rounds",
        "1",
        "--duration",
        "1",
        "--targets",
        "lb,haproxy",
        "--connections",
        "8",
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    doc, html, md = outputs(tmp_path)
    assert doc["targets"] == ["lb", "haproxy"]
    samples = doc["samples"]
    assert [(s["target"], s["ok"]) for s in samples] == [("lb", True), ("haproxy", True)], samples
    for s in samples:
        assert s["requests"] > 0 and s["errors"] == {} and s["non_2xx"] == 0
        assert s["metrics"]["cpu_us_per_req"] > 0  # the proxy's own CPU was measured
        assert s["proxy_cpu_s"] > 0
    ratio = doc["ratios"]["http-keepalive"]["haproxy"]["cpu_us_per_req"]
    assert ratio["n"] == 1 and ratio["median"] > 0
    assert doc["environment"]["cores"] and "haproxy" in doc["environment"]
    assert "<svg" in html and "lb/haproxy" in html
    assert_self_contained(html)
    assert "| lb/haproxy |" in md
    assert "lb/haproxy" in r.stdout  # the table on stdout


@pytest.mark.slow
def test_wrk_as_the_client_and_the_direct_target(tmp_path: Path) -> None:
    need_command("haproxy")
    need_command("wrk")
    r = run_compare(
        tmp_path,
        "--scenario",
        "http-close",
        "--rounds",
        "1",
        "--duration",
        "1",
        "--targets",
        "haproxy,direct",
        "--client",
        "wrk",
        "--connections",
        "4",
    )
    assert r.returncode == 0, r.stderr
    doc, _, _ = outputs(tmp_path)
    by = {s["target"]: s for s in doc["samples"]}
    assert by["haproxy"]["ok"] and by["direct"]["ok"]
    assert by["haproxy"]["metrics"]["cpu_us_per_req"] > 0
    assert by["direct"]["metrics"]["cpu_us_per_req"] is None  # no proxy, no proxy CPU
    assert by["direct"]["metrics"]["p99_ms"] > 0


@pytest.mark.slow
def test_missing_peers_are_skipped_unless_asked_for(tmp_path: Path) -> None:
    gone = {"LB_BENCH_HAPROXY": "", "LB_BENCH_NGINX": ""}
    r = run_compare(
        tmp_path, "--scenario", "tcp-bulk", "--rounds", "1", "--duration", "0.5", env=gone
    )
    assert r.returncode == 0, r.stderr
    assert "haproxy skipped: not installed (apt-get install haproxy)" in r.stderr
    assert "nginx skipped: not installed" in r.stderr
    doc, html, _ = outputs(tmp_path)
    assert doc["targets"] == ["lb"]
    (s,) = doc["samples"]
    assert s["ok"] and s["bytes"] > 0 and s["metrics"]["cpu_s_per_gb"] > 0
    assert "not installed" in html

    r = run_compare(tmp_path, "--targets", "lb,haproxy", env=gone)
    assert r.returncode == 4
    assert r.stderr.strip() == (
        "lb-bench compare: haproxy is not installed (apt-get install haproxy), "
        "and --targets asks for it"
    )
    r = run_compare(tmp_path, "--client", "wrk", env={"LB_BENCH_WRK": ""})
    assert r.returncode == 4 and "wrk is not installed" in r.stderr


def test_a_proxy_that_will_not_start_is_reported(tmp_path: Path) -> None:
    need_command("haproxy")
    bad = tmp_path / "seed.cfg"
    bad.write_text("frontend web\n    bind :80\n    mode http\n    default_backend nowhere\n")
    r = run_compare(
        tmp_path,
        "--scenario",
        "seed-acl",
        "--seed-config",
        str(bad),
        "--rounds",
        "1",
        "--duration",
        "0.5",
        "--targets",
        "lb,haproxy",
    )
    assert r.returncode == 5, r.stderr
    assert "every run failed" in r.stderr and "Traceback" not in r.stderr
    doc, _, _ = outputs(tmp_path)
    assert all(not s["ok"] and "exited with" in s["error"] for s in doc["samples"])


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--scenario", "nope"], 2, "unknown scenario nope"),
        (["--targets", "lb,varnish"], 2, "unknown target varnish"),
        (["--rounds", "0"], 2, "must be at least 1"),
        (["--scenario-file", "/nonexistent.toml"], 2, "/nonexistent.toml"),
        (["--seed-config", "/nonexistent.cfg", "--scenario", "seed-acl"], 2, "/nonexistent.cfg"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    r = run_compare(tmp_path, *args)
    assert r.returncode == code, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_list() -> None:
    r = bench("compare", "--list")
    assert r.returncode == 0
    assert [ln.split()[0] for ln in r.stdout.splitlines()] == [
        "http-keepalive",
        "http-close",
        "http-100k",
        "tcp-bulk",
        "idle-10k",
        "seed-acl",
    ]


@pytest.mark.parametrize(
    ("targets", "kinds", "wanted", "hard", "idle", "maxconn", "noted"),
    [
        (["lb", "haproxy"], ["idle"], 10000, 20000, 9943, 9993, True),
        (["lb", "nginx"], ["idle"], 10000, 20000, 10000, 10050, False),
        (["lb", "haproxy"], ["idle"], 10000, 65536, 10000, 10050, False),
        (["lb", "haproxy"], ["http"], 10000, 20000, 0, 4000, False),
    ],
)
def test_idle_connections_fit_the_open_files_limit(
    targets: list[str],
    kinds: list[str],
    wanted: int,
    hard: int,
    idle: int,
    maxconn: int,
    noted: bool,
) -> None:
    from lb.bench.compare import Plan, size_connections
    from lb.bench.peers import StreamSupport
    from lb.bench.scenarios import Scenario

    scen = [Scenario(k, k, k) for k in kinds]
    plan = Plan(scen, targets, [], {}, "", StreamSupport(False))
    size_connections(plan, wanted, hard)
    assert (plan.idle_connections, plan.maxconn, bool(plan.notes)) == (idle, maxconn, noted)
