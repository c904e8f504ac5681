"""The master's lifecycle: reloads, crashes, stops, daemon mode, the runtime API."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.backends import Backend
from tests.support.clients import (
    EchoLoop,
    connect,
    echo_roundtrip,
    free_port,
    recv_all,
    recv_exact,
    wait_for,
)
from tests.support.lbproc import LbProcess, StartLb, tcp_config
from tests.support.peers import need_command
from tests.support.procs import ProcRef, read_stat, wait_gone
from tests.support.servers import pattern_chunks, pattern_digest

BackendFactory = Callable[..., Backend]
EchoLb = tuple[LbProcess, int, Backend]


def roundtrip_ok(port: int, tag: bytes = b"check") -> None:
    payload = tag + b" %d\n" % time.monotonic_ns()
    assert echo_roundtrip(port, payload) == payload


def refs_of(pids: list[int]) -> list[ProcRef]:
    return [r for r in (ProcRef.of(p) for p in pids) if r is not None]


def assert_refused(port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# --------------------------------------------------------------------------- reload


@pytest.mark.slow
def test_ten_reloads_under_load_lose_nothing(start_lb: StartLb, backend: BackendFactory) -> None:
    echo = backend("echo", name="echo")
    lb, port = start_lb([("echo", echo.port)], global_lines=["hard-stop-after 60s"])
    first = lb.show_proc()
    gen0 = first.generation()
    old_refs = refs_of([w.pid for w in first.workers])
    assert len(old_refs) == 2

    # a connection opened before the reloads must be finished by its (old) worker
    held = connect(port)
    held.sendall(b"before\n")
    assert recv_exact(held, 7) == b"before\n"

    loop = EchoLoop(port)
    loop.start()
    wait_for(lambda: loop.snapshot().ok >= 20, 10, what="echo loop running")
    gens = [gen0]
    for _ in range(10):
        sp = lb.reload(signal.SIGUSR2)
        gens.append(sp.generation())
        old_refs += refs_of([w.pid for w in sp.workers])
        time.sleep(0.35)
    ok_before_end = loop.snapshot().ok
    wait_for(lambda: loop.snapshot().ok >= ok_before_end + 20, 10, what="loop after reloads")
    stats = loop.stop()

    assert stats.refused == 0, stats.errors[:10]
    assert stats.reset == 0, stats.errors[:10]
    assert stats.failed == 0, stats.errors[:10]
    assert stats.ok >= 100
    assert gens == sorted(set(gens)), f"each reload must make a newer generation: {gens}"

    held.sendall(b"after\n")
    assert recv_exact(held, 6) == b"after\n"
    held.close()

    last = gens[-1]
    wait_for(lambda: not lb.show_proc().old_workers, 15, what="old workers gone from show proc")
    sp = lb.show_proc()
    assert len(sp.workers) == 2 and {w.generation for w in sp.workers} == {last}, sp.raw
    assert sorted(w.slot or 0 for w in sp.workers) == [0, 1], sp.raw
    current = {w.pid for w in sp.workers}
    old = [r for r in old_refs if r.pid not in current]
    assert len(old) == 20
    assert not wait_gone(old, 5), "old workers still running"
    roundtrip_ok(port)
    assert not lb.log_problems(), lb.stderr()
    assert "[ALERT]" not in lb.stderr(), lb.stderr()


def test_reload_through_api_success(echo_lb: EchoLb) -> None:
    lb, port, _ = echo_lb
    gen = lb.show_proc().generation()
    answer = lb.api("reload", timeout=30)
    assert answer.startswith("Success=1\n--\n"), answer
    wait_for(lambda: lb.show_proc().generation() > gen, 10, what="new generation")
    roundtrip_ok(port)


def test_invalid_reload_keeps_old_generation(echo_lb: EchoLb) -> None:
    lb, port, _ = echo_lb
    good = lb.cfg_path.read_text()
    before = lb.show_proc()
    bad_line = len(good.splitlines()) + 1
    lb.write_config(good + "    frobnicate now\n")  # last section is the backend
    where = f"{lb.cfg_path}:{bad_line}"

    # 1. through the runtime API
    answer = lb.api("reload", timeout=30)
    assert answer.startswith("Success=0\n--\n"), answer
    assert where in answer, answer
    time.sleep(0.5)
    after = lb.show_proc()
    assert after.generation() == before.generation()
    assert {w.pid for w in after.workers} == {w.pid for w in before.workers}
    assert not after.old_workers
    roundtrip_ok(port)

    # 2. through SIGHUP: the error goes to the log
    seen = lb.stderr().count(where)
    lb.send_signal(signal.SIGHUP)
    wait_for(lambda: lb.stderr().count(where) > seen, 10, what=f"{where} logged after SIGHUP")
    time.sleep(0.5)
    after = lb.show_proc()
    assert after.generation() == before.generation()
    assert {w.pid for w in after.workers} == {w.pid for w in before.workers}
    roundtrip_ok(port)
    assert lb.running()

    # 3. fixed: the next reload works
    lb.write_config(good)
    assert lb.api("reload", timeout=30).startswith("Success=1")
    wait_for(lambda: lb.show_proc().generation() > before.generation(), 10)
    roundtrip_ok(port)


def test_reload_applies_new_config_old_connections_stay(
    start_lb: StartLb, backend: BackendFactory
) -> None:
    a = backend("hello", name="a")
    b = backend("hello", name="b")
    lb, port = start_lb([("a", a.port)])
    held = connect(port)
    assert recv_exact(held, 2) == b"a\n"
    cfg = lb.cfg_path.read_text()
    lb.write_config(cfg.replace(f"server a 127.0.0.1:{a.port}", f"server b 127.0.0.1:{b.port}"))
    lb.reload(signal.SIGUSR2)
    for _ in range(6):
        with connect(port) as s:
            assert recv_exact(s, 2) == b"b\n"
    held.sendall(b"still a\n")
    assert recv_exact(held, 8) == b"still a\n"
    held.close()


def test_reload_opens_new_binds_and_closes_removed_ones(echo_lb: EchoLb) -> None:
    lb, port, _ = echo_lb
    good = lb.cfg_path.read_text()
    port2 = free_port()
    lb.write_config(good + f"\nfrontend fe2\n    bind 127.0.0.1:{port2}\n    default_backend be\n")
    assert lb.api("reload", timeout=30).startswith("Success=1")
    wait_for(lambda: not lb.show_proc().old_workers, 15, what="reload done")
    roundtrip_ok(port2, b"new bind")
    roundtrip_ok(port)
    lb.write_config(good)
    assert lb.api("reload", timeout=30).startswith("Success=1")
    wait_for(lambda: not lb.show_proc().old_workers, 15, what="reload done")
    assert_refused(port2)
    roundtrip_ok(port)


@pytest.mark.slow
def test_bulk_transfer_survives_reloads(start_lb: StartLb, backend: BackendFactory) -> None:
    """A transfer in flight (spliced by an old worker) completes intact across two reloads."""
    sink = backend("sink", name="sink")
    lb, port = start_lb([("sink", sink.port)])
    size = 48 << 20
    with connect(port, timeout=30) as s:
        chunks = list(pattern_chunks(3, size, chunk=1 << 20))
        for i, chunk in enumerate(chunks):
            s.sendall(chunk)
            time.sleep(0.02)  # about 1.5 s in all
            if i in (10, 30):
                lb.reload(signal.SIGUSR2)
        s.shutdown(socket.SHUT_WR)
        answer = recv_all(s).decode()
    assert answer.split() == [pattern_digest(3, size), str(size)]
    assert lb.show_proc().generation() >= 3


# --------------------------------------------------------------------------- crash


@pytest.mark.slow
def test_killed_worker_respawns_on_its_slot(echo_lb: EchoLb) -> None:
    lb, port, _ = echo_lb
    loop = EchoLoop(port)
    loop.start()
    wait_for(lambda: loop.snapshot().ok >= 20, 10, what="echo loop running")
    workers = {w.slot: w for w in lb.workers()}
    assert sorted(workers) == [0, 1]
    victim = ProcRef.of(workers[0].pid)
    assert victim is not None

    t0 = time.monotonic()
    victim.kill(signal.SIGKILL)
    replacement = None
    while time.monotonic() - t0 < 5:
        now = {w.slot: w for w in lb.workers()}
        if 0 in now and now[0].pid != victim.pid:
            replacement = now[0]
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - t0
    assert replacement is not None, "no worker on slot 0 within 5 s"
    # within 1 s, give or take one 50 ms poll
    assert elapsed <= 1.05, f"slot 0 respawned after {elapsed:.3f}s"
    assert not victim.alive()
    assert now[1].pid == workers[1].pid, "the other worker must not be touched"

    ok = loop.snapshot().ok
    wait_for(lambda: loop.snapshot().ok >= ok + 50, 10, what="loop continues")
    stats = loop.stop()
    assert stats.refused == 0, stats.errors
    # only the connection in flight on the killed worker may be lost
    assert stats.reset + stats.failed <= 1, stats.errors
    # the log says which worker died
    died = [ln for ln in lb.stderr().splitlines() if f"{victim.pid}" in ln]
    assert any(ln.startswith(("[ALERT]", "[WARNING]")) for ln in died), lb.stderr()
    assert not lb.log_problems(), lb.stderr()


# --------------------------------------------------------------------------- stop


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_fast_stop_within_one_second(echo_lb: EchoLb, sig: int) -> None:
    lb, port, _ = echo_lb
    idle = connect(port)
    idle.sendall(b"x")
    assert idle.recv(1) == b"x"
    refs = lb.known()
    assert len(refs) >= 3  # master + 2 workers
    elapsed = lb.stop(sig, timeout=5)
    assert elapsed <= 1.0, f"processes gone after {elapsed:.3f}s"
    assert_refused(port)
    idle.settimeout(5)
    with contextlib.suppress(ConnectionResetError):
        assert idle.recv(1) == b""
    idle.close()


def test_graceful_stop_finishes_connections(echo_lb: EchoLb) -> None:
    lb, port, _ = echo_lb
    held = connect(port)
    held.sendall(b"one\n")
    assert recv_exact(held, 4) == b"one\n"
    refs = lb.known()
    lb.send_signal(signal.SIGUSR1)
    time.sleep(1.0)
    assert lb.running(), "graceful stop must wait for the open connection"
    assert_refused(port)  # like HAProxy's soft stop: listeners are closed at once
    held.sendall(b"two\n")
    assert recv_exact(held, 4) == b"two\n"
    held.close()
    assert not wait_gone(list(refs), 5), "lb did not exit after its last connection closed"
    assert_refused(port)


def test_graceful_stop_bounded_by_hard_stop_after(
    start_lb: StartLb, backend: BackendFactory
) -> None:
    echo = backend("echo", name="echo")
    lb, port = start_lb([("echo", echo.port)], global_lines=["hard-stop-after 1s"])
    held = connect(port)
    held.sendall(b"one\n")
    assert recv_exact(held, 4) == b"one\n"
    refs = lb.known()
    t0 = time.monotonic()
    lb.send_signal(signal.SIGUSR1)
    assert not wait_gone(list(refs), 4), "hard-stop-after did not end the graceful stop"
    assert time.monotonic() - t0 >= 0.8
    held.settimeout(5)
    with contextlib.suppress(ConnectionResetError):
        assert held.recv(1) == b""
    held.close()


def test_workers_exit_when_master_is_killed(echo_lb: EchoLb) -> None:
    """No orphan keeps serving after its master died (SIGKILL: no chance to clean up)."""
    lb, _, _ = echo_lb
    assert lb.master is not None
    workers = refs_of([w.pid for w in lb.workers()])
    assert len(workers) == 2
    lb.master.kill(signal.SIGKILL)
    assert not wait_gone(workers, 3), "workers outlived their master"


# --------------------------------------------------------------------------- daemon


@pytest.mark.parametrize("how", ["-p", "global pidfile"])
def test_daemon_mode_pidfile(
    lb_factory: Callable[..., LbProcess], backend: BackendFactory, tmp_path: Path, how: str
) -> None:
    echo = backend("echo", name="echo")
    pidfile = tmp_path / "lb.pid"
    port = free_port()
    lb = lb_factory(workers=2, args=["-D", "-p", str(pidfile)] if how == "-p" else ["-D"])
    extra = [f"pidfile {pidfile}"] if how != "-p" else []
    cfg = tcp_config(
        stats_socket=lb.stats_socket,
        bind_port=port,
        servers=[("echo", echo.port)],
        global_lines=extra,
    )
    lb.start(cfg, wait=False)
    assert lb.proc is not None
    try:
        rc = lb.proc.wait(15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"lb -D did not return to its caller; stderr: {lb.stderr()}")
    assert rc == 0, lb.stderr()
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip().isdigit(), 10, what="pidfile")
    pid = int(pidfile.read_text().strip())
    assert pid != lb.proc.pid
    lb.adopt_master(pid)
    st = read_stat(pid)
    assert st is not None and st.ppid != os.getpid(), "the master must not be our child"
    assert os.getsid(pid) != os.getsid(0), "the daemon must have its own session"
    sp = lb.wait_ready(30)
    assert sp.master is not None and sp.master.pid == pid
    roundtrip_ok(port)
    elapsed = lb.stop(signal.SIGTERM, timeout=5)
    assert elapsed <= 1.0
    assert_refused(port)


# --------------------------------------------------------------------------- runtime API


def test_show_proc_lists_master_and_workers(echo_lb: EchoLb) -> None:
    lb, _, _ = echo_lb
    sp = lb.show_proc()
    assert sp.master is not None and sp.master.pid == lb.pid
    assert len(sp.workers) == 2 and not sp.old_workers
    for w in sp.workers:
        st = read_stat(w.pid)
        assert st is not None and st.ppid == lb.pid, f"worker {w.pid} is not the master's child"
    first = sp.raw.splitlines()[0]
    assert first.startswith("#") and "<PID>" in first and "<generation>" in first, sp.raw


def test_show_info_counts_connections(echo_lb: EchoLb) -> None:
    lb, port, _ = echo_lb
    info = lb.show_info()
    assert info["Name"] == "lb"
    assert info["Version"]
    assert info["Nbthread"] == "2"
    assert info["Stopping"] == "0"
    assert int(info["Uptime_sec"]) >= 0
    cum0 = int(info["CumConns"])
    for i in range(5):
        roundtrip_ok(port, b"%d" % i)
    wait_for(lambda: int(lb.show_info()["CumConns"]) >= cum0 + 5, 5, what="CumConns += 5")
    held = [connect(port) for _ in range(3)]
    for s in held:
        s.sendall(b"x")
        assert s.recv(1) == b"x"
    wait_for(lambda: int(lb.show_info()["CurrConns"]) >= 3, 5, what="CurrConns >= 3")
    for s in held:
        s.close()


def test_api_several_commands_and_socat(echo_lb: EchoLb) -> None:
    lb, _, _ = echo_lb
    both = lb.api("show info; show proc")
    assert "Name: lb" in both and " master " in both
    socat = need_command("socat")
    r = subprocess.run(
        [socat, "-t", "5", "stdio", f"unix-connect:{lb.stats_socket}"],
        input="show proc\n",
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert r.returncode == 0, r.stderr
    assert f"{lb.pid} " in r.stdout and "worker" in r.stdout, r.stdout
