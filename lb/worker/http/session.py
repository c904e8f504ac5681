"""One client connection in mode http.

The client side is parsed by httptools; each complete request head is validated,
routed, and sent to a server over a pooled or new connection; bodies stream both
ways, re-framed (chunked stays chunked, lengths stay lengths), with flow control:
a side whose peer cannot take more is paused. Requests that arrive pipelined wait
in order. An Upgrade answered by 101 turns the connection into a tunnel.

State of a session, grouped:
- client:   transport, parser, the queue of requests (pipelining), read pause flags
- exchange: the request being served, its server and upstream connection, the
            response head and how its body is framed to the client
- timing:   the phase the session is in and when that phase's timeout expires
"""

from __future__ import annotations

import array
import asyncio
import fcntl
import termios
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools

from lb.acl import Answer, HttpTxn
from lb.balance import PickKey
from lb.stats.http import handle_prometheus_request, handle_stats_request, stats_match
from lb.sticktable.track import Tracking
from lb.worker.http.compression import (
    CompressionPolicy,
    Compressor,
    compressed_headers,
    without_accept_encoding,
)
from lb.worker.http.head import (
    BadMessage,
    Framing,
    Head,
    analyse,
    end_to_end,
    forwarded_headers,
    render_request,
    render_response,
    response_has_body,
)
from lb.worker.http.logging import http_record
from lb.worker.http.upstream import UpstreamConnection
from lb.worker.proxy_protocol import ProxyHeaderError, build, parse
from lb.worker.tls import sni_of
from lb.worker.tls_client import TLS_CONNECT_TIMEOUT, open_tls_connection

if TYPE_CHECKING:
    from lb.stats.counters import ObjectCounters
    from lb.worker.backends import Backend, ServerTarget
    from lb.worker.http.settings import HttpSettings
    from lb.worker.worker import Frontend, Worker

# Phases, for timeouts
WAIT_REQUEST = 0  # between requests (timeout http-keep-alive, then http-request)
READ_HEAD = 1  # some of a request head received (timeout http-request)
CONNECT = 2  # connecting to a server (timeout connect, retries)
EXCHANGE = 3  # request sent and/or response flowing (timeout server / client)
TUNNEL = 4  # after 101 (timeout tunnel)
CLOSED = 5

# What _persistent_server answers for a request now waiting in its server's queue.
QUEUED: Any = object()

# The log's termination state for lb's own answers (first letter: who, second: when).
_TERMINATION = {400: "PR", 408: "cR", 502: "SH", 503: "SC", 504: "sH"}

BUFFER_LIMIT = 64 * 1024  # request body bytes held while no server is ready: then pause
# a worker that stops waits this long for the first request of a connection it has
# just accepted (its client may be sending it) before closing the connection
STOP_GRACE = 1.0  # s
CHUNK_END = b"0\r\n\r\n"


def bytes_readable(fd: int) -> int:
    """How many bytes wait in a socket's receive queue (FIONREAD), without reading them."""
    count = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, count, True)
    return count[0]


class Request:
    """One request as it is parsed and served."""

    __slots__ = (
        "body",
        "buffered",
        "bytes_in",
        "comp_algo",
        "complete",
        "forwarding",
        "head",
        "logged",
        "persisted",
        "redispatched",
        "resp_headers",
        "retries",
        "routed",
        "sent_body",
        "server_name",
        "srv_stats",
        "t_begin",
        "t_conn",
        "t_connected",
        "t_dequeued",
        "t_head",
        "t_resp",
        "trailers",
        "txn",
    )

    def __init__(self, head: Head, now: float) -> None:
        self.head = head
        # timestamps (loop clock) for the log's timers; 0 = not reached
        self.t_begin = now
        self.t_head = 0.0
        self.t_dequeued = 0.0
        self.t_conn = 0.0
        self.t_connected = 0.0
        self.t_resp = 0.0
        self.bytes_in = 0
        self.logged = False
        self.retries = 0
        self.redispatched = False
        self.server_name = ""
        self.resp_headers: list[tuple[bytes, bytes]] | None = None
        self.body: deque[bytes] = deque()  # framed pieces waiting for the server
        self.buffered = 0
        self.complete = False  # the whole request (body included) was received
        self.forwarding = False  # the head went to a server: body pieces go straight on
        self.sent_body = False  # some body bytes went to a server (no replay then)
        self.trailers: list[tuple[bytes, bytes]] = []
        self.txn: HttpTxn | None = None  # what the rules see, when the proxies have rules
        self.persisted = b""  # the server cookie value the client's cookie named, if valid
        self.routed = False  # handed to a backend (its counters count the request)
        self.srv_stats: ObjectCounters | None = None  # the counters of its server
        # compression: the algorithm chosen when first sent ("" none; None not chosen yet)
        self.comp_algo: str | None = None


class HttpSession(asyncio.Protocol):
    __slots__ = (
        "_feeding",
        "_parsing",
        "_parsing_bytes",
        "bytes_out",
        "client_ip",
        "client_paused",
        "client_port",
        "closed",
        "comp",
        "current",
        "deadline",
        "early_tunnel",
        "frontend",
        "keep_client",
        "lingering",
        "local_ip",
        "local_port",
        "loop",
        "out",
        "own",
        "parser",
        "phase",
        "queue",
        "requests_done",
        "resp",
        "resp_framing",
        "resp_trailers",
        "response_started",
        "retries_left",
        "settings",
        "stats_wait",
        "sticky",
        "stopping",
        "t_accept",
        "t_idle_from",
        "target",
        "tls_sni",
        "transport",
        "upgrading",
        "upstream",
        "upstream_paused",
        "worker",
        "xff",
    )

    def __init__(self, worker: Worker, frontend: Frontend, settings: HttpSettings) -> None:
        self.worker = worker
        self.frontend = frontend  # counters and limits (shared with tcp mode)
        self.settings = settings
        self.loop = worker.loop
        self.transport: asyncio.Transport | None = None
        # TLS (bind … ssl): None on a plain connection, else the SNI sent ("" without)
        self.tls_sni: str | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client_ip = ""
        self.client_port = 0
        self.local_ip = ""
        self.local_port = 0
        self.bytes_out = 0  # to the client, for the current response (the log's %B)
        self.t_accept = self.t_idle_from = 0.0
        self.queue: deque[Request] = deque()
        self._parsing: Request | None = None
        self._parsing_bytes = 0  # bytes of the head being parsed (tune.bufsize)
        self._feeding = 0  # size of the read being parsed (a bound on the head's size)
        self.current: Request | None = None
        self.target: ServerTarget | None = None
        self.upstream: UpstreamConnection | None = None
        self.resp: Head | None = None
        self.resp_framing = Framing.NONE
        self.resp_trailers: list[bytes] = []
        self.comp: Compressor | None = None  # compressing the current response
        # bytes for the client gathered while one server read is parsed: one write per read
        self.out: list[bytes] = []
        self.own: UpstreamConnection | None = None  # http-reuse never: this client's connection
        self.requests_done = 0
        self.upgrading = False
        self.response_started = False  # a byte of the response went to the client
        self.keep_client = True
        self.retries_left = 0
        self.early_tunnel = b""
        self.xff: tuple[bytes, bytes] | tuple[()] | None = None  # option forwardfor's header
        self.client_paused = False
        self.upstream_paused = False
        self.stopping = False
        self.sticky: Tracking | None = None  # what tcp-request connection rules track
        self.stats_wait = False  # a stats page POST waits for its body
        self.lingering = False  # closed on our side, reading until the client closes
        self.closed = False
        self.phase = WAIT_REQUEST
        self.deadline = 0.0

    # ================================================================== client transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.tls_sni = sni_of(ssl_object) or ""
        peer = transport.get_extra_info("peername")
        if peer:
            self.client_ip, self.client_port = peer[0], peer[1]
        # a system call per connection: only for logs and rules (dst, dst_port)
        if self.frontend.logger is not None or self.frontend.rules is not None:
            local = transport.get_extra_info("sockname")
            if local:
                self.local_ip, self.local_port = local[0], local[1]
        self.t_accept = self.t_idle_from = self.loop.time()
        # (the worker set TCP_NODELAY on the socket before handing it to uvloop)
        self.worker.http_sessions.add(self)
        # The first request of a connection gets timeout http-request from the accept on.
        self._arm(READ_HEAD, self.settings.http_request_timeout)
        if self.worker.stopping:  # accepted before the stop, set up after it
            self.graceful()

    def data_received(self, data: bytes) -> None:
        if self.phase == TUNNEL:
            upstream = self.upstream
            if upstream is not None and upstream.transport is not None:
                upstream.transport.write(data)
            return
        if self.upgrading:  # after an Upgrade head: the tunnel's bytes, if the server agrees
            self.early_tunnel += data
            return
        if self.closed or self.lingering:
            return  # (lingering: our side is closed, what comes is dropped)
        counted = self._parsing
        if self._parsing is None and self.phase == WAIT_REQUEST:
            self._arm(READ_HEAD, self.settings.http_request_timeout)
        self._feeding = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self.upgrading = True
            self.early_tunnel = data[offset:]
            if self.current is None and self.queue and not self.closed:
                self._serve_next()
            return
        except (httptools.HttpParserError, BadMessage):
            self.bad_request()
            return
        counted = counted or self._parsing or (self.queue[-1] if self.queue else None)
        if counted is not None:
            counted.bytes_in += len(data)
        if self.current is None and self.queue and not self.closed:
            self._serve_next()
        # A head that stays incomplete must not grow without bound (slowloris, endless
        # headers): bytes fed while a head is open are counted, with room for what a read
        # may carry of a previous pipelined request; the exact limit is checked once the
        # head is complete (on_headers_complete).
        if self._parsing is not None and not self._parsing.head.method:
            self._parsing_bytes += len(data)
            if self._parsing_bytes > 2 * self.settings.bufsize:
                self.bad_request()
        else:
            self._parsing_bytes = 0

    def eof_received(self) -> bool:
        # A client that half-closes after its request still gets the response (HAProxy
        # keeps the connection); with nothing in flight there is nothing left to do.
        if self.current is None and not self.queue:
            self.close()
            return False
        if self.settings.abortonclose and not self.response_started:
            # option abortonclose: a client that gave up while its request waited (queue,
            # connect) or before any answer is not served any more
            self.close()
            return False
        self.keep_client = False
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed and self.current is not None and self.resp is not None:
            self._log(self.current, self.resp.status, "CD")
        self.closed = True
        self.phase = CLOSED
        self.worker.http_sessions.discard(self)
        self._drop_upstream()
        if self.sticky is not None or self.worker.stick_tables:
            self._end_tracking()
        self.worker.session_closed(self)

    def pause_writing(self) -> None:
        upstream = self.upstream
        if upstream is not None and upstream.transport is not None and not self.upstream_paused:
            upstream.transport.pause_reading()
            self.upstream_paused = True

    def resume_writing(self) -> None:
        upstream = self.upstream
        if self.upstream_paused and upstream is not None and upstream.transport is not None:
            upstream.transport.resume_reading()
        self.upstream_paused = False

    # ================================================================== request parsing

    def on_message_begin(self) -> None:
        self._parsing = Request(Head(), self.loop.time())

    def on_url(self, url: bytes) -> None:
        assert self._parsing is not None
        self._parsing.head.url += url
        if len(self._parsing.head.url) > self.settings.bufsize:
            raise BadMessage("request line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        req = self._parsing
        assert req is not None
        if req.head.method:  # after the head: a trailer of a chunked body
            req.trailers.append((name, value))
            return
        headers = req.head.headers
        headers.append((name, value))
        if len(headers) > self.settings.maxhdr:
            raise BadMessage("more headers than tune.http.maxhdr")

    def on_headers_complete(self) -> None:
        req = self._parsing
        assert req is not None
        head = req.head
        head.method = self.parser.get_method()
        head.version = self.parser.get_http_version()
        if self._parsing_bytes + self._feeding > self.settings.bufsize:
            # the head may be over tune.bufsize (what was fed also holds bodies and other
            # requests): measure it as received, request line and "name: value" lines
            size = len(head.method) + len(head.url) + 12
            for name, value in head.headers:
                size += len(name) + len(value) + 4
            if size > self.settings.bufsize:
                raise BadMessage("request head over tune.bufsize")
        req.t_head = self.loop.time()
        if head.version not in ("1.0", "1.1"):
            raise BadMessage(f"unsupported version HTTP/{head.version}")
        if b"#" in head.url:
            raise BadMessage("fragment in the request target")
        analyse(head, is_request=True)
        self._parsing_bytes = 0
        self.queue.append(req)
        # Served once the whole buffer has parsed (data_received): a malformed body in the
        # same read then refuses the request before any byte of it reaches a server.

    def on_body(self, body: bytes) -> None:
        req = self._parsing
        assert req is not None
        piece = b"%x\r\n%s\r\n" % (len(body), body) if req.head.framing == Framing.CHUNKED else body
        if req.forwarding and self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.write(piece)
            req.sent_body = True
            return
        req.body.append(piece)
        req.buffered += len(piece)
        if req.buffered > BUFFER_LIMIT:
            self._pause_client()

    def on_message_complete(self) -> None:
        req = self._parsing
        assert req is not None
        self._parsing = None
        req.complete = True
        end = self._body_end(req)
        if end:
            if req.forwarding and self.upstream is not None and self.upstream.transport is not None:
                self.upstream.transport.write(end)
            else:
                req.body.append(end)
        if len(self.queue) > 4:  # pipelining: enough requests waiting, read no further
            self._pause_client()
        if self.stats_wait and req is self.current:
            self._serve_stats(req)

    @staticmethod
    def _body_end(req: Request) -> bytes:
        if req.head.framing != Framing.CHUNKED:
            return b""
        if not req.trailers:
            return CHUNK_END
        lines = b"".join(b"%s: %s\r\n" % kv for kv in req.trailers)
        return b"0\r\n" + lines + b"\r\n"

    # ================================================================== serving a request

    def _serve_next(self) -> None:
        if self.closed or not self.queue:
            return
        req = self.current = self.queue[0]
        self.frontend.stats.req_tot += 1
        if self.sticky is not None:
            self.sticky.request_started()  # sticky counters tracked by the connection
        chosen = None
        if self.frontend.rules is not None:
            routed = self._route(req)
            if routed is False:
                return  # answered by a rule, or no backend
            chosen = routed
        settings = self.settings
        backend = settings.backend
        stats = settings.stats
        if stats is not None and stats_match(stats, req.head.url):
            if chosen is not None and backend is not None:
                backend.release(chosen)  # use-server took a slot the page does not need
            self.frontend.stats.intercepted += 1
            self._serve_stats(req)
            return
        if backend is None:
            self.send_error(503)
            return
        self.retries_left = backend.retries
        req.routed = True
        be = settings.be_stats
        be.stot += 1
        be.req_tot += 1
        if chosen is None and settings.cookie is not None:
            chosen = self._persistent_server(req, settings)
            if chosen is QUEUED:
                return  # waiting for its server: _dequeued_persistent goes on
        if chosen is None and self.worker.stick_rules:
            chosen = self._stick_match(req, backend)
        if chosen is not None:
            self._use_server(chosen)
            return
        key = self._pick_key(req, backend) if backend.key_spec.field else None
        target = backend.pick(key=key)
        if target is not None:
            self._balanced(target)
            self._use_server(target)
        elif backend.limited:  # every server at its maxconn: the backend's queue
            self.phase = CONNECT
            self.deadline = 0.0  # the queue has its own timeout (timeout queue)
            self.worker.wait_for_server(backend, backend.queue_timeout, self._dequeued, key)
        else:
            self.send_error(503)

    def _route(self, req: Request) -> ServerTarget | bool | None:
        """http-request rules, use_backend, the backend's rules and use-server.

        Returns the server use-server named (its slot taken), None to let persistence
        and balancing choose, or False when the request was answered here.
        """
        fe = self.frontend.rules
        assert fe is not None
        head = req.head
        txn = req.txn = self._txn(req)
        rt = self.worker.rules_runtime
        answer = fe.http_request(txn, rt)
        if answer is None:
            name = fe.choose_backend(txn, rt)
            settings = self.frontend.routes.get(name or self.frontend.own_backend)
            if settings is None:
                self.send_error(503, "SC")
                return False
            self.settings = settings
            txn.backend = settings.backend_name
            be = settings.rules
            if be is not None and be is not fe:
                answer = be.http_request(txn, rt)
        if answer is not None:
            self._answer(req, answer)
            return False
        be = self.settings.rules
        if fe.has_request_rules or (be is not None and be.has_request_rules):
            # what the rules rewrote goes to the server (routing alone rewrites nothing)
            head.method, head.url = txn.method, txn.url
            head.kept = end_to_end(txn.headers, head.connection_tokens)
        backend = self.settings.backend
        if be is None or backend is None:
            return None
        server = be.use_server(txn, rt)
        if server is None:
            return None
        target = self.settings.servers_by_name.get(server)
        if target is not None and backend.acquire(target):
            return target
        return None

    def _persistent_server(self, req: Request, settings: HttpSettings) -> ServerTarget | None:
        """The server the client's persistence cookie names, if it may take the request."""
        cookie = settings.cookie
        backend = settings.backend
        assert cookie is not None and backend is not None
        found = cookie.find(req.head.headers)
        if found is None:
            return None
        if found.headers is not None:  # indirect / prefix: the server sees its own cookie
            req.head.headers = found.headers
            req.head.kept = end_to_end(found.headers, req.head.connection_tokens)
        target = backend.by_cookie.get(found.value.decode("latin-1"))
        if target is None:
            return None  # an unknown server: balanced, and a new cookie
        if backend.acquire(target):
            req.persisted = found.value
            return target
        if target.persist_ok and self.worker.wait_for_this_server(
            backend, target, backend.queue_timeout, self._dequeued_persistent
        ):
            req.persisted = found.value  # full: it waits for its own server (maxqueue)
            self.phase = CONNECT
            self.deadline = 0.0  # the queue has its own timeout (timeout queue)
            return QUEUED
        return None  # down, or its queue is full: balanced, and a new cookie

    def _pick_key(self, req: Request, backend: Backend) -> PickKey | None:
        """What a hashing algorithm hashes, for the field it asks for."""
        spec = backend.key_spec
        field = spec.field
        if field == "uri" or field == "param":
            return PickKey(uri=req.head.url.decode("latin-1"))
        if field == "header":
            name = (spec.name or "").lower().encode()
            return PickKey(header=req.head.header(name))
        if field == "source":  # the client's address (a PROXY header's, with accept-proxy)
            return backend.address_key((self.client_ip, self.client_port))
        return None

    def _serve_stats(self, req: Request) -> None:
        """The stats page (``stats uri``): answered here, from the shared counters."""
        stats = self.settings.stats
        assert stats is not None
        if req.head.method == b"POST" and not req.complete:
            self.stats_wait = True  # the admin form: its body first (on_message_complete)
            return
        self.stats_wait = False
        admin = None
        conditions = self.settings.stats_admin
        if conditions:
            txn = req.txn or self._txn(req)
            admin = any(cond(txn, self.worker.rules_runtime) for cond in conditions)
        body = b"".join(req.body) if req.head.method == b"POST" else b""
        req.body.clear()
        status, headers, payload = handle_stats_request(
            stats,
            req.head.method,
            req.head.url,
            req.head.headers,
            self.worker.stats_source,
            proxy_name=self.settings.backend_name or self.frontend.name,
            body=body,
            admin_allowed=admin,
            admin_sink=self.worker.send_admin,
        )
        self._answer_now(req, Answer(status, headers, payload), "LR")

    def _serve_service(self, req: Request, service: str) -> None:
        """``http-request use-service``: lb's own services answer the request."""
        if service == "prometheus-exporter":
            status, headers, payload = handle_prometheus_request(
                req.head.method, req.head.url, self.worker.stats_source
            )
        else:  # compile_action only lets the known ones through
            status, headers, payload = 500, [], b""
        self._answer_now(req, Answer(status, headers, payload), "LR")

    def _txn(self, req: Request) -> HttpTxn:
        head = req.head
        txn = HttpTxn(
            head.method,
            head.url,
            head.version,
            head.headers,
            self.client_ip,
            self.client_port,
            self.local_ip,
            self.local_port,
            self.frontend.name,
        )
        if self.tls_sni is not None:
            txn.ssl_fc = True
            txn.ssl_fc_sni = self.tls_sni.encode() if self.tls_sni else None
        if self.sticky is not None:
            txn.sc = Tracking(self.sticky)  # the connection's sticky counters, then its own
        return txn

    # ------------------------------------------------------------------ stick tables

    def _end_tracking(self) -> None:
        """The connection is gone: what it and its unanswered requests tracked ends."""
        for req in (self.current, self._parsing, *self.queue):
            if req is not None and req.txn is not None and req.txn.sc is not None:
                req.txn.sc.release_owned()
        if self.sticky is not None:
            self.sticky.release_owned()
            self.sticky = None

    def _stick_match(self, req: Request, backend: Backend) -> ServerTarget | None:
        """``stick on`` / ``stick match``: the server stored for this request's key."""
        stick = self.worker.stick_rules.get(self.settings.backend_name)
        if stick is None or not stick.matchers:
            return None
        txn = req.txn
        if txn is None:
            txn = req.txn = self._txn(req)
        sid = stick.match(txn, self.worker)
        if sid is None:
            return None
        for target in backend.servers:
            if target.id == sid:
                return target if backend.acquire(target) else None
        return None

    def _stick_store(self, target: ServerTarget) -> None:
        """``stick on`` / ``stick store-request``: remember the server for the key."""
        stick = self.worker.stick_rules.get(self.settings.backend_name)
        req = self.current
        if stick is None or not stick.storers or req is None:
            return
        txn = req.txn
        if txn is None:
            txn = req.txn = self._txn(req)
        stick.store(txn, self.worker, target.id)

    def _answer(self, req: Request, answer: Answer) -> None:
        """A rule answered (deny, redirect, return, auth…): send it; the server sees nothing."""
        fe = self.frontend.stats
        if answer.service:
            fe.intercepted += 1
            self._serve_service(req, answer.service)
            return
        if answer.errorfile:  # deny, tarpit, auth: HAProxy's denied requests
            fe.dreq += 1
            if req.routed:
                self.settings.be_stats.dreq += 1
        else:  # redirect, return: answered by lb itself
            fe.intercepted += 1
            if req.txn is not None and req.txn.sc is not None:
                req.txn.sc.not_error = True  # (not an http_err for the stick tables)
        if answer.tarpit:
            self._arm(CONNECT, 0.0)  # no other timeout while the client is held
            delay = self.settings.tarpit_timeout
            self.loop.call_later(delay, self._answer_now, req, answer, "PT")
            return
        self._answer_now(req, answer, "PR")

    def _answer_now(self, req: Request, answer: Answer, termination: str) -> None:
        if self.closed:
            return
        keep = (
            req.head.keep_alive
            and req.complete
            and not answer.close
            and not self.stopping
            and self.settings.connection_mode != "close"
        )
        if answer.errorfile and answer.status in self.settings.errors.custom:
            data = self.settings.errors[answer.status]
            keep = False
        else:
            data = answer.render(req.head.version, keep)
        self.out.append(data)
        self.flush()
        self._log(req, answer.status, termination if answer.status >= 400 else "--")
        self.keep_client = keep
        self._finish_exchange(None, server_reusable=False)

    def _dequeued_persistent(self, target: ServerTarget | None) -> None:
        """Out of its own server's queue: that server, or None at timeout queue."""
        if target is not None and not self.closed and self.current is not None:
            self.current.t_dequeued = self.loop.time()
            self._use_server(target)
            return
        self._dequeued(target)

    def _dequeued(self, target: ServerTarget | None) -> None:
        if self.closed:
            if target is not None:
                self._give_back(target)
            return
        if self.current is not None:
            self.current.t_dequeued = self.loop.time()
        if target is None:
            self.send_error(503, "sQ")  # timeout queue
            return
        self._balanced(target)
        self._use_server(target)

    def _balanced(self, target: ServerTarget) -> None:
        """The balancing algorithm chose ``target`` (lbtot: not persistence, not use-server)."""
        self.settings.be_stats.lbtot += 1
        self.settings.srv_stats[target.index].lbtot += 1

    def _give_back(self, target: ServerTarget) -> None:
        backend = self.settings.backend
        if backend is not None:
            backend.release(target)
            self.worker.slot_released()

    def _release_slot(self) -> None:
        target, self.target = self.target, None
        if target is not None:
            self._give_back(target)

    def _use_server(self, target: ServerTarget) -> None:
        self.target = target
        if self.worker.stick_rules:
            self._stick_store(target)
        req = self.current
        assert req is not None
        if req.server_name != target.name:  # (a retry on the same server is not counted)
            srv = req.srv_stats = self.settings.srv_stats[target.index]
            srv.stot += 1
            srv.req_tot += 1
        req.server_name = target.name
        req.t_conn = self.loop.time()
        tls = target.tls
        sni = ""
        if tls is not None and tls.sni is not None:  # server … ssl sni EXPR: per request
            # evaluated on the request as the rules left it, when rules ran
            txn = req.txn if req.txn is not None else self._txn(req)
            sni = tls.server_name(txn, self.worker.rules_runtime)
        pool = self.worker.server_pool(target, sni)
        reuse = self.settings.reuse
        conn = None
        # send-proxy: the header names this client, so the connection is private to this
        # client connection, as in HAProxy (kept in ``own``, never pooled)
        private = reuse == "never" or target.send_proxy
        if private:
            own, self.own = self.own, None
            if own is not None and not own.closed and own.pool is pool:
                conn = own
            elif own is not None:
                own.close()
        elif reuse == "always" or self.requests_done > 0:
            # http-reuse safe: a connection's first request gets a connection of its own
            conn = pool.take(self.worker.clock)
        srv = self.settings.srv_stats[target.index]
        if conn is not None:
            req.t_connected = req.t_conn
            self.settings.be_stats.reuse += 1
            srv.reuse += 1
            self._send_request(conn)
            return
        self.settings.be_stats.connect += 1
        srv.connect += 1
        self._arm(CONNECT, self.settings.connect_timeout)
        header = self._proxy_header(target.send_proxy) if target.send_proxy else b""
        if tls is None:
            connecting = self.loop.create_connection(
                lambda: UpstreamConnection(pool, bool(private), header),
                target.address[0],
                target.address[1],
            )
        else:  # the PROXY header, if any, goes before the handshake
            connecting = open_tls_connection(
                self.loop,
                lambda: UpstreamConnection(pool, bool(private)),
                target,
                sni,
                header,
                self.settings.connect_timeout or TLS_CONNECT_TIMEOUT,
            )
        task = self.loop.create_task(connecting)
        task.add_done_callback(self._connected)

    def _proxy_header(self, version: int) -> bytes:
        """send-proxy(-v2): this client's address and the one it connected to."""
        local: tuple[str, int] | None = None
        if self.local_ip:
            local = (self.local_ip, self.local_port)
        elif self.transport is not None:
            sockname = self.transport.get_extra_info("sockname")
            if sockname:
                local = (sockname[0], sockname[1])
        source = (self.client_ip, self.client_port) if self.client_ip else None
        return build(version, source, local)

    def _connected(
        self, task: asyncio.Task[tuple[asyncio.BaseTransport, UpstreamConnection]]
    ) -> None:
        if self.closed:
            if not task.cancelled() and task.exception() is None:
                task.result()[1].close()
            return
        exc = None if task.cancelled() else task.exception()
        if task.cancelled() or exc is not None:
            self._connect_failed()
            return
        _transport, conn = task.result()
        if self.current is not None:
            self.current.t_connected = self.loop.time()
        self._send_request(conn)

    def _connect_failed(self) -> None:
        backend = self.settings.backend
        assert backend is not None and self.target is not None
        be, srv = self.settings.be_stats, self.settings.srv_stats[self.target.index]
        if self.retries_left <= 0:
            be.econ += 1
            srv.econ += 1
            self.send_error(503, "SC")
            return
        be.wretr += 1
        srv.wretr += 1
        self.retries_left -= 1
        if self.current is not None:
            self.current.retries += 1
        if backend.redispatch and self.retries_left == 0:
            other = backend.pick(avoid=self.target)
            if other is not None:
                be.wredis += 1
                srv.wredis += 1
                self._release_slot()  # the slot on the failed server goes back
                if self.current is not None:
                    self.current.redispatched = True
            self._use_server(other or self.target)
        else:
            # the same server after HAProxy's turn-around delay
            self.loop.call_later(min(backend.connect_timeout, 1.0), self._retry_same)

    def _retry_same(self) -> None:
        if not self.closed and self.target is not None:
            self._use_server(self.target)

    def _send_request(self, conn: UpstreamConnection) -> None:
        req = self.current
        assert req is not None and conn.transport is not None
        self.upstream = conn
        conn.session = self
        conn.requests += 1
        head = req.head
        policy = self.settings.compression
        if policy is not None and req.comp_algo is None:
            req.comp_algo = policy.choose(head.kept)
            if req.comp_algo and policy.offload:  # the server must answer uncompressed
                head.kept = without_accept_encoding(head.kept)
        extra = []
        ff = self.settings.forwardfor
        if ff is not None:
            if self.xff is None:  # decided once per connection: the client stays the same
                self.xff = ff.value_for(self.client_ip)
            if self.xff and not (ff.if_none and head.header(ff.lower_name) is not None):
                extra.append(self.xff)
        tail = []
        if head.framing == Framing.CHUNKED:
            tail.append(b"transfer-encoding: chunked\r\n")
        elif head.framing == Framing.LENGTH:
            tail.append(b"content-length: %d\r\n" % head.content_length)
        elif head.length_given or head.method in (b"POST", b"PUT"):
            tail.append(b"content-length: 0\r\n")
        if head.upgrade and b"upgrade" in head.connection_tokens:
            tail.append(b"connection: upgrade\r\nupgrade: %s\r\n" % head.upgrade)
        elif self.settings.connection_mode != "keep-alive":
            tail.append(b"connection: close\r\n")
        tail.append(b"\r\n")
        data = render_request(
            head.method, head.url, forwarded_headers(head, extra=extra), b"".join(tail)
        )
        if req.body:
            data += b"".join(req.body)
            req.body.clear()
            req.buffered = 0
            req.sent_body = True
        conn.transport.write(data)
        req.forwarding = True
        self._resume_client()
        self._arm(EXCHANGE, self.settings.server_timeout)

    # ================================================================== responses

    def upstream_data(self, conn: UpstreamConnection, data: bytes) -> None:
        if self.phase == TUNNEL:
            if self.transport is not None:
                self.transport.write(data)
            return
        self._arm(EXCHANGE, self.settings.server_timeout)
        try:
            conn.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self.out.append(data[offset:])
        except (httptools.HttpParserError, BadMessage):
            self.out.clear()
            self._bad_response(conn)
        if self.comp is not None:
            self._compressed(final=False)  # a flush point per server read
        self.flush()

    def flush(self) -> None:
        """Write what this server read produced for the client, in one system call."""
        out = self.out
        if out:
            data = b"".join(out) if len(out) > 1 else out[0]
            if self.transport is not None and not self.closed:
                self.transport.write(data)
                self.bytes_out += len(data)
            out.clear()

    def response_head(self, conn: UpstreamConnection, resp: Head) -> None:
        req = self.current
        assert req is not None and self.transport is not None
        analyse(resp, is_request=False)
        status = resp.status
        if 100 <= status < 200 and status != 101:
            if req.head.version == "1.1":  # 1xx means nothing to an HTTP/1.0 client
                self.out.append(
                    render_response(status, resp.reason, forwarded_headers(resp), b"\r\n")
                )
            return
        self.resp = resp
        self.response_started = True
        req.t_resp = self.loop.time()
        req.resp_headers = resp.headers
        if status == 101 and req.head.upgrade:
            tail = b"connection: upgrade\r\nupgrade: %s\r\n\r\n" % (
                resp.upgrade or req.head.upgrade
            )
            self.out.append(render_response(status, resp.reason, forwarded_headers(resp), tail))
            self._start_tunnel(conn)
            return
        settings = self.settings
        if req.txn is not None and settings.response_rules:
            answer = self._response_rules(req, resp)
            if answer is not None:
                self._replace_response(conn, req, answer)
                return
            status = resp.status
        if settings.cookie is not None and self.target is not None:
            cookie_value = (self.target.cookie or "").encode("latin-1")
            rewritten = settings.cookie.response(
                resp.kept, cookie_value, req.persisted == cookie_value, status
            )
            if rewritten is not resp.kept:
                resp.kept = rewritten
        has_body = response_has_body(status, req.head.method)
        if req.comp_algo and has_body and settings.compression is not None:
            self._start_compression(req, resp, settings.compression)
        keep = (
            req.head.keep_alive
            and self.keep_client
            and not self.stopping
            and self.settings.connection_mode != "close"
        )
        tail = []
        if not has_body:
            framing = Framing.NONE
            if resp.framing == Framing.LENGTH and req.head.method == b"HEAD":
                tail.append(b"content-length: %d\r\n" % resp.content_length)
        elif self.comp is not None:  # compressed: its length is known at the end only
            framing = Framing.CHUNKED
            tail.append(b"transfer-encoding: chunked\r\n")
        elif resp.framing == Framing.LENGTH:
            framing = Framing.LENGTH
            tail.append(b"content-length: %d\r\n" % resp.content_length)
        elif resp.framing == Framing.CHUNKED and req.head.version == "1.1":
            framing = Framing.CHUNKED
            tail.append(b"transfer-encoding: chunked\r\n")
        elif resp.framing == Framing.NONE:
            framing = Framing.NONE
            tail.append(b"content-length: 0\r\n")
        else:  # delimited by close (or chunked to an HTTP/1.0 client): so is ours
            framing = Framing.CLOSE
            keep = False
        if not req.complete:
            keep = False  # the rest of the request body would be read as a new request
        self.keep_client = keep
        if req.head.version == "1.1":
            if not keep:
                tail.append(b"connection: close\r\n")
        elif keep:
            tail.append(b"connection: keep-alive\r\n")
        tail.append(b"\r\n")
        self.resp_framing = framing
        self.out.append(
            render_response(status, resp.reason, forwarded_headers(resp), b"".join(tail))
        )
        if req.head.method == b"HEAD":
            # llhttp cannot be told the request was HEAD: it would wait for a body
            conn.new_response_parser()
            self.response_complete(conn)

    def _response_rules(self, req: Request, resp: Head) -> Answer | None:
        """http-response rules of the backend, then of the frontend, on the server's head."""
        txn = req.txn
        assert txn is not None
        rt = self.worker.rules_runtime
        txn.set_response(resp.status, resp.headers, resp.reason)
        be, fe = self.settings.rules, self.frontend.rules
        answer = be.http_response(txn, rt) if be is not None else None
        if answer is None and fe is not None and fe is not be:
            answer = fe.http_response(txn, rt)
        if answer is None:
            resp.status, resp.reason = txn.status, txn.reason
            resp.kept = end_to_end(txn.resp_headers or [], resp.connection_tokens)
        return answer

    def _replace_response(self, conn: UpstreamConnection, req: Request, answer: Answer) -> None:
        """http-response deny (or a rule's own answer): the server's response is dropped,
        and so is its connection, which still carries the body."""
        self.frontend.stats.dresp += 1
        self.settings.be_stats.dresp += 1
        if self.target is not None:
            self.settings.srv_stats[self.target.index].dresp += 1
        conn.session = None  # the rest of what it parses is nobody's
        conn.close()
        self.upstream = None
        self.resp = None
        self.response_started = False
        self._release_slot()
        self._answer_now(req, answer, "PH")

    def _start_compression(self, req: Request, resp: Head, policy: CompressionPolicy) -> None:
        framing = resp.framing
        framed = framing == Framing.LENGTH or framing == Framing.CHUNKED
        length = resp.content_length if framing == Framing.LENGTH else None
        head = req.head
        algo = req.comp_algo
        assert algo
        if policy.compressible(
            head.method, head.version, resp.status, resp.version, framed, length, resp.kept
        ):
            self.comp = Compressor(algo)
            resp.kept = compressed_headers(resp.kept, algo)

    def _compressed(self, final: bool) -> None:
        """What the compressor gives for this server read (or the end), as one chunk."""
        comp = self.comp
        assert comp is not None
        if final:
            data = comp.finish()
            self.comp = None
        else:
            data = comp.drain()
        fed, comp.fed = comp.fed, 0
        fe, be = self.frontend.stats, self.settings.be_stats
        if comp.identity:  # HAProxy counts identity's bytes as bypassing the compressor
            fe.comp_byp += fed
            be.comp_byp += fed
        else:
            fe.comp_in += fed
            be.comp_in += fed
            fe.comp_out += len(data)
            be.comp_out += len(data)
        if final:
            fe.comp_rsp += 1
            be.comp_rsp += 1
        if data:
            self.out.append(b"%x\r\n%s\r\n" % (len(data), data))

    def response_body(self, body: bytes) -> None:
        transport = self.transport
        if transport is None or self.resp is None:
            return
        comp = self.comp
        if comp is not None:
            comp.feed(body)  # written at the end of the server read (_compressed)
            return
        if self.resp_framing == Framing.CHUNKED:
            self.out.append(b"%x\r\n%s\r\n" % (len(body), body))
        elif self.resp_framing != Framing.NONE:
            self.out.append(body)

    def response_trailer(self, name: bytes, value: bytes) -> None:
        self.resp_trailers.append(name + b": " + value + b"\r\n")

    def response_complete(self, conn: UpstreamConnection) -> None:
        if self.resp is None or self.current is None or self.phase == TUNNEL:
            return  # a 1xx ended, a HEAD already finished, or a 101 became a tunnel
        resp = self.resp
        if self.resp_framing == Framing.CHUNKED:
            if self.comp is not None:
                self._compressed(final=True)
            self.out.append(b"0\r\n" + b"".join(self.resp_trailers) + b"\r\n")
        self.resp_trailers.clear()
        self._finish_exchange(conn, server_reusable=resp.keep_alive)

    def _finish_exchange(self, conn: UpstreamConnection | None, server_reusable: bool) -> None:
        req = self.current
        if req is not None and self.resp is not None:
            self.flush()
            self._log(req, self.resp.status, "--")
        self.current = None
        target = self.target
        self.resp = None
        self.response_started = False
        if self.queue and self.queue[0] is req:
            self.queue.popleft()
        self.requests_done += 1
        if conn is not None:
            self.upstream = None
            if self.upstream_paused and conn.transport is not None:
                conn.transport.resume_reading()
            self.upstream_paused = False
            conn.session = None
            reusable = (
                server_reusable
                and self.settings.connection_mode == "keep-alive"
                and req is not None
                and req.complete
                and not conn.closed
            )
            if not reusable:
                conn.close()
            elif conn.private:  # http-reuse never, or send-proxy: this client's only
                self.own = conn
            else:
                conn.pool.put(conn, self.worker.clock)
        if target is not None:
            self._release_slot()
        if self.upgrading:  # the server refused the upgrade: back to plain HTTP
            self.upgrading = False
            self.parser = httptools.HttpRequestParser(self)
            pending, self.early_tunnel = self.early_tunnel, b""
            if pending and self.keep_client:
                self.loop.call_soon(self.data_received, pending)
        if not self.keep_client:
            self.flush()
            self.close()
            return
        if self.stopping and not self.queue and self._parsing is None:
            # this response was sent before the stop and did not say "close": the client
            # may be sending its next request already
            self.flush()
            self._linger()
            return
        self._resume_client()  # (stopping: what is pipelined is served, with "close")
        if self.queue:
            self._serve_next()
        else:
            self._arm(WAIT_REQUEST, self.settings.keep_alive_timeout)

    def upstream_lost(self, conn: UpstreamConnection) -> None:
        if conn is not self.upstream or self.closed:
            return
        self.upstream = None
        req = self.current
        if req is None:
            return
        if self.resp is None and not self.response_started:
            # Nothing of a response yet: a reused connection the server had closed, or a
            # server that died. Retry only where that cannot repeat a side effect.
            # HAProxy retries on connection failures only (retry-on conn-failure): a fresh
            # connection that dies after taking the request may have run it, so 502. An idle
            # connection the server had closed before our request is the usual race of
            # connection reuse: the request never arrived, so it goes again on a new one.
            if conn.requests > 1 and not req.sent_body and req.head.idempotent:
                req.forwarding = False
                assert self.target is not None
                self._use_server(self.target)
                return
            self.send_error(502)
            return
        if self.resp_framing == Framing.CLOSE:
            self._finish_exchange(None, server_reusable=False)
            return
        self.abort()  # a truncated response must not look complete

    def _bad_response(self, conn: UpstreamConnection) -> None:
        conn.close()
        self.upstream = None
        if self.response_started:
            self.abort()
        else:
            self.send_error(502)

    # ================================================================== upgrade / tunnel

    def _start_tunnel(self, conn: UpstreamConnection) -> None:
        self.upgrading = False
        self._arm(TUNNEL, self.settings.tunnel_timeout)
        pending = self.early_tunnel
        self.early_tunnel = b""
        if pending and conn.transport is not None:
            conn.transport.write(pending)
        self._resume_client()

    # ================================================================== flow control

    def upstream_full(self) -> None:
        self._pause_client()

    def upstream_drained(self) -> None:
        self._resume_client()

    def _pause_client(self) -> None:
        if not self.client_paused and self.transport is not None:
            self.transport.pause_reading()
            self.client_paused = True

    def _resume_client(self) -> None:
        if self.client_paused and self.transport is not None and not self.closed:
            req = self._parsing
            if req is not None and req.buffered > BUFFER_LIMIT and not req.forwarding:
                return
            if len(self.queue) > 4:
                return
            self.transport.resume_reading()
            self.client_paused = False

    # ================================================================== timeouts and ends

    def _arm(self, phase: int, timeout: float) -> None:
        self.phase = phase
        self.deadline = self.worker.clock + timeout if timeout else 0.0

    def on_tick(self, now: float) -> None:
        """Called by the worker's sweeper; acts when this phase's timeout has passed."""
        if not self.deadline or now < self.deadline or self.closed:
            return
        phase = self.phase
        if phase == WAIT_REQUEST:
            self.close()  # idle keep-alive connection: close silently, as HAProxy
        elif phase == READ_HEAD:
            self.send_error(408)
        elif phase == CONNECT:
            self.send_error(503)
        elif phase == EXCHANGE:
            if self.response_started:
                self.abort()
            else:
                self.send_error(504)
        else:
            self.abort()

    def send_error(self, status: int, termination: str | None = None) -> None:
        if self.closed or self.transport is None:
            return
        req = self.current or self._parsing
        if req is not None and not req.head.method:
            req = None  # no complete request line: the log says <BADREQ>
        self._drop_upstream()
        if not self.response_started:
            self.out.clear()
            self.out.append(self.settings.errors[status])
            self.flush()
        self._log(req, status, termination or _TERMINATION.get(status, "PR"))
        self.close()

    def _log(self, req: Request | None, status: int, termination: str) -> None:
        """The end of one request: its counters, then its log line (once per request)."""
        if req is not None:
            if req.logged:
                return
            req.logged = True
            txn = req.txn
            if txn is not None and txn.sc is not None:
                txn.sc.request_done(status)  # sticky counters: errors, request tracking ends
            elif self.sticky is not None:
                self.sticky.count_error(status)
        elif self.sticky is not None:
            self.sticky.count_error(status)
        self._account(req, status, termination)
        logger = self.frontend.logger
        if logger is not None:
            logger.log_http(http_record(self, req, status, termination))
        self.bytes_out = 0
        self.t_idle_from = self.loop.time()

    def _account(self, req: Request | None, status: int, termination: str) -> None:
        """One answered request in the frontend's, backend's and server's counters."""
        klass = status // 100 if status < 1000 else 0
        out = self.bytes_out
        fe = self.frontend.stats
        fe.http_rsp[klass] += 1
        fe.bout += out
        if req is None:
            fe.ereq += 1  # not even a request line
            return
        bytes_in = req.bytes_in
        fe.bin += bytes_in
        if not req.routed:
            if status == 400 or status == 408:
                fe.ereq += 1
            return
        be = self.settings.be_stats
        be.http_rsp[klass] += 1
        be.bin += bytes_in
        be.bout += out
        srv = req.srv_stats
        if srv is not None:
            srv.http_rsp[klass] += 1
            srv.bin += bytes_in
            srv.bout += out
        if termination != "--" or status >= 500:
            self._account_error(req, status, termination, be, srv)
        if req.t_resp:  # HAProxy's averages count the requests a server answered
            t_conn, t_connected = req.t_conn, req.t_connected
            (srv or be).observe(
                req.t_dequeued - (req.t_head or req.t_begin) if req.t_dequeued else 0.0,
                t_connected - t_conn if t_connected > t_conn else -1.0,
                req.t_resp - (t_connected or t_conn),
                self.loop.time() - req.t_begin,
            )

    @staticmethod
    def _account_error(
        req: Request,
        status: int,
        termination: str,
        be: ObjectCounters,
        srv: ObjectCounters | None,
    ) -> None:
        """What went wrong with a request, by HAProxy's counters: the server's fault before
        a response (eresp), or an abort during the transfer (cli_abrt / srv_abrt)."""
        who, when = termination[0], termination[1]
        if status == 502 or status == 504:
            name = "eresp"
        elif when == "D" and who in "Cc":
            name = "cli_abrt"
        elif when == "D" and who in "Ss":
            name = "srv_abrt"
        else:
            return
        setattr(be, name, getattr(be, name) + 1)
        if srv is not None:
            setattr(srv, name, getattr(srv, name) + 1)

    def bad_request(self) -> None:
        self.send_error(400)

    def graceful(self) -> None:
        """The worker stops: finish what is in flight, then close; idle connections close now.

        Not one request may be reset by a reload, so an "idle" connection is closed only
        when no byte of a request waits in its socket (closing with unread bytes sends a
        reset), and one accepted an instant ago is given STOP_GRACE for its first request,
        which its client may be sending right now. Both are then served, with
        ``Connection: close``."""
        self.stopping = True
        if self.current is not None or self.queue or self._parsing is not None:
            return
        if self._bytes_waiting():
            return  # a request the loop has not handed over yet
        if self.requests_done == 0 and self.phase != CLOSED:
            self._arm(WAIT_REQUEST, STOP_GRACE)  # nothing by then: closed silently
            return
        self._linger()

    def _linger(self) -> None:
        """Close an idle keep-alive connection without a reset: our side first (FIN), then
        read and drop what comes for STOP_GRACE. A client whose next request crossed the
        FIN sees the connection end before any response, which HTTP clients retry
        (RFC 9112 9.3.1); closing at once would answer that request with a reset."""
        transport = self.transport
        if transport is None or self.closed or not transport.can_write_eof():
            self.close()
            return
        self.flush()
        transport.write_eof()
        self.lingering = True
        self._arm(WAIT_REQUEST, STOP_GRACE)  # then closed, if the client has not by then

    def _bytes_waiting(self) -> bool:
        transport = self.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None:
            return False
        try:
            return bytes_readable(sock.fileno()) > 0
        except OSError:
            return False

    def _drop_upstream(self) -> None:
        self._release_slot()
        for conn in (self.upstream, self.own):
            if conn is not None:
                conn.session = None
                conn.close()
        self.upstream = self.own = None

    def close(self) -> None:
        if self.closed:
            return
        self.flush()
        self.closed = True
        self.phase = CLOSED
        self._drop_upstream()
        if self.transport is not None:
            self.transport.close()

    def abort(self, termination: str = "SD") -> None:
        if self.closed:
            return
        self.flush()  # what was complete goes out; the connection then resets
        if self.current is not None and self.resp is not None:
            self._log(self.current, self.resp.status, termination)
        self.closed = True
        self.phase = CLOSED
        self._drop_upstream()
        if self.transport is not None:
            self.transport.abort()


class ProxiedHttpSession(HttpSession):
    """``bind … accept-proxy`` in mode http: the PROXY header comes off the first bytes
    before httptools sees any; its addresses replace the connection's (logs, rules,
    X-Forwarded-For, balancing). Waiting for it is bounded by ``timeout client``, and a
    connection whose first bytes are not a valid header is closed without an answer.

    A subclass, so that sessions without accept-proxy pay nothing for it.
    """

    __slots__ = ("_proxy_buf", "_proxy_wait")

    def __init__(self, worker: Worker, frontend: Frontend, settings: HttpSettings) -> None:
        super().__init__(worker, frontend, settings)
        self._proxy_buf = b""
        self._proxy_wait = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # WAIT_REQUEST: at the deadline the connection closes silently (no 408)
        self._arm(WAIT_REQUEST, self.settings.client_timeout)

    def data_received(self, data: bytes) -> None:
        if not self._proxy_wait:
            super().data_received(data)
            return
        if self.closed:
            return
        buf = self._proxy_buf + data if self._proxy_buf else data
        try:
            parsed = parse(buf)
        except ProxyHeaderError:
            self._proxy_buf = b""
            self.abort()
            return
        if parsed is None:
            self._proxy_buf = buf
            return
        header, used = parsed
        self._proxy_wait = False
        self._proxy_buf = b""
        if header.source is not None and header.destination is not None:
            self.client_ip, self.client_port = header.source
            self.local_ip, self.local_port = header.destination
        self._arm(READ_HEAD, self.settings.http_request_timeout)
        if len(buf) > used:
            super().data_received(buf[used:])
