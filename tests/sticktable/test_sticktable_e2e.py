"""Stick tables in a real lb with 4 workers: limits hold for the whole daemon.

- a client over its http_req_rate gets 429 after exactly 10 requests spread over new
  connections (so over the 4 workers), while another client is served (also against
  Debian's haproxy 2.6, same file: the same 429 point);
- tcp-request connection: a concurrent-connection limit per source address;
- stick on src (mode http and tcp): a client comes back to the same server whatever worker
  it lands on;
- a reload keeps the entries (and the limit goes on); show table / clear table.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.http.conftest import HaproxyProcess, http_config
from tests.support.api import api_call
from tests.support.clients import free_port
from tests.support.http_servers import HttpBackend
from tests.support.lbproc import LbProcess
from tests.support.peers import need_command

WORKERS = 4
RATE_LIMIT = [
    "stick-table type ip size 100k expire 30s store http_req_rate(10s)",
    "http-request track-sc0 src",
    "http-request deny deny_status 429 if { sc_http_req_rate(0) gt 10 }",
]


def get_from(source: str, port: int, path: str = "/") -> int:
    """One request on a new connection from ``source``: the status (0: closed unanswered;
    a rejected connection is reset: HAProxy and lb close it abortively)."""
    data = b""
    try:
        with socket.create_connection(
            ("127.0.0.1", port), timeout=5, source_address=(source, 0)
        ) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
            while chunk := s.recv(65536):
                data += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    if not data.startswith(b"HTTP/1."):
        return 0
    return int(data.split(b" ", 2)[1])


def fresh_rate_period(period_ms: int = 10_000, margin_ms: int = 4_000) -> None:
    """Start at least ``margin_ms`` before the end of a rate period (periods start at
    multiples of the period on CLOCK_MONOTONIC, as HAProxy's do), so that the requests
    below all fall in one period: the limit is then exact, not weighted."""
    left = period_ms - (time.monotonic_ns() // 1_000_000) % period_ms
    if left < margin_ms:
        time.sleep(left / 1000 + 0.05)


def start_lb(
    lb_factory: Callable[..., LbProcess], port: int, servers: list[tuple[str, int]], **kw: list[str]
) -> LbProcess:
    lb = lb_factory(workers=WORKERS)
    lb.start(http_config(stats_socket=lb.stats_socket, bind_port=port, servers=servers, **kw))
    return lb


class Started:
    """lb (4 workers) or HAProxy (``nbthread 4``) on ``port``, with one runtime API."""

    def __init__(self, handle: LbProcess | HaproxyProcess, port: int) -> None:
        self.handle = handle
        self.port = port

    def api(self, command: str) -> str:
        return api_call(self.handle.stats_socket, command, 5.0)


def start(
    proxy: str,
    lb_factory: Callable[..., LbProcess],
    tmp_path: Path,
    servers: list[tuple[str, int]],
    **kw: list[str],
) -> Started:
    port = free_port()
    if proxy == "lb":
        return Started(start_lb(lb_factory, port, servers, **kw), port)
    hap = HaproxyProcess(tmp_path, need_command("haproxy"))
    kw["global_lines"] = [*kw.get("global_lines", []), f"nbthread {WORKERS}"]
    hap.start(
        http_config(stats_socket=hap.stats_socket, bind_port=port, servers=servers, **kw), port
    )
    HAPROXIES.append(hap)
    return Started(hap, port)


HAPROXIES: list[HaproxyProcess] = []


def frontend_stat(p: Started, column: str) -> int:
    """A column of frontend fe's row in ``show stat`` (CSV)."""
    lines = p.api("show stat").splitlines()
    names = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(names, line.split(","), strict=False))
        if row.get("pxname") == "fe" and row.get("svname") == "FRONTEND":
            return int(row[column] or 0)
    raise AssertionError(f"no FRONTEND row for fe: {lines}")


@pytest.fixture(autouse=True)
def _stop_haproxies() -> Iterator[None]:
    yield
    while HAPROXIES:
        HAPROXIES.pop().close()


@pytest.mark.parametrize("proxy", ["lb", "haproxy"])
def test_rate_limit_holds_across_workers(
    proxy: str,
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
    tmp_path: Path,
) -> None:
    srv = http_backend()
    p = start(proxy, lb_factory, tmp_path, [("s1", srv.port)], frontend_lines=RATE_LIMIT)
    fresh_rate_period()
    heavy, light = [], []
    for i in range(15):
        heavy.append(get_from("127.0.0.2", p.port))
        if i % 3 == 0:
            light.append(get_from("127.0.0.3", p.port))
    assert heavy == [200] * 10 + [429] * 5
    assert light == [200] * 5
    assert len(srv.requests()) == 15  # the denied ones never reached the server
    table = p.api("show table fe")
    assert table.startswith("# table: fe, type: ip, size:102400, used:2\n")
    assert re.search(r"key=127\.0\.0\.2 use=0 exp=\d+ http_req_rate\(10000\)=15\n", table)


def test_reload_keeps_the_table(
    lb_factory: Callable[..., LbProcess], http_backend: Callable[..., HttpBackend]
) -> None:
    srv = http_backend()
    port = free_port()
    lb = start_lb(lb_factory, port, [("s1", srv.port)], frontend_lines=RATE_LIMIT)
    fresh_rate_period(margin_ms=6_000)
    assert [get_from("127.0.0.2", port) for _ in range(11)] == [200] * 10 + [429]
    old = {p.pid for p in lb.workers()}
    lb.reload()
    assert not old & {p.pid for p in lb.workers()}  # new workers, same table
    assert "http_req_rate(10000)=11" in lb.api("show table fe key 127.0.0.2")
    assert get_from("127.0.0.2", port) == 429  # the limit goes on across the reload
    assert get_from("127.0.0.3", port) == 200
    # set table: an operator lifts the client's count; clear table: it starts afresh
    assert lb.api("set table fe key 127.0.0.2 data.http_req_rate 2") == "\n"
    assert get_from("127.0.0.2", port) == 200
    lb.api("clear table fe key 127.0.0.2")
    assert "127.0.0.2" not in lb.api("show table fe")
    assert get_from("127.0.0.2", port) == 200
    # a changed definition is a new, empty table
    lb.write_config(lb.cfg_path.read_text().replace("size 100k", "size 50k"))
    lb.reload()
    assert lb.api("show table").startswith("# table: fe, type: ip, size:51200, used:0\n")
    assert lb.api("show table nope") == "No such table\n\n"
    assert "clear table NAME" in lb.api("help")  # the table commands are listed


@pytest.mark.parametrize("proxy", ["lb", "haproxy"])
def test_tcp_request_connection_limits_concurrent_connections(
    proxy: str,
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
    tmp_path: Path,
) -> None:
    srv = http_backend()
    p = start(
        proxy,
        lb_factory,
        tmp_path,
        [("s1", srv.port)],
        frontend_lines=[
            "stick-table type ip size 1k expire 30s store conn_cur,conn_cnt,http_req_cnt",
            "tcp-request connection track-sc0 src",
            "tcp-request connection reject if { sc0_conn_cur gt 3 }",
        ],
    )
    port = p.port
    held = [
        socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.4", 0))
        for _ in range(3)
    ]
    try:
        deadline = time.monotonic() + 5
        while "conn_cur=3" not in p.api("show table fe key 127.0.0.4"):
            assert time.monotonic() < deadline, p.api("show table fe")
            time.sleep(0.05)
        assert get_from("127.0.0.4", port) == 0  # the 4th at once: closed, never served
        assert get_from("127.0.0.5", port) == 200  # another client is not limited
        held.pop().close()
        deadline = time.monotonic() + 5
        while "conn_cur=2" not in p.api("show table fe key 127.0.0.4"):
            assert time.monotonic() < deadline, p.api("show table fe")
            time.sleep(0.05)
        assert get_from("127.0.0.4", port) == 200
        table = p.api("show table fe key 127.0.0.4")
        # HAProxy also counts the held connection closed without a request as a request
        # (its empty-request accounting); lb counts requests only
        requests = 1 if proxy == "lb" else 2
        assert "conn_cnt=5 " in table and f"http_req_cnt={requests}\n" in table, table
        deadline = time.monotonic() + 5  # (lb's workers publish their counters twice a second)
        while frontend_stat(p, "dcon") != 1:  # the denied connection, in the stats
            assert time.monotonic() < deadline, p.api("show stat")
            time.sleep(0.1)
    finally:
        for s in held:
            s.close()
    assert len(srv.requests()) == 2


@pytest.mark.parametrize("mode", ["http", "tcp"])
@pytest.mark.parametrize("proxy", ["lb", "haproxy"])
def test_stick_on_src_sends_a_client_back_to_its_server(
    proxy: str,
    mode: str,
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
    tmp_path: Path,
) -> None:
    s1, s2 = http_backend("s1"), http_backend("s2")
    p = start(
        proxy,
        lb_factory,
        tmp_path,
        [("s1", s1.port), ("s2", s2.port)],
        defaults_lines=[f"mode {mode}"],
        backend_lines=["stick-table type ip size 1k expire 30s", "stick on src"],
    )
    port = p.port
    seen: dict[str, set[int]] = {}
    for client in ("127.0.0.6", "127.0.0.7", "127.0.0.8"):
        for _ in range(6):  # new connections: every worker serves some
            before = (len(s1.requests()), len(s2.requests()))
            assert get_from(client, port) == 200
            after = (len(s1.requests()), len(s2.requests()))
            seen.setdefault(client, set()).add(0 if after[0] > before[0] else 1)
    assert all(len(servers) == 1 for servers in seen.values()), seen
    assert len({next(iter(s)) for s in seen.values()}) == 2  # and the clients are spread
    table = p.api("show table be")
    assert table.count("server_id=") == 3
