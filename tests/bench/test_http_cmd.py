"""``lb-bench http`` against real servers: counts, sizes, statuses, modes, errors by kind."""

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.bench.conftest import Served, bench, bench_json
from tests.support.procs import descendants, wait_gone


def test_exact_count_of_the_requested_size_and_status(serve: Served) -> None:
    r = bench_json("http", "-n", "1000", "-c", "8", serve.url("?s=20k&r=404"))
    assert r["requests"] == 1000
    assert r["statuses"] == {"404": 1000}
    assert r["errors"] == {}
    assert r["body_bytes"] == 1000 * 20_000
    assert r["body_min"] == r["body_max"] == 20_000
    assert r["connects"] == 8
    lat = r["latency_s"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
    assert r["client_cpu_s"] > 0 and r["client_cpu_us_per_request"] > 0


def test_close_mode_opens_a_connection_per_request(serve: Served) -> None:
    r = bench_json("http", "-n", "300", "-c", "5", "--close", serve.url("?s=100"))
    assert r["requests"] == 300 and r["connects"] == 300
    assert r["body_bytes"] == 300 * 100 and r["errors"] == {}


def test_a_server_that_closes_after_each_response_is_not_an_error(serve: Served) -> None:
    r = bench_json("http", "-n", "200", "-c", "4", "--pipeline", "4", serve.url("?s=10&k=0"))
    assert r["requests"] == 200 and r["errors"] == {}
    assert r["connects"] >= 200  # every response closed its connection


def test_pipelining_processes_and_several_urls(serve: Served) -> None:
    r = bench_json(
        "http",
        "-n",
        "2001",
        "-c",
        "6",
        "--pipeline",
        "8",
        "-p",
        "2",
        serve.url("a?s=10"),
        serve.url("b?s=30&r=201"),
    )
    assert r["requests"] == 2001 and r["processes"] == 2
    assert r["body_min"] == 10 and r["body_max"] == 30
    assert set(r["statuses"]) == {"200", "201"}
    assert abs(r["statuses"]["200"] - r["statuses"]["201"]) <= 6  # rotated in each process


def test_chunked_and_big_bodies(serve: Served) -> None:
    r = bench_json("http", "-n", "20", "-c", "2", serve.url("?s=2500000&c=1"))
    assert r["requests"] == 20 and r["body_bytes"] == 20 * 2_500_000


def test_duration_mode(serve: Served) -> None:
    t0 = time.monotonic()
    r = bench_json("http", "-d", "1", "-c", "4", serve.url("?s=1"))
    assert 1.0 <= time.monotonic() - t0 < 10
    assert r["seconds"] == pytest.approx(1.0, abs=0.01)
    assert r["requests"] > 100 and r["requests_per_s"] == pytest.approx(
        r["requests"] / r["seconds"]
    )


def test_fixed_rate_counts_latency_from_the_schedule(serve: Served) -> None:
    # 2 connections to a server that takes 50 ms: at most 40 req/s; 100 req/s were asked for,
    # so requests queue and their latency (from when they were due) must grow past the 50 ms.
    r = bench_json("http", "-n", "60", "-c", "2", "--rate", "100", serve.url("?s=1&t=50ms"))
    assert r["requests"] == 60
    assert r["latency_s"]["max"] > 0.4
    assert r["latency_s"]["p50"] > 0.1
    # with room to spare the rate is kept and latency stays near the server's delay
    r = bench_json("http", "-n", "50", "-c", "4", "--rate", "100", serve.url("?s=1&t=5ms"))
    assert r["seconds"] == pytest.approx(0.5, abs=0.25)
    assert r["latency_s"]["p50"] < 0.05


def test_fixed_rate_with_close_and_duration(serve: Served) -> None:
    r = bench_json("http", "-d", "1", "-c", "4", "--close", "--rate", "200", serve.url("?s=1"))
    assert r["requests"] == pytest.approx(200, abs=20)
    assert r["connects"] == pytest.approx(r["requests"], abs=5)


def test_head_requests(serve: Served) -> None:
    r = bench_json("http", "-n", "50", "-m", "HEAD", serve.url("?s=5000"))
    assert r["requests"] == 50 and r["body_bytes"] == 0 and r["errors"] == {}


def test_text_report(serve: Served) -> None:
    r = bench("http", "-n", "100", serve.url("?s=64"))
    assert r.returncode == 0, r.stderr
    assert "requests    100 in" in r.stdout and "statuses    200: 100" in r.stdout
    assert "µs/request" in r.stdout and "p99.9" in r.stdout


# ------------------------------------------------------------------------- error kinds


@pytest.fixture
def bad_server() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """A listening socket whose connections are handled by the given function, in threads."""
    socks: list[socket.socket] = []
    stop = threading.Event()

    def start(handle: Callable[[socket.socket], None]) -> int:
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)
        ls.settimeout(0.2)
        socks.append(ls)

        def loop() -> None:
            while not stop.is_set():
                try:
                    c, _ = ls.accept()
                except OSError:
                    continue
                threading.Thread(target=handle, args=(c,), daemon=True).start()

        threading.Thread(target=loop, daemon=True).start()
        return ls.getsockname()[1]

    yield start
    stop.set()
    for s in socks:
        s.close()


def _read_request(c: socket.socket) -> None:
    c.settimeout(5)
    with_data = b""
    while b"\r\n\r\n" not in with_data:
        chunk = c.recv(4096)
        if not chunk:
            return
        with_data += chunk


def garbage(c: socket.socket) -> None:
    _read_request(c)
    c.sendall(b"220 smtp.example.com ESMTP\r\n\r\n")
    time.sleep(0.2)
    c.close()


def silent(c: socket.socket) -> None:
    _read_request(c)
    time.sleep(3)
    c.close()


def reset(c: socket.socket) -> None:
    _read_request(c)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
    time.sleep(0.05)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()


def hang_up(c: socket.socket) -> None:
    _read_request(c)
    c.close()


@pytest.mark.parametrize(
    ("handler", "kind", "extra"),
    [
        (garbage, "bad_response", []),
        (silent, "timeout", ["--timeout", "300ms"]),
        (reset, "reset", []),
        (hang_up, "eof", []),
    ],
)
def test_errors_by_kind(
    bad_server: Callable[[Callable[[socket.socket], None]], int],
    handler: Callable[[socket.socket], None],
    kind: str,
    extra: list[str],
) -> None:
    port = bad_server(handler)
    r = bench("http", "-n", "4", "-c", "2", *extra, "--json", f"http://127.0.0.1:{port}/")
    assert "Traceback" not in r.stderr
    assert r.returncode == 1, r.stderr  # nothing succeeded
    assert "no request succeeded" in r.stderr
    res = json.loads(r.stdout)["result"]
    assert res["errors"] == {kind: 4} and res["requests"] == 0


def test_unreachable_target_is_a_clear_error() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]  # bound, not listening: refused
    try:
        r = bench("http", "-n", "5", f"http://127.0.0.1:{port}/")
    finally:
        s.close()
    assert r.returncode == 3
    assert (
        r.stderr.strip() == f"lb-bench http: cannot connect to 127.0.0.1:{port}: connection refused"
    )
    r = bench("http", "-n", "5", "http://no-such-host.invalid/")
    assert r.returncode == 3 and "cannot resolve no-such-host.invalid" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "0", "http://127.0.0.1:1/"], "must be positive"),
        (["-c", "x", "http://127.0.0.1:1/"], "not an integer: 'x'"),
        (["-d", "1", "-n", "5", "http://127.0.0.1:1/"], "not allowed with"),
        (["--close", "--pipeline", "2", "http://127.0.0.1:1/"], "--pipeline needs keep-alive"),
        (["https://127.0.0.1:1/"], "only http:// URLs"),
        (["-m", "POST", "http://127.0.0.1:1/"], "GET or HEAD"),
        (["--rate", "-3", "http://127.0.0.1:1/"], "rate"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    r = bench("http", *args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr


def test_generators_do_not_outlive_lb_bench(serve: Served) -> None:
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lb.bench",
            "http",
            "-d",
            "60",
            "-c",
            "2",
            "-p",
            "2",
            "-q",
            serve.url("?s=1"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    workers: list = []
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        workers = descendants(p.pid)
    assert len(workers) == 2
    p.kill()  # SIGKILL: lb-bench cannot stop them itself
    p.wait()
    left = wait_gone(workers, 5)
    for r in left:
        r.kill()
    assert not left


def test_sigterm_stops_the_generators_cleanly(serve: Served) -> None:
    p = subprocess.Popen(
        [sys.executable, "-m", "lb.bench", "http", "-d", "60", "-c", "2", "-q", serve.url()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not descendants(p.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = descendants(p.pid)
    time.sleep(0.5)
    p.terminate()
    _, err = p.communicate(timeout=10)
    assert p.returncode == 130 and err.strip() == "lb-bench: interrupted"
    assert not wait_gone(workers, 5)
