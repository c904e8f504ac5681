"""Fixtures shared by the test suite: lb processes and backend servers, cleaned up by pid."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.backends import Backend
from tests.support.http_servers import HttpBackend
from tests.support.lbproc import LbProcess
from tests.support.procs import ProcRef, children, wait_gone


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes several seconds (bulk transfers, reloads)")


def _live_children() -> set[ProcRef]:
    kids = children(os.getpid())
    return {r for r in (ProcRef.of(p) for p in kids) if r is not None and r.alive()}


@pytest.fixture(autouse=True)
def no_leftover_children() -> Iterator[None]:
    """Every test must leave no child process of its own running (torn down last)."""
    before = _live_children()
    yield
    left = wait_gone(list(_live_children() - before), 2.0)
    for r in left:
        r.kill()
    assert not left, f"child processes left running by the test: {sorted(r.pid for r in left)}"


@pytest.fixture
def lb_factory(tmp_path: Path) -> Iterator[Callable[..., LbProcess]]:
    """Make LbProcess objects (not started); every one is stopped by pid at teardown.

    Teardown fails the test if any process of an lb (master, worker, descendant) was still
    alive after SIGTERM and had to be killed, or if its log holds a Python traceback.
    """
    made: list[LbProcess] = []

    def make(workers: int = 2, args: Sequence[str] = ()) -> LbProcess:
        d = tmp_path / f"lb{len(made)}"
        d.mkdir()
        lb = LbProcess(d, workers=workers, args=args)
        made.append(lb)
        return lb

    yield make
    leaks = []
    for lb in made:
        left = lb.close()
        if left:
            leaks.append(f"{lb.cfg_path}: pids {sorted(r.pid for r in left)} outlived SIGTERM")
        if "Traceback (most recent call last)" in lb.stderr():
            leaks.append(f"a Python traceback in lb's log {lb.stderr_path}")
    assert not leaks, "; ".join(leaks)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Callable[..., Backend]]:
    """Start backend server subprocesses: ``backend("echo", name="s1")``; killed at teardown."""
    made: list[Backend] = []

    def make(kind: str, name: str = "", size: int = 0, seed: int = 1) -> Backend:
        b = Backend(kind, tmp_path, name=name or f"{kind}{len(made)}", size=size, seed=seed)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def http_backend(tmp_path: Path) -> Iterator[Callable[..., HttpBackend]]:
    """Start http_servers.py backends: ``http_backend("s1")``; killed by pid at teardown."""
    made: list[HttpBackend] = []

    def make(name: str = "", port: int = 0) -> HttpBackend:
        b = HttpBackend(tmp_path, name=name or f"s{len(made) + 1}", port=port)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()
