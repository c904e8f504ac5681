"""maxconn (global and frontend) holds across all workers; excess connections wait, not refused."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

import pytest

from tests.support.backends import Backend
from tests.support.clients import connect, recv_exact, wait_for
from tests.support.lbproc import StartLb


def answered(s: socket.socket) -> bool:
    readable, _, _ = select.select([s], [], [], 0)
    return bool(readable)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["global", "frontend"])
def test_maxconn_holds_across_workers(
    start_lb: StartLb, backend: Callable[..., Backend], where: str
) -> None:
    echo = backend("echo", name="echo")
    lines = {f"{where}_lines": ["maxconn 3"]}
    lb, port = start_lb([("echo", echo.port)], workers=2, **lines)

    clients = []
    for i in range(6):
        s = connect(port, timeout=30)  # queued in a backlog, the handshake still completes
        s.sendall(b"client %d\n" % i)
        clients.append(s)

    # three reach the backend; then nothing more while they stay open
    wait_for(lambda: echo.current() >= 3, 10, what="3 connections at the backend")
    time.sleep(1.5)
    assert echo.current() == 3, echo.events()
    assert echo.max_concurrency() == 3, echo.events()
    served = [i for i, s in enumerate(clients) if answered(s)]
    waiting = [i for i in range(6) if i not in served]
    assert len(served) == 3, served
    for i in served:
        assert recv_exact(clients[i], 9) == b"client %d\n" % i

    # closing the served ones lets the waiting ones through, none refused or reset
    for i in served:
        clients[i].close()
    for i in waiting:
        assert recv_exact(clients[i], 9) == b"client %d\n" % i
    assert len(echo.opens()) == 6
    assert echo.max_concurrency() <= 3, echo.events()
    for i in waiting:
        clients[i].sendall(b"still ok\n")
        assert recv_exact(clients[i], 9) == b"still ok\n"
        clients[i].close()
    assert lb.running()
