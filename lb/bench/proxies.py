"""Start and stop what a comparison runs: the ``serve`` backend and each proxy under test.

Each runs in the foreground of its own process (lb and HAProxy with ``-db``-like
behaviour, nginx with ``daemon off``), writes its log in the work directory, and is
stopped by pid: SIGTERM, then SIGKILL for it and every descendant still there. A proxy is
ready when a request (HTTP) or a counted stream (TCP) has gone through it to the backend.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lb.bench.errors import EXIT_PROXY, BenchError
from lb.bench.pool import child_env
from lb.bench.procs import ProcRef, Target


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the kernel's choice)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    """A process a comparison started: its name, port, process tree, and log."""

    name: str
    port: int
    target: Target
    log: Path

    def processes(self) -> list[ProcRef]:
        return self.target.processes()

    def alive(self) -> bool:
        return self.target.proc is not None and self.target.proc.poll() is None

    def stop(self) -> None:
        self.target.stop()

    def log_tail(self, lines: int = 3) -> str:
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace").strip().splitlines()
            interesting = [ln for ln in text if "ALERT" in ln or "emerg" in ln or "rror" in ln]
            return " | ".join((interesting or text)[-lines:])
        return ""


def _spawn(name: str, cmd: list[str], log: Path, cwd: Path, port: int) -> Running:
    err = open(log, "wb")  # noqa: SIM115 - the child keeps it open
    try:
        proc = subprocess.Popen(
            cmd, stdout=err, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd, env=child_env()
        )
    except OSError as e:
        raise BenchError(f"{name}: cannot run {cmd[0]}: {e.strerror}", EXIT_PROXY) from None
    finally:
        err.close()
    ref = ProcRef.of(proc.pid)
    return Running(name, port, Target(name, port, proc, ref), log)


def wait_ready(r: Running, probe: str, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
    """Wait until the probe goes through r; BenchError with r's log when it never does."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not r.alive():
            code = r.target.proc.returncode if r.target.proc else None
            tail = r.log_tail()
            r.stop()
            raise BenchError(
                f"{r.name} exited with {code} at start: {tail or 'no message'} (log: {r.log})",
                EXIT_PROXY,
            )
        try:
            if probe == "tcp":
                tcp_probe(host, r.port)
            else:
                http_probe(host, r.port, probe)
            return
        except (OSError, ValueError) as e:
            last = str(e) or type(e).__name__
        time.sleep(0.05)
    tail = r.log_tail()
    r.stop()
    raise BenchError(
        f"{r.name} not ready after {timeout:.0f}s: {last}"
        f"{'; its log: ' + tail if tail else ''} (log: {r.log})",
        EXIT_PROXY,
    )


def http_probe(host: str, port: int, path: str, timeout: float = 2.0) -> int:
    """One GET with Connection: close; the status, or ValueError if none came back."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while len(data) < 12:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1.") or len(data) < 12:
        raise ValueError(f"no HTTP response: {data[:40]!r}")
    status = int(data[9:12])
    if status >= 500:
        raise ValueError(f"status {status}")  # a proxy still waiting for its server says 503
    return status


def tcp_probe(host: str, port: int, timeout: float = 2.0) -> None:
    """Ten bytes through to a serve sink, counted back."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(b"U" + b"x" * 10)
        s.shutdown(socket.SHUT_WR)
        ack = b""
        while len(ack) < 8:
            chunk = s.recv(8 - len(ack))
            if not chunk:
                break
            ack += chunk
    if len(ack) != 8 or struct.unpack("!Q", ack)[0] != 10:
        raise ValueError("the stream did not reach the sink")


# ------------------------------------------------------------------------------ starters


def start_backend(workdir: Path, workers: int) -> tuple[Running, int, int]:
    """``lb-bench serve`` on two free ports; returns it, its HTTP port and its TCP port."""
    log = workdir / "serve.log"
    err = open(log, "wb")  # noqa: SIM115
    cmd = [sys.executable, "-m", "lb.bench", "serve", "--workers", str(workers)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=child_env()
    )
    err.close()
    r = Running("backend", 0, Target("backend", 0, proc, ProcRef.of(proc.pid)), log)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline().decode() if ready else ""
    fields = dict(w.split("=", 1) for w in line.split() if "=" in w)
    try:
        http_port = int(fields["http"].rsplit(":", 1)[1])
        tcp_port = int(fields["tcp"].rsplit(":", 1)[1])
    except (KeyError, ValueError, IndexError):
        r.stop()
        raise BenchError(f"the backend did not start: {r.log_tail() or line!r}") from None
    r.port = http_port
    r.target.port = http_port
    return r, http_port, tcp_port


def start_lb(workdir: Path, config: str, port: int, workers: int, probe: str) -> Running:
    cfg = workdir / "lb.cfg"
    cfg.write_text(config)
    cmd = [sys.executable, "-m", "lb", "-f", str(cfg), "-n", str(workers)]
    r = _spawn("lb", cmd, workdir / "lb.log", workdir, port)
    wait_ready(r, probe)
    return r


def start_haproxy(haproxy: str, workdir: Path, config: str, port: int, probe: str) -> Running:
    cfg = workdir / "haproxy.cfg"
    cfg.write_text(config)
    r = _spawn("haproxy", [haproxy, "-db", "-f", str(cfg)], workdir / "haproxy.log", workdir, port)
    wait_ready(r, probe)
    return r


def start_nginx(nginx: str, workdir: Path, config: str, port: int, probe: str) -> Running:
    (workdir / "tmp").mkdir(exist_ok=True)
    cfg = workdir / "nginx.conf"
    cfg.write_text(config)
    cmd = [nginx, "-c", str(cfg), "-p", str(workdir)]
    r = _spawn("nginx", cmd, workdir / "nginx.log", workdir, port)
    wait_ready(r, probe)
    return r


def make_workdir(base: Path, name: str) -> Path:
    d = base / name
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o755)  # nginx workers started by root run as an unprivileged user
    return d
