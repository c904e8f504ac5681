#!/usr/bin/env python3
"""The floor of lb's HTTP shape: a uvloop relay that parses nothing.

    .venv/bin/python bench/relay_floor.py LISTEN_PORT BACKEND_PORT

Each client connection gets one server connection; bytes go across unchanged, each
read written once to the other side. This is what a uvloop-transport proxy costs
before any HTTP work: the least CPU per request lb's data path could reach.
``bench/http_small.py --only floor`` measures it beside the real proxies.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import uvloop


class Upstream(asyncio.Protocol):
    __slots__ = ("client", "transport")

    def __init__(self, client: asyncio.Transport) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.client.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.close()


class Client(asyncio.Protocol):
    __slots__ = ("backend", "loop", "pending", "transport", "upstream")

    def __init__(self, loop: asyncio.AbstractEventLoop, backend: tuple[str, int]) -> None:
        self.loop = loop
        self.backend = backend
        self.transport: asyncio.Transport | None = None
        self.upstream: Upstream | None = None
        self.pending: list[bytes] = []

    async def _connect(self, loop: asyncio.AbstractEventLoop, backend: tuple[str, int]) -> None:
        assert self.transport is not None
        _, up = await loop.create_connection(lambda: Upstream(self.transport), *backend)  # type: ignore[arg-type]
        up.transport.get_extra_info("socket").setsockopt(  # type: ignore[union-attr]
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
        self.upstream = up
        for data in self.pending:
            up.transport.write(data)  # type: ignore[union-attr]
        self.pending.clear()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.loop.create_task(self._connect(self.loop, self.backend))

    def data_received(self, data: bytes) -> None:
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.write(data)
        else:
            self.pending.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()


async def main(port: int, backend_port: int) -> None:
    loop = asyncio.get_running_loop()
    backend = ("127.0.0.1", backend_port)
    server = await loop.create_server(
        lambda: Client(loop, backend), "127.0.0.1", port, backlog=4096, reuse_address=True
    )
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
