"""Start the backend servers of ``servers.py`` as subprocesses and read what they recorded."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support import servers
from tests.support.procs import ProcRef

SERVER_SCRIPT = Path(servers.__file__).resolve()


class Backend:
    """One backend server process: its port, pid, and the events it logged."""

    def __init__(
        self,
        kind: str,
        workdir: Path,
        name: str = "srv",
        size: int = 0,
        seed: int = 1,
        port: int = 0,
    ) -> None:
        if kind not in servers.KINDS:
            raise ValueError(f"unknown backend kind {kind!r}")
        self.kind = kind
        self.name = name
        self.log_path = workdir / f"backend-{name}-{os.getpid()}-{time.monotonic_ns()}.jsonl"
        self.log_path.touch()
        cmd = [sys.executable, str(SERVER_SCRIPT), kind, "--name", name, "--log"]
        cmd += [str(self.log_path), "--size", str(size), "--seed", str(seed), "--port", str(port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.ref = ProcRef.of(self.pid)
        self.port = self._wait_ready(timeout=10.0)

    def _wait_ready(self, timeout: float) -> int:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"backend {self.name} ({self.kind}) did not start: {line!r}")
        return int(line.split()[1])

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            if line.endswith("}"):  # a line being written is not complete yet
                out.append(json.loads(line))
        return out

    def opens(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["ev"] == "open"]

    def closes(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["ev"] == "close"]

    def wait_closes(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The close events, once there are at least n (the server logs after closing)."""
        deadline = time.monotonic() + timeout
        while len(closes := self.closes()) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return closes

    def max_concurrency(self) -> int:
        return max((e["cur"] for e in self.opens()), default=0)

    def current(self) -> int:
        """Connections open now, as far as the log says."""
        return len(self.opens()) - len(self.closes())

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.ref is not None:
            self.ref.kill(sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill(signal.SIGKILL)
            self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def total_max_concurrency(backends: list[Backend]) -> int:
    """The highest number of connections open at once across several backends.

    Events carry CLOCK_MONOTONIC stamps, which are comparable across processes.
    """
    evs = sorted((e["t"], 1 if e["ev"] == "open" else -1) for b in backends for e in b.events())
    cur = peak = 0
    for _, d in evs:
        cur += d
        peak = max(peak, cur)
    return peak
