"""Start the real lb daemon as a subprocess, talk to it, and make sure it is gone afterwards."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support.api import ProcLine, ShowProc, api_call, parse_show_info, parse_show_proc
from tests.support.procs import ProcRef, descendants, wait_gone

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT.parent / "shared/examples"
_VENV_PY = ROOT / ".venv/bin/python"
PYTHON = str(_VENV_PY) if _VENV_PY.exists() else sys.executable


def lb_command(*args: str) -> list[str]:
    return [PYTHON, "-m", "lb", *args]


def run_lb(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run lb to completion (``-c`` and the like); output captured as text."""
    return subprocess.run(
        lb_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


def tcp_config(
    *,
    stats_socket: str,
    bind_port: int,
    servers: Sequence[tuple[str, int]],
    global_lines: Sequence[str] = (),
    defaults_lines: Sequence[str] = (),
    frontend_lines: Sequence[str] = (),
    backend_lines: Sequence[str] = (),
    server_options: str = "",
    mode: str = "tcp",
    hard_stop_after: str = "30s",
) -> str:
    """A minimal configuration: one frontend on bind_port, one backend, in ``mode``."""
    lines = [
        "global",
        f"    stats socket {stats_socket} mode 600 level admin",
        f"    hard-stop-after {hard_stop_after}",
        *(f"    {x}" for x in global_lines),
        "",
        "defaults",
        f"    mode {mode}",
        "    timeout connect 2s",
        "    timeout client 30s",
        "    timeout server 30s",
        *(f"    {x}" for x in defaults_lines),
        "",
        "frontend fe",
        f"    bind 127.0.0.1:{bind_port}",
        "    default_backend be",
        *(f"    {x}" for x in frontend_lines),
        "",
        "backend be",
        *(f"    {x}" for x in backend_lines),
    ]
    for name, port in servers:
        lines.append(f"    server {name} 127.0.0.1:{port} {server_options}".rstrip())
    return "\n".join(lines) + "\n"


LOG_LINE = re.compile(r"^\[(NOTICE|WARNING|ALERT)\] +\(\d+\) : ")


class LbError(RuntimeError):
    pass


class LbProcess:
    """One lb master (and its workers), started with ``subprocess.Popen``.

    ``close()`` stops it by pid — SIGTERM, then SIGKILL — and returns every process of it
    (master, workers, any descendant seen) that had to be killed or is still alive.
    """

    def __init__(self, workdir: Path, workers: int = 2, args: Sequence[str] = ()) -> None:
        self.workdir = workdir
        self.nworkers = workers
        self.args = list(args)
        # unix socket paths are limited to 108 bytes: keep the socket out of deep pytest dirs
        self.sockdir = Path(tempfile.mkdtemp(prefix="lbt-", dir="/tmp"))
        self.stats_socket = str(self.sockdir / "lb.sock")
        self.cfg_path = workdir / "lb.cfg"
        self.stderr_path = workdir / "lb.stderr"
        self.proc: subprocess.Popen[bytes] | None = None
        self.master: ProcRef | None = None
        self.seen: set[ProcRef] = set()

    # ------------------------------------------------------------------ lifecycle

    def write_config(self, text: str) -> None:
        self.cfg_path.write_text(text)

    def command(self) -> list[str]:
        return lb_command("-f", str(self.cfg_path), "-n", str(self.nworkers), *self.args)

    def start(self, config: str | None = None, wait: bool = True, timeout: float = 30.0) -> None:
        if config is not None:
            self.write_config(config)
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                cwd=self.workdir,
            )
        self.master = ProcRef.of(self.proc.pid)
        if self.master is not None:
            self.seen.add(self.master)
        if wait:
            self.wait_ready(timeout)

    def adopt_master(self, pid: int) -> None:
        """Track a master we did not start directly (``-D``: the daemon's pid)."""
        ref = ProcRef.of(pid)
        if ref is None:
            raise LbError(f"no process {pid}")
        self.master = ref
        self.seen.add(ref)

    @property
    def pid(self) -> int:
        assert self.master is not None
        return self.master.pid

    def _master_is_child(self) -> bool:
        """True unless the master is a daemon we adopted (``-D``)."""
        if self.proc is None or self.master is None:
            return False
        return self.proc.pid == self.master.pid

    def running(self) -> bool:
        if self._master_is_child():
            assert self.proc is not None
            return self.proc.poll() is None
        return self.master is not None and self.master.alive()

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_problems(self) -> list[str]:
        """Lines of the log that break the ``[LEVEL] (pid) : message`` shape, tracebacks first."""
        lines = self.stderr().splitlines()
        bad = [ln for ln in lines if "Traceback (most recent call last)" in ln]
        bad += [ln for ln in lines if ln.strip() and not LOG_LINE.match(ln)]
        return bad

    def _died(self, what: str) -> LbError:
        rc = self.proc.poll() if self.proc is not None else None
        return LbError(f"lb {what} (exit code {rc}); stderr:\n{self.stderr()[-4000:]}")

    def wait_ready(self, timeout: float = 30.0) -> ShowProc:
        """Wait until show proc lists nworkers workers of the newest generation."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.running():
                raise self._died("exited before it was ready")
            try:
                sp = self.show_proc()
            except (OSError, ValueError) as e:
                last = repr(e)
            else:
                if len(sp.current()) == self.nworkers and len(sp.workers) == self.nworkers:
                    return sp
                last = sp.raw
            time.sleep(0.05)
        raise LbError(f"lb not ready after {timeout}s; last: {last}\nstderr:\n{self.stderr()}")

    # ------------------------------------------------------------------ runtime API

    def api(self, command: str, timeout: float = 5.0) -> str:
        return api_call(self.stats_socket, command, timeout)

    def show_proc(self) -> ShowProc:
        sp = parse_show_proc(self.api("show proc"))
        for pid in sp.all_pids():
            ref = ProcRef.of(pid)
            if ref is not None:
                self.seen.add(ref)
        return sp

    def show_info(self) -> dict[str, str]:
        return parse_show_info(self.api("show info"))

    def workers(self) -> list[ProcLine]:
        """The current workers (``# workers`` of show proc): pid, slot, generation."""
        return self.show_proc().workers

    def send_signal(self, sig: int) -> None:
        assert self.master is not None
        if not self.master.kill(sig):
            raise self._died(f"is not running (signal {sig})")

    def reload(self, sig: int = signal.SIGUSR2, timeout: float = 30.0) -> ShowProc:
        """Signal a reload and wait for a complete newer generation of workers."""
        before = self.show_proc().generation()
        self.send_signal(sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise self._died("exited during a reload")
            sp = self.show_proc()
            if sp.generation() > before and len(sp.workers) == self.nworkers:
                return sp
            time.sleep(0.02)
        raise LbError(f"no new generation after {timeout}s:\n{self.api('show proc')}")

    # ------------------------------------------------------------------ stopping

    def known(self) -> set[ProcRef]:
        """Every process of this lb seen so far, plus the live descendants of the master."""
        refs = set(self.seen)
        if self.master is not None and self.master.alive():
            refs.update(descendants(self.master.pid))
        self.seen |= refs
        return refs

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> float:
        """Signal the master; return the seconds until it and all its processes were gone."""
        refs = self.known()
        t0 = time.monotonic()
        self.send_signal(sig)
        if self._master_is_child():
            assert self.proc is not None
            self.proc.wait(timeout)
        left = wait_gone(list(refs), timeout, poll=0.005)
        if left:
            pids = sorted(r.pid for r in left)
            raise LbError(f"still alive {timeout}s after signal {sig}: {pids}")
        return time.monotonic() - t0

    def close(self) -> list[ProcRef]:
        """Teardown: stop everything by pid. Returns the processes that outlived SIGTERM."""
        refs = self.known()
        if self.master is not None:
            self.master.kill(signal.SIGTERM)
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        left = wait_gone(list(refs), 5.0)
        for r in left:
            r.kill(signal.SIGKILL)
        wait_gone(left, 5.0)
        shutil.rmtree(self.sockdir, ignore_errors=True)
        return left


# ``start_lb`` fixture (tests/integration/conftest.py): servers, workers=…, sections → (lb, port)
StartLb = Callable[..., tuple[LbProcess, int]]
