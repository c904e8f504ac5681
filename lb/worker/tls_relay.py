"""mode tcp with TLS on either side: the bytes go through Python's ssl, so they cannot
be spliced; two asyncio protocols copy them, each pausing its reader while the other
side's write buffer is full (the transports' flow control).

A TcpSession hands its two sockets over once the server's TCP connection is up
(``start_relay``); from then on the transports own the sockets. The TLS client side
was already handshaken at accept (``PendingClient`` keeps what the client says
before the server is there). Half-close: a side's EOF is passed on with
``write_eof`` when the other side can (plain TCP); a TLS side cannot, so the other
direction keeps going until its own end. When a side's connection is gone, the
session ends once what was written to the other side has been flushed.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

from lb.acl import HttpTxn
from lb.worker.tls import sni_of
from lb.worker.tls_client import TLS_CONNECT_TIMEOUT

if TYPE_CHECKING:
    from lb.worker.tcp_session import TcpSession

_READING = 1  # (tcp_session's direction states: the session looks at DONE only)
_DONE = 3
PENDING_LIMIT = 256 * 1024  # bytes a client may send before its server is there


class PendingClient(asyncio.Protocol):
    """A TLS client between its handshake and its relay: what it sends is kept."""

    __slots__ = ("buffered", "eof", "lost", "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffered = bytearray()
        self.eof = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffered += data
        if len(self.buffered) > PENDING_LIMIT and self.transport is not None:
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


class Side(asyncio.Protocol):
    """One connection of the relay; ``moved`` counts the bytes read from it."""

    __slots__ = ("closed", "moved", "peer", "relay", "state", "transport")

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.peer: Side | None = None
        self.moved = 0
        self.state = _READING  # _DONE once this side said EOF (its direction is over)
        self.closed = False

    @property
    def pump(self) -> Side:  # (tcp_session reads ``direction.pump.moved``)
        return self

    def stop(self) -> None:
        """(tcp_session stops its directions at close; the relay closes the transports)"""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.moved += len(data)
        session = self.relay.session
        session.active = session.worker.clock
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.closed:
            peer.transport.write(data)

    def eof_received(self) -> bool:
        self._done()
        peer = self.peer
        transport = peer.transport if peer is not None and not peer.closed else None
        if transport is not None and transport.can_write_eof():
            transport.write_eof()
        return True  # keep the other direction (a TLS transport closes regardless)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._done()
        peer = self.peer
        if peer is not None:
            peer._done()  # nothing more can reach this side
        self.relay.side_lost(exc)

    def pause_writing(self) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.closed:
            peer.transport.pause_reading()

    def resume_writing(self) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.closed:
            peer.transport.resume_reading()

    def _done(self) -> None:
        if self.state != _DONE:
            self.state = _DONE
            self.relay.session.direction_done()


class Relay:
    """The copy path of one TcpSession whose client or server speaks TLS."""

    __slots__ = ("client", "closed", "server", "session", "task")

    def __init__(self, session: TcpSession) -> None:
        self.session = session
        self.client = Side(self)  # reads the client: the "up" direction
        self.server = Side(self)  # reads the server: the "down" direction
        self.client.peer, self.server.peer = self.server, self.client
        self.closed = False
        self.task: asyncio.Task[None] | None = None

    async def open(self, server_sock: socket.socket, client_tls: asyncio.Transport | None) -> None:
        session = self.session
        loop = session.loop
        target = session.target
        assert target is not None
        tls = target.tls
        if tls is not None:
            name = tls.server_name(sample_txn(session), session.worker) if tls.sni else ""
            ctx, hostname = tls.context_for(name)
            timeout = session.backend.connect_timeout or TLS_CONNECT_TIMEOUT
            await loop.create_connection(
                lambda: self.server,
                sock=server_sock,
                ssl=ctx,
                server_hostname=hostname,
                ssl_handshake_timeout=timeout,
            )
        else:
            await loop.create_connection(lambda: self.server, sock=server_sock)
        if client_tls is None:
            await loop.connect_accepted_socket(lambda: self.client, sock=session.client)
            return
        pending = client_tls.get_protocol()
        client_tls.set_protocol(self.client)
        self.client.transport = client_tls
        assert isinstance(pending, PendingClient)
        if pending.buffered:
            self.client.data_received(bytes(pending.buffered))
        if pending.lost:
            self.client.connection_lost(None)
        elif pending.eof:
            self.client.eof_received()
        else:
            client_tls.resume_reading()

    def side_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        session = self.session
        if exc is not None:
            session.close(abort=True)
        elif self.client.state == _DONE and self.server.state == _DONE:
            session.close(abort=False)

    def close(self, abort: bool) -> None:
        """The session ends: both transports go (flushing what they hold, unless abort)."""
        self.closed = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
        for side in (self.client, self.server):
            transport = side.transport
            if transport is not None and not side.closed:
                side.closed = True
                if abort:
                    transport.abort()
                else:
                    transport.close()


def start_relay(
    session: TcpSession, server_sock: socket.socket, client_tls: asyncio.Transport | None
) -> Relay:
    """Hand the session's sockets to a relay; ``session.connect_failed_tls`` is called
    when the server's handshake fails (a failed connection: retries, then SC)."""
    relay = Relay(session)
    session.up, session.down = relay.client, relay.server  # type: ignore[assignment]

    def opened(task: asyncio.Task[None]) -> None:
        if task.cancelled() or relay.closed:
            return
        exc = task.exception()
        if exc is None:
            return
        if relay.server.transport is None:  # the server's handshake or connection failed
            session.server_tls_failed(exc)
        else:
            session.close(abort=True)

    relay.task = session.loop.create_task(relay.open(server_sock, client_tls))
    relay.task.add_done_callback(opened)
    return relay


def close_tls(session: TcpSession, abort: bool) -> bool:
    """The session ends: close its relay and its TLS client; True when a transport
    owned (and so closed) the client socket, which the session must then leave alone."""
    relay, client_tls = session.relay, session.client_tls
    if relay is not None:
        relay.close(abort)
    adopted = relay is not None and relay.client.transport is not None
    if client_tls is not None and not adopted:
        if abort:
            client_tls.abort()
        else:
            client_tls.close()
    return adopted or client_tls is not None


def sample_txn(session: TcpSession) -> HttpTxn:
    """What an ``sni`` expression reads in mode tcp: addresses and the client's TLS."""
    client_ip, client_port = session.client_addr[:2]
    local_ip, local_port = session.local_address() or ("", 0)
    txn = HttpTxn(
        b"", b"", "1.1", [], client_ip, client_port, local_ip, local_port, session.frontend.name
    )
    tls = session.client_tls
    if tls is not None:
        txn.ssl_fc = True
        sni = sni_of(tls.get_extra_info("ssl_object"))
        txn.ssl_fc_sni = sni.encode() if sni else None
    return txn
