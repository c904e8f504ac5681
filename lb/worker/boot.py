"""What the master tells a fresh worker interpreter, and how.

The worker is started as ``python -m lb.worker CONTROL_FD``. Over the control
socket (a socketpair) it first receives one length-prefixed msgpack frame, a
``WorkerBoot``; when it is serving it answers with ``READY``. The master never
writes anything else: stop requests are signals (SIGUSR1 graceful, SIGTERM
fast), and end of file on the control socket means the master is gone.
"""

from __future__ import annotations

import socket
import struct

import msgspec

from lb.config.model import Config

READY = b"R"
_LENGTH = struct.Struct("<I")


class ListenerFd(msgspec.Struct):
    frontend: str
    bind_key: str
    fd: int


class WorkerBoot(msgspec.Struct):
    slot: int
    generation: int
    nworkers: int
    config: Config
    listeners: list[ListenerFd]
    shm_fd: int
    gauges: dict[str, int]  # gauge name → slot in the shared region
    maxconn: int  # effective global maxconn
    # resolved server addresses: "backend/server" → (host, port) as getaddrinfo gave them
    server_addrs: dict[str, tuple[int, str, int]]  # family, host, port
    # errorfile contents read by the master: proxy name → status → whole HTTP response
    errorfiles: dict[str, dict[int, bytes]] = msgspec.field(default_factory=dict)
    # stick tables (lb.sticktable): proxy name → memfd of its table, shared by every worker
    tables: dict[str, int] = msgspec.field(default_factory=dict)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(WorkerBoot)


def encode_boot(boot: WorkerBoot) -> bytes:
    body = _encoder.encode(boot)
    return _LENGTH.pack(len(body)) + body


def read_boot(sock: socket.socket) -> WorkerBoot:
    """Blocking read of the boot frame (the worker has nothing else to do yet)."""
    header = _recv_exactly(sock, _LENGTH.size)
    (length,) = _LENGTH.unpack(header)
    return _decoder.decode(_recv_exactly(sock, length))


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        r = sock.recv_into(view[got:])
        if r == 0:
            raise EOFError("control socket closed before the boot message was complete")
        got += r
    return bytes(buf)
