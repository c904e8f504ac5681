"""Slowloris: 500 clients that each send one header byte a second neither delay a normal client
nor outlive ``timeout http-request``."""

from __future__ import annotations

import resource
import time

import pytest

from tests.support.http_clients import Slowloris, build_request, http_request

N_SLOW = 500
HTTP_REQUEST_TIMEOUT = 2.0


@pytest.fixture
def enough_fds() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4 * N_SLOW
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {want}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


@pytest.mark.slow
def test_slowloris_does_not_delay_others_and_is_cut(
    enough_fds: None,
    start_proxy,  # type: ignore[no-untyped-def]
    http_backend,  # type: ignore[no-untyped-def]
) -> None:
    b = http_backend("s1")
    proxy = start_proxy(
        [("s1", b.port)],
        defaults_lines=[f"timeout http-request {int(HTTP_REQUEST_TIMEOUT)}s", "maxconn 2000"],
        global_lines=["maxconn 4000"],
    )
    slow = Slowloris(proxy.port, N_SLOW, interval=1.0)
    slow.start()
    try:
        assert slow.opened.wait(30), "the slowloris clients could not connect"
        assert not slow.connect_errors, slow.connect_errors[:5]
        t_open = time.monotonic()
        # a normal client, several times while all the slow ones hold their connections
        times = []
        while time.monotonic() - t_open < 1.2:
            t0 = time.monotonic()
            r = http_request(proxy.port, build_request("GET", "/fast?s=1k"), timeout=5)
            times.append(time.monotonic() - t0)
            assert r.status == 200 and r.body_len == 1024
            time.sleep(0.1)
        assert slow.open_count() > N_SLOW * 0.9, "slow clients were cut before the timeout"
        assert max(times) < 0.2, f"normal requests took {[round(t, 3) for t in times]} s"
        # every slow client is cut at timeout http-request
        deadline = t_open + HTTP_REQUEST_TIMEOUT + 3.0
        while slow.open_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert slow.open_count() == 0, f"{slow.open_count()} slow clients still connected"
    finally:
        slow.stop()
    lifetimes = sorted(c.closed_at - c.opened for c in slow.conns if c.closed_at is not None)
    assert lifetimes[0] > HTTP_REQUEST_TIMEOUT * 0.8, lifetimes[:5]
    assert lifetimes[-1] < HTTP_REQUEST_TIMEOUT + 2.5, lifetimes[-5:]
    answers = {c.received[:12] for c in slow.conns}
    assert answers <= {b"", b"HTTP/1.1 408"}, answers
    assert not b.requests() or all(r["target"] == "/fast?s=1k" for r in b.requests())
