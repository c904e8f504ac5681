"""Server maxconn holds daemon-wide; connections beyond it wait in the backend's queue,
in tcp mode too, and leave it at `timeout queue`."""

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
def test_server_maxconn_queues_across_workers(
    start_lb: StartLb, backend: Callable[..., Backend]
) -> None:
    a = backend("echo", name="a")
    b = backend("echo", name="b")
    lb, port = start_lb(
        [("a", a.port), ("b", b.port)],
        workers=2,
        server_options="maxconn 1",
        backend_lines=["timeout queue 30s"],
    )
    clients = []
    for i in range(5):
        s = connect(port, timeout=30)
        s.sendall(b"client %d\n" % i)
        clients.append(s)
    wait_for(lambda: a.current() + b.current() >= 2, 10, what="both servers busy")
    time.sleep(1.0)
    # one connection per server at a time, whatever worker accepted them
    assert (a.current(), b.current()) == (1, 1)
    served = [s for s in clients if answered(s)]
    assert len(served) == 2
    # the others wait (no refusal, no reset) and go through as slots free up, in turn
    for s in served:
        s.recv(100)
        s.close()
    done = 2
    while done < 5:
        wait_for(lambda: any(answered(s) for s in clients if s.fileno() >= 0), 10, what="next")
        for s in clients:
            if s.fileno() >= 0 and answered(s):
                s.recv(100)
                s.close()
                done += 1
    assert a.max_concurrency() == 1 and b.max_concurrency() == 1
    assert len(a.opens()) + len(b.opens()) == 5
    assert lb.running()


def test_timeout_queue_closes_the_waiting_connection(
    start_lb: StartLb, backend: Callable[..., Backend]
) -> None:
    echo = backend("echo", name="echo")
    _lb, port = start_lb(
        [("echo", echo.port)],
        workers=1,
        server_options="maxconn 1",
        backend_lines=["timeout queue 500ms"],
    )
    holder = connect(port)
    holder.sendall(b"holder\n")
    assert recv_exact(holder, 7) == b"holder\n"
    t0 = time.monotonic()
    waiter = connect(port, timeout=10)
    waiter.sendall(b"late\n")
    assert waiter.recv(100) == b""  # closed by lb once timeout queue passed
    assert 0.4 < time.monotonic() - t0 < 3.0
    assert len(echo.opens()) == 1
    holder.close()
