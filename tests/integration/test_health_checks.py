"""Health checks and balancing through the real daemon: checks run once, state is shared.

Observed three ways: what the backends receive (checks, connections), what the
clients get (which server answered), and ``show servers state`` on the runtime API.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.backends import Backend
from tests.support.clients import connect, free_port, recv_line
from tests.support.http_servers import HttpBackend
from tests.support.lbproc import LbProcess, tcp_config

BackendFactory = Callable[..., Backend]


def config(
    lb: LbProcess, port: int, servers: list[tuple[str, int, str]], **sections: list[str]
) -> str:
    """``servers``: (name, port, options)."""
    text = tcp_config(stats_socket=lb.stats_socket, bind_port=port, servers=[], **sections)  # type: ignore[arg-type]
    return text + "".join(f"    server {n} 127.0.0.1:{p} {o}\n" for n, p, o in servers)


def servers_state(lb: LbProcess) -> dict[str, dict[str, int]]:
    """``show servers state``: server name → the numeric columns we look at."""
    lines = lb.api("show servers state").splitlines()
    assert lines[0] == "1", lines
    columns = lines[1].lstrip("# ").split()
    out = {}
    for line in lines[2:]:
        if not line.strip():
            continue
        row = dict(zip(columns, line.split(), strict=True))
        out[row["srv_name"]] = {
            k: int(row[k])
            for k in ("srv_op_state", "srv_admin_state", "srv_check_status", "srv_check_health")
        }
    return out


def wait_state(lb: LbProcess, name: str, op: int, timeout: float = 10.0) -> float:
    """Seconds until the server's operational state is ``op`` (0 down, 2 up)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if servers_state(lb).get(name, {}).get("srv_op_state") == op:
            return time.monotonic() - t0
        time.sleep(0.02)
    raise AssertionError(f"{name} not in op state {op} after {timeout}s: {servers_state(lb)}")


def hello(port: int, timeout: float = 5.0) -> str:
    with connect(port, timeout=timeout) as s:
        return recv_line(s).decode().strip()


@pytest.fixture
def restarted(tmp_path: Path) -> Iterator[Callable[[str, int], Backend]]:
    """Start a hello server on a given port (a backend coming back); stopped at teardown."""
    made: list[Backend] = []

    def make(name: str, port: int) -> Backend:
        b = Backend("hello", tmp_path, name=name, port=port)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


def test_four_workers_check_a_server_once_per_inter(
    lb_factory: Callable[..., LbProcess], tmp_path: Path
) -> None:
    web = HttpBackend(tmp_path, name="web")
    try:
        lb = lb_factory(workers=4)
        port = free_port()
        lb.start(
            config(
                lb,
                port,
                [("web", web.port, "check inter 200ms")],
                backend_lines=["option httpchk GET /health"],
            )
        )
        web.wait_requests(1)
        web.clear()
        time.sleep(2.0)
        checks = [r for r in web.requests() if r["target"] == "/health"]
        # ten intervals: ten checks, not forty
        assert 8 <= len(checks) <= 12, len(checks)
        assert {r["method"] for r in checks} == {"GET"}
        assert servers_state(lb)["web"]["srv_check_status"] == 15  # L7OK
    finally:
        web.stop()


def test_killed_server_is_marked_down_in_time_and_comes_back_after_rise(
    lb_factory: Callable[..., LbProcess],
    backend: BackendFactory,
    restarted: Callable[[str, int], Backend],
) -> None:
    inter, fall, rise, timeout_check = 0.3, 3, 2, 0.2
    s1, s2, s3 = (backend("hello", name=f"s{i}") for i in (1, 2, 3))
    lb = lb_factory(workers=2)
    port = free_port()
    opts = f"check inter {int(inter * 1000)}ms fall {fall} rise {rise}"
    lb.start(
        config(
            lb,
            port,
            [(b.name, b.port, opts) for b in (s1, s2, s3)],
            defaults_lines=[
                "retries 3",
                "option redispatch",
                f"timeout check {int(timeout_check * 1000)}ms",
            ],
        )
    )
    wait_state(lb, "s2", 2)
    time.sleep(inter * 2)  # fully up (not "UP 1/3")

    answered: list[str] = []
    errors: list[tuple[float, float, str]] = []  # (started, failed, what)
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                answered.append(hello(port))
            except OSError as exc:
                errors.append((started, time.monotonic(), repr(exc)))

    client = threading.Thread(target=load)
    client.start()
    try:
        time.sleep(0.3)
        s2_port = s2.port
        killed = time.monotonic()
        s2.stop()
        down_after = wait_state(lb, "s2", 0)
        assert down_after <= inter * fall + timeout_check + 0.3, down_after
        marked = len(answered)
        time.sleep(0.5)
        assert "s2" not in answered[marked:]
        back = restarted("s2", s2_port)
        up_after = wait_state(lb, "s2", 2)
        # rise checks, the first within one interval
        assert up_after <= inter * (rise + 1) + 0.3, up_after
        time.sleep(0.5)
    finally:
        stop.set()
        client.join(30)
    # Only connections already open on s2 when it died may fail (reset): the others that
    # reached it before it was marked down were redispatched.
    in_flight = [e for e in errors if e[0] <= killed + 0.05]
    assert errors == in_flight, (killed, errors)
    assert "s2" in answered[-20:] and back.opens()


@pytest.mark.parametrize("allbackups", [False, True])
def test_backups_take_over_only_when_every_primary_is_down(
    lb_factory: Callable[..., LbProcess], backend: BackendFactory, allbackups: bool
) -> None:
    names = ("p1", "p2", "b1", "b2")
    p1, p2, b1, b2 = (backend("hello", name=n) for n in names)
    lb = lb_factory(workers=2)
    port = free_port()
    check = "check inter 100ms fall 1 rise 1"
    lb.start(
        config(
            lb,
            port,
            [
                ("p1", p1.port, check),
                ("p2", p2.port, check),
                ("b1", b1.port, f"{check} backup"),
                ("b2", b2.port, f"{check} backup"),
            ],
            backend_lines=["option allbackups"] if allbackups else [],
        )
    )
    assert set(hello(port) for _ in range(20)) == {"p1", "p2"}
    p1.stop()
    wait_state(lb, "p1", 0)
    assert set(hello(port) for _ in range(20)) == {"p2"}
    p2.stop()
    wait_state(lb, "p2", 0)
    assert set(hello(port) for _ in range(20)) == ({"b1", "b2"} if allbackups else {"b1"})


def test_roundrobin_exact_order_with_four_workers(
    lb_factory: Callable[..., LbProcess], backend: BackendFactory
) -> None:
    servers = [backend("hello", name=f"s{i}") for i in range(1, 5)]
    lb = lb_factory(workers=4)
    port = free_port()
    lb.start(config(lb, port, [(s.name, s.port, "check") for s in servers]))
    assert [hello(port) for _ in range(5)] == ["s1", "s2", "s3", "s4", "s1"]


def test_leastconn_balances_long_lived_connections_across_four_workers(
    lb_factory: Callable[..., LbProcess], backend: BackendFactory
) -> None:
    servers = [backend("hello", name=f"s{i}") for i in range(1, 5)]
    lb = lb_factory(workers=4)
    port = free_port()
    lb.start(
        config(
            lb, port, [(s.name, s.port, "") for s in servers], backend_lines=["balance leastconn"]
        )
    )
    held: list[socket.socket] = []
    try:
        landed = []
        for _ in range(12):  # each stays open: the workers share the counts
            s = connect(port)
            held.append(s)
            landed.append(recv_line(s).decode().strip())
        assert Counter(landed) == {"s1": 3, "s2": 3, "s3": 3, "s4": 3}
        pids = {w.pid for w in lb.workers()}
        assert len(pids) == 4
    finally:
        for s in held:
            s.close()


def test_admin_state_survives_a_reload(
    lb_factory: Callable[..., LbProcess], backend: BackendFactory
) -> None:
    a, b = backend("hello", name="a"), backend("hello", name="b")
    lb = lb_factory(workers=2)
    port = free_port()
    lb.start(config(lb, port, [("a", a.port, "check inter 200ms"), ("b", b.port, "check")]))
    assert lb.api("set server be/b state maint").strip() == ""
    assert set(hello(port) for _ in range(6)) == {"a"}
    lb.write_config(config(lb, port, [("a", a.port, "check inter 100ms"), ("b", b.port, "check")]))
    lb.reload()
    state = servers_state(lb)
    assert state["b"]["srv_admin_state"] & 0x01  # still in maintenance
    assert set(hello(port) for _ in range(6)) == {"a"}
    assert lb.api("set server be/b state ready").strip() == ""
    assert set(hello(port) for _ in range(6)) == {"a", "b"}


def test_slowstart_ramp_shows_in_the_share_of_requests(
    lb_factory: Callable[..., LbProcess],
    backend: BackendFactory,
) -> None:
    a, b = backend("hello", name="a"), backend("hello", name="b")
    lb = lb_factory(workers=2)
    port = free_port()
    opts = "check inter 100ms fall 1 rise 1 weight 100 slowstart 3s"
    lb.start(config(lb, port, [("a", a.port, opts), ("b", b.port, opts)]))
    wait_state(lb, "b", 2)
    assert lb.api("set server be/b state maint").strip() == ""
    assert lb.api("set server be/b state ready").strip() == ""  # back: the ramp starts
    early = Counter(hello(port) for _ in range(100))
    time.sleep(3.2)
    late = Counter(hello(port) for _ in range(100))
    assert early["b"] < 30, early
    assert 40 <= late["b"] <= 60, late
