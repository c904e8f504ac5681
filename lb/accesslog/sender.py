"""``LogSender``: one ``log`` target, fed from the data path without ever blocking it.

Every write is non-blocking. A line that cannot go out now (no listener, ECONNREFUSED,
EAGAIN, ENOBUFS, a full pipe, a missing /dev/log) is dropped and counted in ``dropped``:
a dead log server loses log lines, never requests.

Targets: ``IPv4[:port]``, ``[IPv6][:port]``, ``host:port`` (resolved once, at start),
``udp@``/``udp4@``/``udp6@``/``ipv4@``/``ipv6@`` prefixes, a unix datagram socket path
(``/dev/log``, or ``unix@path``), ``stdout``/``stderr``/``fd@N``. The UDP port is 514
unless given.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
import time

from msgspec import Struct

from lb.accesslog.record import ProcessInfo
from lb.accesslog.syslog import INFO, SyslogError, level_code, make_framer
from lb.config.model import LogTarget

SYSLOG_PORT = 514
_UDP_PREFIXES = ("udp@", "udp4@", "udp6@", "ipv4@", "ipv6@")
_NOT_YET = ("tcp@", "tcp4@", "tcp6@", "ring@", "uxst@")


class Endpoint(Struct, frozen=True):
    kind: str  # "udp", "unix", "fd"
    family: int = 0
    sockaddr: tuple[str, int] | tuple[str, int, int, int] | str | None = None
    fd: int = -1


def parse_address(address: str) -> Endpoint:
    """Where a ``log`` line sends to. Raises SyslogError for what lb cannot do."""
    if address in ("stdout", "stderr"):
        return Endpoint("fd", fd=1 if address == "stdout" else 2)
    if address.startswith("fd@"):
        try:
            return Endpoint("fd", fd=int(address[3:]))
        except ValueError:
            raise SyslogError(f"invalid log address '{address}'") from None
    if address.startswith(_NOT_YET):
        raise SyslogError(f"log address '{address}' (stream or ring target) is not supported yet")
    if address.startswith("unix@"):
        return Endpoint("unix", socket.AF_UNIX, address[5:])
    if address.startswith("/"):
        return Endpoint("unix", socket.AF_UNIX, address)
    for prefix in _UDP_PREFIXES:
        if address.startswith(prefix):
            address = address[len(prefix) :]
            break
    host, port = _split_host_port(address)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SyslogError(f"cannot resolve log address '{address}': {exc}") from None
    family, _, _, _, sockaddr = infos[0]
    return Endpoint("udp", family, sockaddr)


def _split_host_port(address: str) -> tuple[str, int]:
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        try:  # a bare IPv6 address ("::1") has no port
            ipaddress.IPv6Address(address)
            return address, SYSLOG_PORT
        except ValueError:
            pass
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "")
    if not host:
        raise SyslogError(f"invalid log address '{address}'")
    if not port:
        return host, SYSLOG_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SyslogError(f"invalid port in log address '{address}'")
    return host, int(port)


class LogSender:
    """One target: framing for its format, level filter, one socket opened once."""

    def __init__(
        self,
        target: LogTarget,
        process: ProcessInfo | None = None,
        *,
        send_hostname: str | None = None,
    ) -> None:
        self.target = target
        self.sent = 0
        self.dropped = 0
        self.last_error: int | None = None  # errno of the last drop
        self.max_level = level_code(target.level) if target.level else 7
        self.min_level = level_code(target.min_level) if target.min_level else 0
        self._frame = make_framer(
            target.format,
            target.facility,
            process or ProcessInfo(),
            send_hostname=send_hostname,
            length=target.length,
        )
        self.endpoint = parse_address(target.address)
        self._sock: socket.socket | None = None
        self._fd = -1
        self._pending = b""
        self._stream = False
        self._connected = False
        if self.endpoint.kind == "fd":
            try:
                self._open_fd(self.endpoint.fd)
            except OSError as exc:
                raise SyslogError(f"log target '{target.address}': {exc.strerror}") from None
        else:
            kind = socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
            self._sock = socket.socket(self.endpoint.family, kind)
            if self.endpoint.kind == "udp":
                # Connected, a dead server's ICMP errors come back as ECONNREFUSED and are
                # counted. A unix path stays unconnected: syslogd may recreate it.
                try:
                    self._sock.connect(self.endpoint.sockaddr)  # type: ignore[arg-type]
                    self._connected = True
                except OSError:
                    pass

    # -- opening stdout / stderr / fd@N without touching the flags of a shared description
    def _open_fd(self, fd: int) -> None:
        mode = os.fstat(fd).st_mode
        if stat.S_ISSOCK(mode):  # journald's stdout is a stream socket: MSG_DONTWAIT per call
            self._sock = socket.socket(fileno=os.dup(fd))
            self._stream = self._sock.type == socket.SOCK_STREAM
            return
        self._stream = True
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
            try:  # a new open file description of our own, so O_NONBLOCK stays ours
                self._fd = os.open(
                    f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC
                )
                return
            except OSError:
                pass
        self._fd = os.dup(fd)  # a regular file never blocks on "full"

    def send(self, message: str, level: int = INFO, now: float | None = None) -> bool:
        """Frame and send one line; False if filtered out or dropped. Never raises OSError."""
        if level > self.max_level:
            return False
        if level < self.min_level:
            level = self.min_level
        data = self._frame(message, level, time.time() if now is None else now)
        return self.send_bytes(data)

    def send_bytes(self, data: bytes) -> bool:
        try:
            if self._fd >= 0:
                return self._write_stream(data)
            if self._sock is None:  # closed
                return self._drop(None)
            if self._connected:
                self._sock.send(data)
            elif self.endpoint.kind != "fd":
                self._sock.sendto(data, self.endpoint.sockaddr)  # type: ignore[arg-type]
            elif self._stream:
                return self._write_stream(data)
            else:
                self._sock.send(data, socket.MSG_DONTWAIT)
        except OSError as exc:
            return self._drop(exc.errno)
        self.sent += 1
        return True

    def _drop(self, err: int | None) -> bool:
        self.dropped += 1
        self.last_error = err
        return False

    def _raw_write(self, data: bytes) -> int:
        if self._fd >= 0:
            return os.write(self._fd, data)
        assert self._sock is not None
        return self._sock.send(data, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)

    def _write_stream(self, data: bytes) -> bool:
        """A byte stream: never leave half a line; a tail left by a short write goes first."""
        if self._pending:
            self._pending = self._pending[self._raw_write(self._pending) :]
            if self._pending:
                return self._drop(None)
        n = self._raw_write(data)
        if n < len(data):
            self._pending = data[n:]
        self.sent += 1
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __repr__(self) -> str:
        return f"LogSender({self.target.address!r}, sent={self.sent}, dropped={self.dropped})"
