"""One proxied TCP connection: connect to a server (retries, redispatch), then
two independent directions, each pumped socket → pipe → socket by the native
splice helper, with half-close carried across.

Raw fds with add_reader/add_writer, because the bytes never enter Python; every
reader/writer is removed before its fd is closed.
"""

from __future__ import annotations

import errno
import socket
import struct
import time
from typing import TYPE_CHECKING

from lb._native import SplicePump, Stop
from lb.accesslog import NOSRV, LogRecord, elapsed_ms
from lb.worker import proxy_protocol
from lb.worker.proxy_protocol import ProxyHeader, ProxyHeaderError
from lb.worker.tls_relay import Relay, close_tls, start_relay

if TYPE_CHECKING:
    import asyncio

    from lb.worker.backends import Backend, ServerTarget
    from lb.worker.worker import Frontend, Worker

_SRC_AGAIN = int(Stop.SRC_AGAIN)
_DST_AGAIN = int(Stop.DST_AGAIN)
_EOF = int(Stop.EOF)
_BUDGET = int(Stop.BUDGET)

# SO_LINGER with a zero timeout: close() sends RST, telling the peer the
# exchange was aborted rather than finished.
_LINGER_RESET = struct.pack("ii", 1, 0)

# Direction states
_IDLE = 0  # nothing registered (between events)
_READING = 1  # reader on the source
_WRITING = 2  # writer on the destination: the pump holds bytes
_DONE = 3  # source finished, destination shut down for writing


class Direction:
    """Bytes flowing one way; flow control is the pump's DST_AGAIN."""

    __slots__ = ("dst", "dst_fd", "loop", "pump", "session", "src_fd", "state")

    def __init__(
        self, session: TcpSession, src: socket.socket, dst: socket.socket, pump: SplicePump
    ) -> None:
        self.session = session
        self.loop = session.loop
        self.src_fd = src.fileno()
        self.dst_fd = dst.fileno()
        self.dst = dst
        self.pump = pump
        self.state = _IDLE

    def start(self) -> None:
        self.loop.add_reader(self.src_fd, self.on_readable)
        self.state = _READING

    def on_readable(self) -> None:
        self._pump()

    def on_writable(self) -> None:
        self.loop.remove_writer(self.dst_fd)
        self.state = _IDLE
        self._pump()

    def _pump(self) -> None:
        session = self.session
        session.active = session.worker.clock
        _moved, stop = self.pump.run()
        if stop in (_SRC_AGAIN, _BUDGET):
            if self.state != _READING:
                self.loop.add_reader(self.src_fd, self.on_readable)
                self.state = _READING
            return
        if self.state == _READING:
            self.loop.remove_reader(self.src_fd)
        if stop == _DST_AGAIN:
            self.loop.add_writer(self.dst_fd, self.on_writable)
            self.state = _WRITING
        elif stop == _EOF:
            self.state = _DONE
            try:
                self.dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the peer is already gone; the other direction will notice
            session.direction_done()
        else:
            self.state = _IDLE
            session.close(abort=True)

    def stop(self) -> None:
        if self.state == _READING:
            self.loop.remove_reader(self.src_fd)
        elif self.state == _WRITING:
            self.loop.remove_writer(self.dst_fd)
        self.state = _DONE
        self.pump.close()


class TcpSession:
    """A client connection and, once connected, its server connection."""

    __slots__ = (
        "active",
        "backend",
        "client",
        "client_addr",
        "client_tls",
        "closed",
        "connect_timer",
        "down",
        "frontend",
        "idle_limit",
        "local_addr",
        "loop",
        "redispatched",
        "relay",
        "retries",
        "retries_left",
        "server",
        "server_sock",
        "t_accept",
        "t_conn",
        "t_connected",
        "target",
        "termination",
        "up",
        "worker",
    )

    def __init__(
        self,
        worker: Worker,
        frontend: Frontend,
        backend: Backend,
        client: socket.socket,
        client_addr: tuple[str, int] = ("-", -1),
        local_addr: tuple[str, int] | None = None,
        client_tls: asyncio.Transport | None = None,
    ) -> None:
        self.worker = worker
        self.loop: asyncio.AbstractEventLoop = worker.loop
        self.frontend = frontend
        self.backend = backend
        self.client = client
        self.client_addr = client_addr  # as accept() gave it: the peer may be gone at log time
        # the address the client connected to, when a PROXY header said it (None: the socket's)
        self.local_addr = local_addr
        self.server_sock: socket.socket | None = None
        # TLS (bind … ssl, server … ssl): the client's handshaken transport, and the
        # copy path that replaces splicing (lb.worker.tls_relay)
        self.client_tls = client_tls
        self.relay: Relay | None = None
        self.target: ServerTarget | None = None
        self.up: Direction | None = None  # client → server
        self.down: Direction | None = None  # server → client
        self.connect_timer: asyncio.TimerHandle | None = None
        self.retries_left = backend.retries
        self.retries = 0
        self.redispatched = False
        self.closed = False
        # for the log line: when things happened (loop clock), and how the session ended
        self.t_accept = self.loop.time()
        self.t_conn = self.t_connected = 0.0
        self.termination = "--"
        self.active = worker.clock
        # Until the server answers the client's side is bounded by timeout connect
        # (and the retries); after that by the frontend's idle limit.
        self.idle_limit = 0.0

    # ------------------------------------------------------------------ connect

    def start(self) -> None:
        backend = self.backend
        backend_stats = self.worker.backend_stats(backend)
        backend_stats.stot += 1
        if self.worker.stick_rules:  # stick on / stick match: the server stored for the key
            stuck = self.worker.tcp_stick_target(self)
            if stuck is not None:
                self.connect(stuck)
                return
        key = backend.address_key(self.client_addr, self.client) if backend.key_spec.field else None
        target = backend.pick(key=key)
        if target is not None:
            self._balanced(target)
            self.connect(target)
        elif backend.limited:  # every server at its maxconn: wait in the backend's queue
            self.worker.wait_for_server(backend, backend.queue_timeout, self._dequeued, key)
        else:
            self.close(abort=False)  # no usable server: HAProxy closes the client

    def _dequeued(self, target: ServerTarget | None) -> None:
        if self.closed:
            if target is not None:
                self.backend.release(target)
                self.worker.slot_released()
            return
        if target is None:
            self.termination = "sQ"
            self.close(abort=False)  # timeout queue
            return
        self._balanced(target)
        self.connect(target)

    def _balanced(self, target: ServerTarget) -> None:
        self.worker.backend_stats(self.backend).lbtot += 1
        self.worker.server_stats(self.backend, target).lbtot += 1

    def connect(self, target: ServerTarget) -> None:
        if self.closed:
            return
        if self.target is not target:
            self.worker.server_stats(self.backend, target).stot += 1
        self.target = target
        if self.worker.stick_rules:  # stick on / store-request: remember the server
            self.worker.tcp_stick_store(self, target)
        if not self.t_conn:
            self.t_conn = self.loop.time()
        self.worker.backend_stats(self.backend).connect += 1
        self.worker.server_stats(self.backend, target).connect += 1
        sock = socket.socket(target.family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server_sock = sock
        err = sock.connect_ex(target.address)
        if err == errno.EINPROGRESS:
            self.loop.add_writer(sock.fileno(), self._on_connect_writable)
            self.connect_timer = self.loop.call_later(
                self.backend.connect_timeout, self._on_connect_timeout
            )
        elif err == 0:
            self._established()
        else:
            self._connect_failed()

    def _on_connect_writable(self) -> None:
        sock = self.server_sock
        assert sock is not None
        self.loop.remove_writer(sock.fileno())
        if self.connect_timer is not None:
            self.connect_timer.cancel()
            self.connect_timer = None
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self._connect_failed()
        else:
            self._established()

    def _on_connect_timeout(self) -> None:
        self.connect_timer = None
        sock = self.server_sock
        if sock is not None:
            self.loop.remove_writer(sock.fileno())
        self._connect_failed()

    def _connect_failed(self) -> None:
        if self.server_sock is not None:
            self.server_sock.close()
            self.server_sock = None
        backend = self.backend
        be = self.worker.backend_stats(backend)
        assert self.target is not None
        srv = self.worker.server_stats(backend, self.target)
        if self.retries_left <= 0:
            be.econ += 1
            srv.econ += 1
            self.termination = "SC"
            self.close(abort=False)
            return
        be.wretr += 1
        srv.wretr += 1
        self.retries_left -= 1
        self.retries += 1
        if backend.redispatch and self.retries_left == 0:
            # HAProxy's `option redispatch`: the last retry goes to another server, at once.
            other = backend.pick(avoid=self.target)
            if other is not None and other is not self.target:
                backend.release(self.target)  # type: ignore[arg-type]
                self.redispatched = True
                be.wredis += 1
                srv.wredis += 1
            elif other is self.target:
                backend.release(other)  # picked the same one again: keep a single slot
            self.connect(other or self.target)  # type: ignore[arg-type]
        else:
            # A server that refused may be restarting: wait a little before the
            # same server again (HAProxy's turn-around timer).
            delay = min(backend.connect_timeout, 1.0)
            self.connect_timer = self.loop.call_later(delay, self._retry_same)

    def _retry_same(self) -> None:
        self.connect_timer = None
        assert self.target is not None
        self.connect(self.target)

    # ------------------------------------------------------------------ relay

    def _established(self) -> None:
        self.t_connected = self.loop.time()
        client, server = self.client, self.server_sock
        assert server is not None
        target = self.target
        if target is not None and target.send_proxy and not self._send_proxy_header(server):
            self._connect_failed()
            return
        if self.client_tls is not None or (target is not None and target.tls is not None):
            self.server_sock = None  # the relay's transports own the sockets from now on
            self.idle_limit = self.frontend.idle_timeout
            self.active = self.worker.clock
            self.relay = start_relay(self, server, self.client_tls)
            return
        pool = self.worker.pipes
        self.up = Direction(
            self, client, server, SplicePump(client.fileno(), server.fileno(), pool)
        )
        self.down = Direction(
            self, server, client, SplicePump(server.fileno(), client.fileno(), pool)
        )
        self.idle_limit = self.frontend.idle_timeout
        self.active = self.worker.clock
        self.up.start()
        self.down.start()

    def server_tls_failed(self, exc: BaseException) -> None:
        """The server's TLS handshake failed: a failed connection (retries, then SC)."""
        self.relay = None
        self.up = self.down = None
        self._connect_failed()

    def _send_proxy_header(self, server: socket.socket) -> bool:
        """send-proxy / send-proxy-v2: the header goes first, before any spliced byte.

        A fresh connection's send buffer is empty, so the header (at most a few dozen
        bytes) goes in one call; anything else counts as a failed connection.
        """
        assert self.target is not None
        header = proxy_protocol.build(
            self.target.send_proxy, self.client_addr, self.local_address()
        )
        try:
            return server.send(header) == len(header)
        except OSError:
            return False

    def local_address(self) -> tuple[str, int] | None:
        """The address the client connected to (the PROXY header's, when one said it)."""
        if self.local_addr is not None:
            return self.local_addr
        try:
            local = self.client.getsockname()
        except OSError:
            return None
        return local[0], local[1]

    def direction_done(self) -> None:
        up, down = self.up, self.down
        if up is not None and down is not None and up.state == _DONE and down.state == _DONE:
            self.close(abort=False)

    def _log(self) -> None:
        logger = self.frontend.logger
        if logger is not None:
            logger.log_tcp(tcp_record(self))

    def _account(self) -> None:
        """The session's bytes and times in the frontend's, backend's and server's counters."""
        up, down = self.up, self.down
        moved_in = up.pump.moved if up is not None else 0  # client → server
        moved_out = down.pump.moved if down is not None else 0
        fe = self.frontend.stats
        be = self.worker.backend_stats(self.backend)
        fe.bin += moved_in
        fe.bout += moved_out
        be.bin += moved_in
        be.bout += moved_out
        target = self.target
        if target is None:
            return
        srv = self.worker.server_stats(self.backend, target)
        srv.bin += moved_in
        srv.bout += moved_out
        if self.t_connected:  # HAProxy's tcp averages: the sessions that reached a server
            srv.observe(0.0, self.t_connected - self.t_conn, -1.0, self.loop.time() - self.t_accept)

    def close(self, abort: bool) -> None:
        if self.closed:
            return
        self.closed = True
        if self.connect_timer is not None:
            self.connect_timer.cancel()
            self.connect_timer = None
        if self.up is not None:
            self.up.stop()
        if self.down is not None:
            self.down.stop()
        elif self.server_sock is not None:
            self.loop.remove_writer(self.server_sock.fileno())  # still connecting
        # TLS: transports own the client socket (and the server's) once they exist
        client_owned = (
            close_tls(self, abort)
            if self.relay is not None or self.client_tls is not None
            else False
        )
        if self.frontend.logger is not None:
            self._log()
        self._account()
        if self.up is None and not abort and not client_owned:
            _discard_unread(self.client)
        if self.target is not None:
            self.backend.release(self.target)
            self.target = None
            self.worker.slot_released()
        for sock in (None if client_owned else self.client, self.server_sock):
            if sock is None:
                continue
            if abort:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                except OSError:
                    pass
            sock.close()
        self.worker.session_closed(self)


def _discard_unread(sock: socket.socket, limit: int = 1 << 20) -> None:
    """Read and drop what the client sent before we gave up on it.

    Closing a socket with unread bytes makes the kernel answer RST; HAProxy
    would have read them into its buffer and closed with a plain FIN, which is
    what the client should see when no server could be reached.
    """
    left = limit
    try:
        while left > 0:
            n = len(sock.recv(min(left, 65536)))
            if n == 0:
                return
            left -= n
    except OSError:
        pass


def tcp_record(session: TcpSession) -> LogRecord:
    """The tcplog line's fields for one session, taken as it closes."""
    now = session.loop.time()
    client_ip, client_port = session.client_addr[:2]
    local_ip, local_port = session.local_address() or ("-", -1)
    up, down = session.up, session.down
    target = session.target
    rec = LogRecord(
        client_ip=client_ip,
        client_port=client_port,
        frontend_ip=local_ip,
        frontend_port=local_port,
        frontend_name=session.frontend.name,
        backend_name=session.backend.name,
        server_name=target.name if target is not None else NOSRV,
        accept_ms=int((time.time() - (now - session.t_accept)) * 1000),
        Tw=0 if session.t_conn else -1,
        Tc=elapsed_ms(session.t_conn, session.t_connected),
        Tt=elapsed_ms(session.t_accept, now),
        bytes_out=down.pump.moved if down is not None else 0,
        bytes_in=up.pump.moved if up is not None else 0,
        termination=session.termination,
        retries=session.retries,
        redispatched=session.redispatched,
        actconn=session.worker.counters.load(session.worker.global_cur),
        feconn=session.worker.counters.load(session.frontend.cur_index),
    )
    if target is not None:  # %si %sp, and %bi %bp while the server socket is ours
        rec.server_ip, rec.server_port = target.address
        logger = session.frontend.logger
        sock = session.server_sock
        if logger is not None and logger.backend_source and sock is not None:
            try:
                local = sock.getsockname()
            except OSError:
                pass
            else:
                rec.backend_src_ip, rec.backend_src_port = local[0], local[1]
    return rec


class ProxyHeaderReader:
    """``bind … accept-proxy`` in mode tcp: the PROXY header, read off the raw socket
    before splicing starts, and not one byte further.

    Bytes are peeked; while the header is incomplete every byte peeked belongs to it
    and is consumed, so the reader is not woken again for the same bytes; once it is
    complete only what is left of it is consumed. The client's data stays in the socket
    for the splice pumps. Bounded by ``timeout client``; a connection whose first bytes
    are not a valid header is closed.
    """

    __slots__ = ("buf", "client", "fd", "frontend", "loop", "peer", "timer", "worker")

    def __init__(
        self,
        worker: Worker,
        frontend: Frontend,
        client: socket.socket,
        peer: tuple[str, int],
        timeout: float,
    ) -> None:
        self.worker = worker
        self.loop: asyncio.AbstractEventLoop = worker.loop
        self.frontend = frontend
        self.client = client
        self.peer = peer
        self.fd = client.fileno()
        self.buf = b""
        self.loop.add_reader(self.fd, self._on_readable)
        self.timer = self.loop.call_later(timeout, self.fail) if timeout else None

    def _on_readable(self) -> None:
        client, buf = self.client, self.buf
        try:
            peeked = client.recv(min(4096, proxy_protocol.V2_MAX - len(buf)), socket.MSG_PEEK)
            if not peeked:
                self.fail()  # closed before a whole header
                return
            data = buf + peeked if buf else peeked
            parsed = proxy_protocol.parse(data)
            if parsed is None:
                self.buf = buf + client.recv(len(peeked))
                return
            header, used = parsed
            left = used - len(buf)
            while left > 0:  # already in the socket: the peek saw it
                got = client.recv(left)
                if not got:
                    raise OSError(errno.ECONNRESET, "connection closed")
                left -= len(got)
        except (BlockingIOError, InterruptedError):
            return
        except (OSError, ProxyHeaderError):
            self.fail()
            return
        self._stop()
        self.worker.proxy_header_read(self, header)

    def _stop(self) -> None:
        self.loop.remove_reader(self.fd)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def fail(self) -> None:
        """No valid header (or none in time): the connection is closed."""
        self._stop()
        self.client.close()
        self.worker.proxy_header_failed(self)


def proxied_addresses(
    header: ProxyHeader, peer: tuple[str, int]
) -> tuple[tuple[str, int], tuple[str, int] | None]:
    """The client's address and the one it connected to, after a PROXY header: the
    header's when it carries them (PROXY over TCP), the connection's otherwise."""
    if header.source is None:
        return peer, None
    return header.source, header.destination
