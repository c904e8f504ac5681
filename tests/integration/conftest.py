"""Fixtures for the integration tests: a started lb in front of echo servers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from tests.support.backends import Backend
from tests.support.clients import free_port
from tests.support.lbproc import LbProcess, StartLb, tcp_config


@pytest.fixture
def start_lb(lb_factory: Callable[..., LbProcess]) -> StartLb:
    """``lb, port = start_lb([("s1", port1), …], workers=2, frontend_lines=[…], …)``."""

    def start(
        servers: Sequence[tuple[str, int]],
        workers: int = 2,
        args: Sequence[str] = (),
        **sections: Sequence[str],
    ) -> tuple[LbProcess, int]:
        port = free_port()
        lb = lb_factory(workers=workers, args=args)
        cfg = tcp_config(stats_socket=lb.stats_socket, bind_port=port, servers=servers, **sections)
        lb.start(cfg)
        return lb, port

    return start


@pytest.fixture
def echo_lb(start_lb: StartLb, backend: Callable[..., Backend]) -> tuple[LbProcess, int, Backend]:
    """lb with 2 workers in front of one echo server."""
    echo = backend("echo", name="echo")
    lb, port = start_lb([("echo", echo.port)])
    return lb, port, echo
