"""maxconn in mode http: connections past the limit wait for a slot, none is refused."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.http_clients import get


@pytest.mark.parametrize("where", ["global", "frontend"])
def test_http_maxconn_queues_connections(start_proxy, http_backend, where: str) -> None:  # type: ignore[no-untyped-def]
    srv = http_backend()
    proxy = start_proxy([("s1", srv.port)], **{f"{where}_lines": ["maxconn 2"]})
    # six clients at once, each request held 400 ms by the server; two at a time fit
    delay, clients = 0.4, 6
    start = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        responses = list(
            pool.map(
                lambda i: get(proxy.port, f"/?t=400ms&i={i}", [("Connection", "close")]),
                range(clients),
            )
        )
    elapsed = time.monotonic() - start
    assert [r.status for r in responses] == [200] * clients
    # three rounds of two: never more than two served at once
    assert elapsed >= (clients / 2) * delay * 0.95, elapsed
    assert len(srv.requests()) == clients
