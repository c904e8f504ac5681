"""mode tcp content inspection: ``tcp-request content`` rules on the client's first bytes.

The bytes are peeked (MSG_PEEK), never consumed: once the rules decided, the session
splices them to the server like any other. While the rules wait for more bytes,
SO_RCVLOWAT makes the socket readable only when more than what was seen has arrived
(or the client closed), so a waiting connection costs no wake-ups; the delay
(``tcp-request inspect-delay``) then ends the wait and the rules decide on what is
there, as HAProxy does.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from lb.acl.payload import ACL_ROWS, PAYLOAD_FETCHES, ContentTxn
from lb.sticktable.rules import REJECT, WAIT, ContentRules

if TYPE_CHECKING:
    import asyncio

    from lb.config.model import Proxy
    from lb.worker.worker import Frontend, Worker

PAYLOAD_NAMES = PAYLOAD_FETCHES | frozenset(ACL_ROWS)
BUFFER = 16384  # bytes looked at, at most (HAProxy's default tune.bufsize)


def peek_now(client: socket.socket) -> bytes:
    """What the client sent so far, left in the socket."""
    try:
        return client.recv(BUFFER, socket.MSG_PEEK)
    except OSError:  # (BlockingIOError included: nothing yet)
        return b""


def content_txn(
    frontend: Frontend,
    client: socket.socket,
    addr: tuple[str, int],
    local: tuple[str, int] | None,
) -> ContentTxn:
    if local is None:
        try:
            local = client.getsockname()
        except OSError:
            local = ("", 0)
    return ContentTxn(b"", b"", "1.1", [], addr[0], addr[1], local[0], local[1], frontend.name)


class Inspector:
    """One connection whose content rules wait for its first bytes."""

    __slots__ = (
        "addr",
        "blind",
        "client",
        "fd",
        "frontend",
        "local",
        "lowat",
        "reading",
        "rules",
        "start",
        "timer",
        "tls",
        "txn",
        "worker",
    )

    def __init__(
        self,
        worker: Worker,
        frontend: Frontend,
        rules: ContentRules,
        client: socket.socket,
        addr: tuple[str, int],
        local: tuple[str, int] | None,
        blind: bool = False,
    ) -> None:
        self.worker = worker
        # bind … ssl: the socket holds ciphertext; the rules see no bytes (not supported yet)
        self.blind = blind
        self.frontend = frontend
        self.rules = rules
        self.client = client
        self.fd = client.fileno()
        self.addr = addr
        self.local = local
        txn = self.txn = content_txn(frontend, client, addr, local)
        txn.final = blind or rules.delay <= 0  # no delay: the rules decide on what is there now
        if worker.sticky:  # what tcp-request connection tracked: content rules see it
            txn.sc = worker.sticky.pop(client, None)
        self.start = 0  # the rule that waited
        self.lowat = 0  # the SO_RCVLOWAT set, 0 while it is the default
        self.reading = False
        self.timer: asyncio.TimerHandle | None = None
        self.tls: asyncio.Transport | None = None  # bind … ssl: the client's TLS transport

    def begin(self) -> bool:
        """Decide now if the rules can; else wait. True when decided already."""
        if self._step(woken=False):
            return True
        loop = self.worker.loop
        loop.add_reader(self.fd, self._on_readable)
        self.reading = True
        self.timer = loop.call_later(self.rules.delay, self.fail)
        return False

    def fail(self) -> None:
        """The delay is over (or the worker stops): the rules decide on what is there."""
        self.timer = None
        self.txn.final = True
        self._step(woken=False)

    def _on_readable(self) -> None:
        self._step(woken=True)

    def _step(self, woken: bool) -> bool:
        txn = self.txn
        data = b"" if self.blind else peek_now(self.client)
        # readable without new bytes: the client closed (or failed); no more will come
        if len(data) >= BUFFER or (woken and len(data) <= len(txn.payload)):
            txn.final = True
        txn.payload = data
        verdict, self.start = self.rules.run(txn, self.worker, self.start)
        if verdict == WAIT:
            self._want_more(len(data) + 1)
            return False
        self._finish(verdict == REJECT)
        return True

    def _want_more(self, size: int) -> None:
        try:
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, size)
            self.lowat = size
        except OSError:
            pass

    def _finish(self, rejected: bool) -> None:
        worker = self.worker
        if self.reading:
            worker.loop.remove_reader(self.fd)
            self.reading = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.lowat:  # the splice path wants every byte's readiness again
            try:
                self.client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
            except OSError:
                pass
        worker.content_decided(self, rejected)


def routing_reads_payload(proxy: Proxy) -> bool:
    """Whether the proxy's use_backend conditions (or the ACLs they may name) read the
    request's bytes: then routing peeks at what the client sent so far."""
    words = [w for u in proxy.use_backends for w in u.condition]
    words += [w for a in proxy.acls for w in a.words[:1]]
    return any(_fetch_name(w) in PAYLOAD_NAMES for w in words)


def _fetch_name(word: str) -> str:
    return word.lstrip("!").split("(", 1)[0].split(",", 1)[0]
