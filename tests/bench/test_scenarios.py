"""Scenario selection and scenario files; wrk's report as compare reads it."""

from pathlib import Path

import pytest

from lb.bench import wrk
from lb.bench.scenarios import BUILTIN, Scenario, from_toml, select

ROOT = Path(__file__).resolve().parents[2]


def test_builtin_scenarios_are_consistent() -> None:
    names = [s.name for s in BUILTIN]
    assert names == [
        "http-keepalive",
        "http-close",
        "http-100k",
        "tcp-bulk",
        "idle-10k",
        "seed-acl",
    ]
    for s in BUILTIN:
        s.check()


def test_select() -> None:
    assert select([], []) == list(BUILTIN)
    assert [s.name for s in select(["tcp-bulk,http-close", "tcp-bulk"], [])] == [
        "tcp-bulk",
        "http-close",
    ]
    with pytest.raises(ValueError, match="unknown scenario nope"):
        select(["nope"], [])


def test_the_example_file_loads() -> None:
    extra = ROOT / "bench/scenarios/extra.toml"
    scen = select(["http-mixed,http-keepalive"], [str(extra)])
    assert scen[0].paths[2] == "/missing?s=64&r=404"
    assert len(select([], [str(extra)])) == len(BUILTIN) + 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no \\[\\[scenario\\]\\]"),
        ("[[scenario]]\nname='a'\ntitle='b'\nkind='udp'\n", "kind must be"),
        ("[[scenario]]\nname='a'\ntitle='b'\nkind='http'\nconfig='tcp'\n", "kind tcp goes"),
        ("[[scenario]]\nname='a'\ntitle='b'\nkind='http'\nspeed=3\n", "unknown field speed"),
        ("[[scenario]]\nname='a'\nkind='http'\n", "title"),
        ("[[scenario]]\nname='a'\ntitle='b'\nkind='http'\npaths=['x']\n", "/paths"),
        ("[[scenario]]\nname='a'\ntitle='b'\nkind='http'\nclose=true\npipeline=2\n", "pipeline"),
        ("[[scenario\n", "f.toml"),
    ],
)
def test_bad_scenario_files(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_toml(text, "f.toml")


def test_a_scenario_file_entry() -> None:
    (s,) = from_toml("[[scenario]]\nname='p'\ntitle='t'\nkind='http'\npaths=['/a', '/b']\n")
    assert s == Scenario("p", "t", "http", paths=("/a", "/b"))


WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:36081/?s=128
  1 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   225.50us  452.51us   8.32ms   97.43%
    Req/Sec   102.00k    24.72k  132.34k    61.90%
  Latency Distribution
     50%  147.00us
     75%  218.00us
     90%  287.00us
     99%    2.39ms
  212465 requests in 2.10s, 37.69MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 17
Requests/sec: 101270.11
Transfer/sec:     17.96MB
"""


def test_wrk_report() -> None:
    r = wrk.parse(WRK_OUTPUT)
    assert r["requests"] == 212465 and r["seconds"] == pytest.approx(2.10)
    assert r["requests_per_s"] == pytest.approx(101270.11)
    assert r["latency_s"]["p50"] == pytest.approx(147e-6)
    assert r["latency_s"]["p99"] == pytest.approx(2.39e-3)
    assert r["latency_s"]["max"] == pytest.approx(8.32e-3)
    assert r["errors"] == {"read": 3, "timeout": 2}
    assert r["non_2xx"] == 17
    with pytest.raises(ValueError, match="requests in"):
        wrk.parse("wrk: connection refused")


def test_wrk_command_and_rotation(tmp_path: Path) -> None:
    cmd = wrk.command(
        "/usr/bin/wrk",
        "http://h:1",
        ["/a", '/b"c'],
        connections=2,
        threads=4,
        duration=1.5,
        close=True,
        timeout=5,
        script_dir=tmp_path,
    )
    assert cmd[:5] == ["/usr/bin/wrk", "-t", "2", "-c", "2"]
    assert "Connection: close" in cmd and cmd[-1] == "http://h:1/a"
    script = (tmp_path / "rotate.lua").read_text()
    assert '"/b\\"c"' in script and "wrk.format(nil, paths[i])" in script
