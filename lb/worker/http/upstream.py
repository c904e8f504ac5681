"""Connections to servers in mode http: the protocol and the idle pool.

An UpstreamConnection parses responses (httptools) and hands heads, body pieces
and ends to the session it currently serves. Between requests it may sit in its
server's idle pool (``http-reuse``), where unexpected data or a close just
retires it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

import httptools

from lb.worker.http.head import Head

if TYPE_CHECKING:
    from lb.worker.http.session import HttpSession

IDLE_KEEP = 64  # idle connections kept per server and worker
IDLE_TIMEOUT = 10.0  # s an idle server connection is kept (servers close theirs too)


class UpstreamConnection(asyncio.Protocol):
    __slots__ = (
        "_head",
        "closed",
        "idle_since",
        "parser",
        "pool",
        "private",
        "proxy_header",
        "requests",
        "reusable",
        "session",
        "transport",
    )

    def __init__(self, pool: ServerPool, private: bool = False, proxy_header: bytes = b"") -> None:
        self.pool = pool
        # kept by the client session that opened it, never pooled (http-reuse never,
        # or send-proxy: its PROXY header names that client)
        self.private = private
        self.proxy_header = proxy_header  # send-proxy(-v2): written before anything else
        self.transport: asyncio.Transport | None = None
        self.session: HttpSession | None = None
        self.parser = httptools.HttpResponseParser(self)
        self._head: Head | None = None
        self.requests = 0  # requests sent over this connection
        self.reusable = True
        self.closed = False
        self.idle_since = 0.0

    # ------------------------------------------------------------------ transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.proxy_header:
            transport.write(self.proxy_header)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is None:  # an idle connection has nothing to say: retire it
            self.close()
            return
        session.upstream_data(self, data)

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost tells the session

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        session = self.session
        if session is not None:
            self.session = None
            session.upstream_lost(self)

    def pause_writing(self) -> None:
        if self.session is not None:
            self.session.upstream_full()

    def resume_writing(self) -> None:
        if self.session is not None:
            self.session.upstream_drained()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.pool.forget(self)
            if self.transport is not None:
                self.transport.close()

    def new_response_parser(self) -> None:
        """After a response without a body that llhttp would expect one for (HEAD)."""
        self.parser = httptools.HttpResponseParser(self)

    # ------------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        self._head = Head()

    def on_status(self, status: bytes) -> None:
        assert self._head is not None
        self._head.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        head = self._head
        if head is not None and head.status == 0:
            head.headers.append((name, value))
        elif self.session is not None:
            self.session.response_trailer(name, value)

    def on_headers_complete(self) -> None:
        head = self._head
        assert head is not None
        head.status = self.parser.get_status_code()
        head.version = self.parser.get_http_version()
        if self.session is not None:
            self.session.response_head(self, head)

    def on_body(self, body: bytes) -> None:
        if self.session is not None:
            self.session.response_body(body)

    def on_message_complete(self) -> None:
        if self.session is not None:
            self.session.response_complete(self)


class ServerPool:
    """Idle connections to one server, kept by one worker."""

    __slots__ = ("idle", "live")

    def __init__(self) -> None:
        self.idle: deque[UpstreamConnection] = deque()
        self.live = 0

    def take(self, now: float) -> UpstreamConnection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to be closed
            if conn.closed or now - conn.idle_since > IDLE_TIMEOUT:
                conn.close()
                continue
            return conn
        return None

    def put(self, conn: UpstreamConnection, now: float) -> None:
        if conn.closed:
            return
        if len(self.idle) >= IDLE_KEEP:
            conn.close()
            return
        conn.session = None
        conn.idle_since = now
        self.idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        try:
            self.idle.remove(conn)
        except ValueError:
            pass

    def close(self) -> None:
        while self.idle:
            self.idle.pop().close()
