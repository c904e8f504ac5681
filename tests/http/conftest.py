"""Fixtures for the HTTP tests: one proxy, lb or HAProxy, in front of http_servers backends.

Every test that uses ``start_proxy`` runs once per proxy: ``[haproxy]`` (the reference
behaviour, Debian's haproxy ``-db -f CFG``) and ``[lb]``. ``HTTP_PROXIES=haproxy`` (or
``lb``, or ``haproxy,lb``, the default) chooses. Both get the same HAProxy-syntax file.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.clients import free_port
from tests.support.lbproc import LbProcess, tcp_config
from tests.support.peers import need_command
from tests.support.procs import ProcRef, wait_gone

PROXIES = [p.strip() for p in os.environ.get("HTTP_PROXIES", "haproxy,lb").split(",") if p]


def http_config(**kw: Any) -> str:
    """The tests' ``mode http`` configuration: tcp_config's shape, in mode http."""
    return tcp_config(mode="http", hard_stop_after="10s", **kw)


class HaproxyProcess:
    """HAProxy in the foreground (``-db``), stopped by pid."""

    def __init__(self, workdir: Path, binary: str) -> None:
        self.workdir = workdir
        self.binary = binary
        self.sockdir = Path(tempfile.mkdtemp(prefix="hap-", dir="/tmp"))
        self.stats_socket = str(self.sockdir / "haproxy.sock")
        self.cfg_path = workdir / "haproxy.cfg"
        self.stderr_path = workdir / "haproxy.stderr"
        self.proc: subprocess.Popen[bytes] | None = None
        self.ref: ProcRef | None = None

    def start(self, config: str, port: int, timeout: float = 10.0) -> None:
        self.cfg_path.write_text(config)
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                [self.binary, "-db", "-f", str(self.cfg_path)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                cwd=self.workdir,
            )
        self.ref = ProcRef.of(self.proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.stderr_path.read_text()}")
            if os.path.exists(self.stats_socket):
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(self.stats_socket)
                    return
                except OSError:
                    pass
            time.sleep(0.02)
        raise RuntimeError(f"haproxy not ready: {self.stderr_path.read_text()}")

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc is not None else []

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None and self.ref is not None:
            self.ref.kill(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.ref.kill(signal.SIGKILL)
                self.proc.wait(5)
        if self.ref is not None:
            wait_gone([self.ref], 2.0)
        import shutil

        shutil.rmtree(self.sockdir, ignore_errors=True)


class Proxy:
    """A started proxy: which one, its port, and its process handle."""

    def __init__(self, kind: str, port: int, handle: HaproxyProcess | LbProcess) -> None:
        self.kind = kind
        self.port = port
        self.handle = handle

    def stderr(self) -> str:
        return self.handle.stderr()


StartProxy = Callable[..., Proxy]


@pytest.fixture(params=PROXIES)
def proxy_kind(request: pytest.FixtureRequest) -> str:
    kind = str(request.param)
    if kind == "haproxy":
        need_command("haproxy")
    return kind


@pytest.fixture
def start_proxy(
    proxy_kind: str, tmp_path: Path, lb_factory: Callable[..., LbProcess]
) -> Iterator[StartProxy]:
    """``proxy = start_proxy([("s1", port)], defaults_lines=[…], …)``: lb or HAProxy."""
    haps: list[HaproxyProcess] = []

    def start(
        servers: Sequence[tuple[str, int]], workers: int = 2, **sections: Sequence[str]
    ) -> Proxy:
        port = free_port()
        if proxy_kind == "haproxy":
            d = tmp_path / f"haproxy{len(haps)}"
            d.mkdir()
            hap = HaproxyProcess(d, need_command("haproxy"))
            haps.append(hap)
            cfg = http_config(
                stats_socket=hap.stats_socket, bind_port=port, servers=servers, **sections
            )
            hap.start(cfg, port)
            return Proxy("haproxy", port, hap)
        lb = lb_factory(workers=workers)
        cfg = http_config(stats_socket=lb.stats_socket, bind_port=port, servers=servers, **sections)
        lb.start(cfg)
        return Proxy("lb", port, lb)

    yield start
    for h in haps:
        h.close()
