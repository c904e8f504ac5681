"""Fixtures for lb-bench's tests: a real ``lb-bench serve``, and lb-bench run as a command."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.procs import descendants, wait_gone


@dataclass
class Served:
    http: int
    tcp: int
    proc: subprocess.Popen[bytes]

    def url(self, query: str = "") -> str:
        return f"http://127.0.0.1:{self.http}/{query}"


def start_serve(*args: str) -> Served:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lb.bench", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline().decode() if ready else ""
    fields = dict(w.split("=", 1) for w in line.split() if "=" in w)
    if "http" not in fields:
        proc.kill()
        raise AssertionError(f"serve did not start: {line!r} {proc.stderr.read()!r}")  # type: ignore[union-attr]
    port = lambda v: int(v.rsplit(":", 1)[1]) if v != "-" else 0  # noqa: E731
    return Served(port(fields["http"]), port(fields["tcp"]), proc)


def stop_serve(s: Served) -> str:
    """SIGTERM, then whatever is left by pid; returns what it wrote on stderr."""
    kids = descendants(s.proc.pid)
    s.proc.send_signal(signal.SIGTERM)
    try:
        _, err = s.proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        s.proc.kill()
        _, err = s.proc.communicate()
    for r in wait_gone(kids, 5):
        r.kill()
    return err.decode(errors="replace")


@pytest.fixture
def serve() -> Iterator[Served]:
    s = start_serve()
    yield s
    err = stop_serve(s)
    assert "Traceback" not in err, err


def bench(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``lb-bench ARGS`` as a command; its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "lb.bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def bench_json(*args: str, timeout: float = 60) -> dict[str, Any]:
    r = bench(*args, "--json", timeout=timeout)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout)["result"]


__all__ = ["Served", "bench", "bench_json", "start_serve", "stop_serve"]
