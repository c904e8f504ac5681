"""The global keywords of a production daemon, observed on the real processes."""

from __future__ import annotations

import os
import pwd
import socket
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.backends import Backend
from tests.support.clients import echo_roundtrip, free_port
from tests.support.lbproc import LbProcess, StartLb, run_lb, tcp_config
from tests.support.peers import need_root


def _status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def _nofile(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files line")


def test_workers_run_as_user_in_chroot_with_ulimit(
    start_lb: StartLb, backend: Callable[..., Backend], tmp_path: Path
) -> None:
    need_root()
    user = pwd.getpwnam("nobody")
    jail = tmp_path / "jail"
    jail.mkdir()
    echo = backend("echo", name="echo")
    lb, port = start_lb(
        [("echo", echo.port)],
        global_lines=["user nobody", f"chroot {jail}", "ulimit-n 4321"],
    )
    assert echo_roundtrip(port, b"through the jail\n") == b"through the jail\n"
    for w in lb.workers():
        status = _status(w.pid)
        assert status["Uid"].split()[0] == str(user.pw_uid)
        assert status["Gid"].split()[0] == str(user.pw_gid)
        assert os.readlink(f"/proc/{w.pid}/root") == str(jail)
        assert _nofile(w.pid) == 4321
        assert int(status["CapEff"], 16) == 0  # a non-root worker holds no capability
    # the master stays root but keeps only what binding, VRRP and workers need
    master = _status(lb.pid)
    assert master["Uid"].split()[0] == "0"
    bounding = int(master["CapBnd"], 16)
    cap_sys_admin, cap_sys_ptrace, cap_net_bind_service = 21, 19, 10
    assert not bounding & (1 << cap_sys_admin)
    assert not bounding & (1 << cap_sys_ptrace)
    assert bounding & (1 << cap_net_bind_service)


def test_nbthread_sets_the_worker_count(
    lb_factory: Callable[..., LbProcess], backend: Callable[..., Backend]
) -> None:
    echo = backend("echo", name="echo")
    lb = lb_factory(workers=3, args=())
    # no -n: the count comes from nbthread
    lb.command = lambda: [*LbProcess.command(lb)[:-2]]  # type: ignore[method-assign]
    assert lb.command()[-2:] != ["-n", "3"]
    cfg = tcp_config(
        stats_socket=lb.stats_socket,
        bind_port=free_port(),
        servers=[("echo", echo.port)],
        global_lines=["nbthread 3"],
    )
    lb.start(cfg)
    assert sorted(w.slot for w in lb.workers()) == [0, 1, 2]
    assert lb.show_info()["Nbthread"] == "3"


def test_worker_that_cannot_boot_stops_the_respawn_loop(
    lb_factory: Callable[..., LbProcess], backend: Callable[..., Backend], tmp_path: Path
) -> None:
    need_root()
    echo = backend("echo", name="echo")
    lb = lb_factory(workers=1)
    cfg = tcp_config(
        stats_socket=lb.stats_socket,
        bind_port=free_port(),
        servers=[("echo", echo.port)],
        global_lines=[f"chroot {tmp_path / 'does-not-exist'}"],
    )
    lb.start(cfg, wait=False)
    assert lb.proc is not None
    code = lb.proc.wait(30)
    assert code != 0
    err = lb.stderr()
    assert "cannot drop privileges" in err
    assert "failed to start" in err
    # one attempt at boot, no storm of retries
    assert err.count("cannot drop privileges") < 5


def test_crash_loop_after_start_gives_up_with_a_message(
    start_lb: StartLb, backend: Callable[..., Backend], tmp_path: Path
) -> None:
    """A slot whose respawns keep failing is given up (and named), the others keep serving."""
    need_root()
    echo = backend("echo", name="echo")
    jail = tmp_path / "jail"
    jail.mkdir()
    lb, port = start_lb([("echo", echo.port)], workers=2, global_lines=[f"chroot {jail}"])
    jail.rmdir()  # every later worker fails its chroot
    victim = lb.workers()[0]
    os.kill(victim.pid, 9)
    deadline = time.monotonic() + 20
    while "not respawning it" not in lb.stderr() and time.monotonic() < deadline:
        time.sleep(0.1)
    err = lb.stderr()
    assert f"worker slot {victim.slot} failed to start 5 times in a row" in err
    assert lb.running()
    # the given-up slot's sockets are closed: no connection is queued where nobody accepts
    for i in range(24):
        payload = f"still served {i}\n".encode()
        assert echo_roundtrip(port, payload, timeout=2.0) == payload


def test_sd_notify_ready_and_reloading(
    start_lb: StartLb, backend: Callable[..., Backend], tmp_path: Path
) -> None:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    os.environ["NOTIFY_SOCKET"] = path
    try:
        echo = backend("echo", name="echo")
        lb, _port = start_lb([("echo", echo.port)], workers=1)
    finally:
        del os.environ["NOTIFY_SOCKET"]
    messages = [sock.recv(4096).decode()]
    assert "READY=1" in messages[0]
    assert f"MAINPID={lb.pid}" in messages[0]
    lb.reload()
    got = sock.recv(4096).decode() + sock.recv(4096).decode()
    assert "RELOADING=1" in got and "READY=1" in got
    sock.close()


def test_check_mode_does_not_touch_a_running_daemon(
    echo_lb: tuple[LbProcess, int, Backend],
) -> None:
    lb, port, _echo = echo_lb
    before = {w.pid for w in lb.workers()}
    result = run_lb("-c", "-f", str(lb.cfg_path))
    assert result.returncode == 0, result.stderr
    assert "Configuration file is valid" in result.stdout
    assert {w.pid for w in lb.workers()} == before
    assert echo_roundtrip(port, b"x\n") == b"x\n"


def test_runtime_api_that_cannot_open_is_fatal_at_start(
    lb_factory: Callable[..., LbProcess], backend: Callable[..., Backend], tmp_path: Path
) -> None:
    echo = backend("echo", name="echo")
    lb = lb_factory(workers=1)
    missing_dir = tmp_path / "no-such-dir"
    cfg = tcp_config(
        stats_socket=str(missing_dir / "lb.sock"),
        bind_port=free_port(),
        servers=[("echo", echo.port)],
    )
    lb.start(cfg, wait=False)
    assert lb.proc is not None
    assert lb.proc.wait(20) == 1
    err = lb.stderr()
    assert f"cannot open stats socket {missing_dir / 'lb.sock'}" in err
    assert "lb.cfg:2:" in err  # the stats socket line
