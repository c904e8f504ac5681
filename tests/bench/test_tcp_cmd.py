"""``lb-bench tcp`` against serve's TCP port: the bytes it reports are the bytes that moved."""

import socket

import pytest

from tests.bench.conftest import Served, bench, bench_json


def test_upload_bytes_are_acknowledged_by_the_receiver(serve: Served) -> None:
    r = bench_json("tcp", f"127.0.0.1:{serve.tcp}", "-s", "3", "-d", "0.5", "-p", "2")
    assert r["errors"] == {} and r["streams_ok"] == 3 and r["processes"] == 2
    assert r["bytes"] == r["sent"] > 10_000_000  # every byte sent was counted by the sink
    assert r["gbit_s"] == pytest.approx(r["bytes"] * 8 / 1e9 / r["seconds"])
    assert 0.5 <= r["seconds"] < 2


def test_download(serve: Served) -> None:
    r = bench_json("tcp", f"127.0.0.1:{serve.tcp}", "-s", "2", "-d", "0.5", "--direction", "down")
    assert r["errors"] == {} and r["streams_ok"] == 2
    assert r["bytes"] > 10_000_000 and r["sent"] == 0


def test_text_report(serve: Served) -> None:
    r = bench("tcp", f"127.0.0.1:{serve.tcp}", "-s", "1", "-d", "0.3")
    assert r.returncode == 0, r.stderr
    assert "Gbit/s (up, 1/1 streams ok)" in r.stdout


def test_a_receiver_that_does_not_count_is_an_error(serve: Served) -> None:
    # serve's HTTP port is no sink: it answers 400 to "U…" and closes: no acknowledgement
    r = bench("tcp", f"127.0.0.1:{serve.http}", "-s", "1", "-d", "0.3", "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "1 of 1 streams failed" in r.stderr


def test_unreachable_and_usage() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    try:
        r = bench("tcp", f"127.0.0.1:{port}", "-d", "0.2")
    finally:
        s.close()
    assert r.returncode == 3 and "connection refused" in r.stderr
    r = bench("tcp", "localhost", "-d", "0.2")
    assert r.returncode == 2 and "not HOST:PORT" in r.stderr
    assert "Traceback" not in r.stderr
