"""lb-bench http agrees with wrk on the same target when the target is the bottleneck.

The target answers every request after a fixed 20 ms, so with C connections the true
throughput is C / 20 ms whatever else runs on the machine: both generators must find it
within 10 %, and each other within 10 %.
"""

import subprocess

import pytest

from lb.bench import wrk
from tests.bench.conftest import Served, bench_json
from tests.support.peers import need_command

CONNECTIONS = 20
DELAY = 0.020


@pytest.mark.slow
def test_lb_bench_agrees_with_wrk(serve: Served) -> None:
    wrk_path = need_command("wrk")
    url = serve.url("?s=256&t=20ms")
    ours = bench_json("http", "-d", "2", "-c", str(CONNECTIONS), url)
    out = subprocess.run(
        [wrk_path, "-t", "1", "-c", str(CONNECTIONS), "-d", "2s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    theirs = wrk.parse(out)
    ideal = CONNECTIONS / DELAY
    assert ours["requests_per_s"] == pytest.approx(ideal, rel=0.10)
    assert theirs["requests_per_s"] == pytest.approx(ideal, rel=0.10)
    assert ours["requests_per_s"] == pytest.approx(theirs["requests_per_s"], rel=0.10)
    assert ours["latency_s"]["p50"] == pytest.approx(theirs["latency_s"]["p50"], rel=0.10)
    assert ours["errors"] == {} and not theirs["errors"]
    assert ours["client_cpu_us_per_request"] > 0  # it reports what it spent itself
