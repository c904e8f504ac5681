"""The HTTP load engine of one generator process: uvloop, raw protocols, precomputed requests.

Two ways to drive the load:

- closed loop (no rate): every connection keeps ``pipeline`` requests in flight and sends
  the next one as soon as a response completes; latency runs from the moment the request
  was written (with ``close``: from the moment its connection was started, since every
  request pays for its own connection);
- fixed rate: request *i* is due at ``t0 + i / rate`` whatever happened before. Due
  requests go to a connection with room, or wait in a backlog; latency runs from the
  **scheduled** time, so a stalled server is charged for every request it held back
  (no coordinated omission). The schedule advances on a timer whose granularity is the
  event loop's (1 ms in uvloop): that much lateness may show in the lowest percentiles.

Every request ends as one response (counted by status) or one error (counted by kind:
``connect_refused``, ``connect_timeout``, ``connect_error``, ``reset``, ``eof``, ``timeout``,
``bad_response``). With a request count, errors count towards it. A response whose server
says ``Connection: close`` is not an error; the requests pipelined behind it are sent again
on a new connection. With a duration, only responses completed before the deadline count.
"""

from __future__ import annotations

import asyncio
import errno
import resource
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lb.bench.hist import Histogram
from lb.bench.httpwire import BadResponse, ResponseReader

_CONNECT_CONCURRENCY = 256  # connects in flight at once: a burst of SYNs overflows backlogs
_HOLD_WINDOW = 256  # idle-connection mode: requests in flight at once, as a proxy's pools expect


@dataclass
class HttpJob:
    """What one generator process does. Plain data: it travels to the process as JSON."""

    host: str
    port: int
    requests: list[bytes]
    connections: int
    close: bool = False
    pipeline: int = 1
    count: int | None = None  # requests to complete (errors included); None: run for duration
    duration: float | None = None
    rate: float | None = None  # requests per second of this process; None: closed loop
    timeout: float = 5.0
    head_only: bool = False
    hold: bool = False  # idle-connection mode: one request per connection, then keep them open

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["requests"] = [r.decode("latin-1") for r in self.requests]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HttpJob:
        d = dict(d)
        d["requests"] = [r.encode("latin-1") for r in d["requests"]]
        return cls(**d)


@dataclass
class HttpCounts:
    """What one process measured; several merge into the run's figures."""

    responses: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    body_bytes: int = 0
    body_min: int = -1
    body_max: int = 0
    connects: int = 0
    elapsed: float = 0.0
    cpu_s: float = 0.0  # this process's utime + stime during the run
    unfinished: int = 0  # requests in flight or due when the duration ended
    hist: Histogram = field(default_factory=Histogram)

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["statuses"] = {str(k): v for k, v in self.statuses.items()}
        d["hist"] = self.hist.to_json()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HttpCounts:
        d = dict(d)
        d["statuses"] = {int(k): v for k, v in d["statuses"].items()}
        d["hist"] = Histogram.from_json(d["hist"])
        return cls(**d)

    def merge(self, o: HttpCounts) -> None:
        self.responses += o.responses
        for k, v in o.statuses.items():
            self.statuses[k] = self.statuses.get(k, 0) + v
        for k, v in o.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        self.body_bytes += o.body_bytes
        if o.body_min >= 0:
            self.body_min = o.body_min if self.body_min < 0 else min(self.body_min, o.body_min)
        self.body_max = max(self.body_max, o.body_max)
        self.connects += o.connects
        self.elapsed = max(self.elapsed, o.elapsed)
        self.cpu_s += o.cpu_s
        self.unfinished += o.unfinished
        self.hist.merge(o.hist)


def connect_error_kind(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connect_refused"
    if isinstance(exc, TimeoutError | asyncio.CancelledError):
        return "connect_timeout"
    if isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT:
        return "connect_timeout"
    return "connect_error"


class Conn(asyncio.Protocol):
    """One client connection. Its in-flight deque holds each request's start time (ns)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.transport: asyncio.Transport | None = None
        self.inflight: deque[int] = deque()
        self.reader = ResponseReader(self._response, engine.job.head_only)
        self.started = time.monotonic_ns()  # when the connect began
        self.to_send = 0  # closed loop: requests to write at the end of this read
        self.closing = False  # the server said close, or we gave up on it
        self.in_idle = False  # rate mode: listed as having room for a request
        self.dead = False
        self.active = engine.loop.time()  # last send or read: what the timeout checks
        self.request: bytes | None = None  # close mode: the request this connection is for

    # -------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        self.engine.connected(self)
        if self.request is not None and self.engine.running:
            # sent right here, so that from now on whatever ends the connection settles it
            self.send(self.started, self.request)
            self.request = None

    def data_received(self, data: bytes) -> None:
        self.active = self.engine.loop.time()
        try:
            self.reader.feed(data)
        except BadResponse:
            self.fail("bad_response")
            return
        if self.to_send:
            n, self.to_send = self.to_send, 0
            self.engine.send_more(self, n)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.dead:
            return
        if exc is None:
            try:
                self.reader.eof()
            except BadResponse:
                # cut mid-response: that request failed; any behind it were never answered
                self._fail_inflight("eof", 1)
            else:
                if self.inflight and not self.closing:
                    # closed without a word about it: the oldest request failed; those
                    # pipelined behind it are sent again
                    self._fail_inflight("eof", 1)
        elif self.inflight:
            self._fail_inflight("reset" if isinstance(exc, ConnectionError) else "eof", 1)
        self.dead = True
        self.engine.lost(self)

    # -------------------------------------------------------------- the engine's side

    def send(self, start_ns: int, req: bytes) -> None:
        self.inflight.append(start_ns)
        self.active = self.engine.loop.time()
        assert self.transport is not None
        self.transport.write(req)

    def fail(self, kind: str) -> None:
        """Give up on this connection: every request in flight on it is an error of kind."""
        if self.dead:
            return
        self._fail_inflight(kind, len(self.inflight))
        self.dead = True
        if self.transport is not None:
            self.transport.abort()
        self.engine.lost(self)

    def _fail_inflight(self, kind: str, n: int) -> None:
        for _ in range(min(n, len(self.inflight))):
            self.inflight.popleft()
            self.engine.error(kind)

    def _response(self, status: int, body: int, close: bool) -> None:
        start = self.inflight.popleft()
        eng = self.engine
        eng.record(start, status, body)
        if close or eng.job.close:
            self.closing = True
            if not self.inflight and self.transport is not None:
                self.transport.close()
            return
        eng.after_response(self)


class Engine:
    """Runs one HttpJob on the running loop; ``counts`` holds the figures at the end."""

    def __init__(
        self, job: HttpJob, on_progress: Callable[[HttpCounts], None] | None = None
    ) -> None:
        self.job = job
        self.loop = asyncio.get_running_loop()
        self.counts = HttpCounts()
        self.hist = self.counts.hist
        self.on_progress = on_progress
        self.reqs = job.requests
        self.next_req = 0
        self.issued = 0  # requests started: sent, or tried and failed
        self.finished = 0  # responses + errors
        self.conns: set[Conn] = set()
        self.connecting = 0
        self.connect_sem = asyncio.Semaphore(_CONNECT_CONCURRENCY)
        self.idle: list[Conn] = []  # rate mode: connections with room
        self.backlog: deque[int] = deque()  # rate mode: scheduled times not yet sent
        self.running = False
        self.t0 = 0
        self.deadline = 0  # ns; 0 = none
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.next_due = 0
        self.interval = 0
        self.retry_delay: dict[int, float] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.unused: deque[Conn] = deque()  # hold mode: connections still to send their request

    # -------------------------------------------------------------- phases

    async def prepare(self) -> int:
        """Keep-alive: open every connection before the clock starts. Returns how many opened."""
        if self.job.close:
            return 0
        await asyncio.gather(*(self._open(i, initial=True) for i in range(self.job.connections)))
        return len(self.conns)

    async def run(self) -> HttpCounts:
        job = self.job
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        self.t0 = time.monotonic_ns()
        self.running = True
        if job.duration is not None:
            self.deadline = self.t0 + int(job.duration * 1e9)
            self.loop.call_later(job.duration, self._stop)
        if job.count == 0:
            self._stop()
        check = self.loop.call_later(min(0.1, job.timeout / 4), self._check_timeouts)
        tick = self.loop.call_later(1.0, self._progress) if self.on_progress else None
        if job.rate:
            self.interval = max(1, int(1e9 / job.rate))
            self.next_due = self.t0
            if not job.close:
                for c in list(self.conns):
                    self._add_idle(c)
                for i in range(job.connections - len(self.conns)):
                    self._spawn(i, 0.0)
            self._tick()
        elif job.close:
            for i in range(job.connections):
                self._start_close_slot(i)
        elif job.hold:
            # one request per connection, a window of them at a time: 10k requests at once
            # would measure how the proxy copes with a burst, not what an idle connection costs
            self.unused.extend(self.conns)
            for _ in range(_HOLD_WINDOW):
                self._send_unused()
        else:
            for c in list(self.conns):
                self.send_more(c, job.pipeline)
            for i in range(job.connections - len(self.conns)):
                self._spawn(i, 0.0)  # connections that failed at prepare try again now
        await self.done
        check.cancel()
        if tick is not None:
            tick.cancel()
        if self.timer is not None:
            self.timer.cancel()
        end = self.deadline if self.deadline else time.monotonic_ns()
        self.counts.elapsed = (end - self.t0) / 1e9
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        self.counts.cpu_s = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        self.counts.unfinished = sum(len(c.inflight) for c in self.conns) + len(self.backlog)
        if not job.hold:
            self.close_all()
        return self.counts

    def close_all(self) -> None:
        for c in list(self.conns):
            c.dead = True
            if c.transport is not None:
                c.transport.abort()
        self.conns.clear()

    def _stop(self) -> None:
        self.running = False
        if not self.done.done():
            self.done.set_result(None)

    # -------------------------------------------------------------- accounting

    def record(self, start: int, status: int, body: int) -> None:
        now = time.monotonic_ns()
        if self.deadline and now > self.deadline:
            return  # after the end of a timed run: not counted
        c = self.counts
        c.responses += 1
        st = c.statuses
        st[status] = st.get(status, 0) + 1
        c.body_bytes += body
        if body > c.body_max:
            c.body_max = body
        if body < c.body_min or c.body_min < 0:
            c.body_min = body
        self.hist.record(now - start)
        self._finished_one()

    def error(self, kind: str) -> None:
        if self.deadline and time.monotonic_ns() > self.deadline:
            return
        e = self.counts.errors
        e[kind] = e.get(kind, 0) + 1
        self._finished_one()

    def _finished_one(self) -> None:
        self.finished += 1
        count = self.job.count
        if count is not None and self.finished >= count:
            self._stop()

    def _may_issue(self) -> bool:
        count = self.job.count
        return self.running and (count is None or self.issued < count)

    def _next_request(self) -> bytes:
        reqs = self.reqs
        if len(reqs) == 1:
            return reqs[0]
        r = reqs[self.next_req]
        self.next_req = (self.next_req + 1) % len(reqs)
        return r

    # -------------------------------------------------------------- connections

    def connected(self, c: Conn) -> None:
        self.conns.add(c)
        self.counts.connects += 1

    def lost(self, c: Conn) -> None:
        """A connection ended (closed by either side, failed, or timed out)."""
        self.conns.discard(c)
        if c.in_idle:
            c.in_idle = False
            self.idle.remove(c)
        unanswered = len(c.inflight)
        if unanswered:  # pipelined behind a Connection: close: never attempted, send again
            if self.job.rate:
                self.backlog.extendleft(reversed(c.inflight))
            else:
                self.issued -= unanswered
            c.inflight.clear()
        if not self.running:
            return
        if self.job.close and not self.job.rate:
            self._start_close_slot(0)
        elif not self.job.close:
            self._spawn(0, 0.0)
        elif self.job.rate:
            self._dispatch()

    def _spawn(self, slot: int, delay: float) -> None:
        if delay:
            self.loop.call_later(delay, self._spawn, slot, 0.0)
        elif self.running:
            self.loop.create_task(self._open(slot))

    async def _open(self, slot: int, initial: bool = False, start: int = 0) -> None:
        """Open one keep-alive connection, or (close mode, with start) the connection of one
        request, already counted as issued, that is due since start."""
        c = Conn(self)
        if start:
            c.started = start
            c.request = self._next_request()
        self.connecting += 1
        try:
            async with self.connect_sem:
                await asyncio.wait_for(
                    self.loop.create_connection(lambda: c, self.job.host, self.job.port),
                    self.job.timeout,
                )
        except (TimeoutError, OSError) as e:
            self.connecting -= 1
            self._connect_failed(slot, e, initial, start)
            return
        self.connecting -= 1
        self.retry_delay.pop(slot, None)
        if c.dead:
            return
        if self.job.close:
            if not self.running:  # the time was up while it connected
                c.dead = True
                assert c.transport is not None
                c.transport.abort()
                self.conns.discard(c)
        elif self.running:
            if self.job.rate:
                self._add_idle(c)
                self._dispatch()
            else:
                self.send_more(c, self.job.pipeline)

    def _connect_failed(self, slot: int, e: BaseException, initial: bool, start: int) -> None:
        kind = connect_error_kind(e)
        if initial:
            self.counts.errors[kind] = self.counts.errors.get(kind, 0) + 1
            return
        if not self.running:
            return
        # the request this connection was for failed (close mode: it was issued already)
        if not self.job.close:
            if not self._may_issue():
                return
            self.issued += 1
        self.error(kind)
        delay = min(1.0, self.retry_delay.get(slot, 0.005) * 2)
        self.retry_delay[slot] = delay
        if self.job.close and not self.job.rate:
            self.loop.call_later(delay, self._start_close_slot, slot)
        elif not self.job.close:
            self._spawn(slot, delay)
        else:
            self.loop.call_later(delay, self._dispatch)

    def _start_close_slot(self, slot: int) -> None:
        if self._may_issue():
            self.issued += 1
            self.loop.create_task(self._open(slot, start=time.monotonic_ns()))

    # -------------------------------------------------------------- closed loop

    def send_more(self, c: Conn, n: int) -> None:
        """Closed loop: write up to n more requests on c, in one write."""
        if c.closing or c.dead:
            return
        n = min(n, self.job.pipeline - len(c.inflight))
        if self.job.count is not None:
            n = min(n, self.job.count - self.issued)
        if n <= 0 or not self.running:
            return
        self.issued += n
        now = time.monotonic_ns()
        if n == 1:
            c.send(now, self._next_request())
            return
        parts = [self._next_request() for _ in range(n)]
        c.inflight.extend([now] * n)
        assert c.transport is not None
        c.transport.write(b"".join(parts))

    def _send_unused(self) -> None:
        while self.unused:
            c = self.unused.popleft()
            if not c.dead and not c.closing:
                self.send_more(c, 1)
                return

    def after_response(self, c: Conn) -> None:
        if self.job.hold:
            self._send_unused()
        elif self.job.rate:
            if self.backlog and self.running:
                c.send(self.backlog.popleft(), self._next_request())
            elif not c.in_idle:
                self._add_idle(c)
        elif self._may_issue():
            c.to_send += 1

    # -------------------------------------------------------------- fixed rate

    def _tick(self) -> None:
        self.timer = None
        if not self.running:
            return
        now = time.monotonic_ns()
        count = self.job.count
        while self.next_due <= now and (count is None or self.issued < count):
            self.backlog.append(self.next_due)
            self.issued += 1
            self.next_due += self.interval
        self._dispatch()
        if count is None or self.issued < count:
            delay = max(0.0, (self.next_due - time.monotonic_ns()) / 1e9)
            self.timer = self.loop.call_later(delay, self._tick)

    def _add_idle(self, c: Conn) -> None:
        c.in_idle = True
        self.idle.append(c)

    def _dispatch(self) -> None:
        backlog = self.backlog
        if self.job.close:
            while backlog and self.connecting + len(self.conns) < self.job.connections:
                self.loop.create_task(self._open(0, start=backlog.popleft()))
            return
        idle = self.idle
        depth = self.job.pipeline
        while backlog and idle:
            c = idle[-1]
            c.send(backlog.popleft(), self._next_request())
            if len(c.inflight) >= depth:
                idle.pop()
                c.in_idle = False

    # -------------------------------------------------------------- timers

    def _check_timeouts(self) -> None:
        limit = self.loop.time() - self.job.timeout
        for c in list(self.conns):
            if c.inflight and c.active < limit:
                c.fail("timeout")
        if not self.done.done():
            self.loop.call_later(min(0.1, self.job.timeout / 4), self._check_timeouts)

    def _progress(self) -> None:
        assert self.on_progress is not None
        self.on_progress(self.counts)
        if not self.done.done():
            self.loop.call_later(1.0, self._progress)
