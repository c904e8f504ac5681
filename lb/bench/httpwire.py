"""The load generator's HTTP/1.1 wire: requests built once, responses read with minimal parsing.

A response is read as far as a load generator needs and no further: the status, where the
head ends, how the body is framed (Content-Length, chunked, or until the connection
closes) and whether the server will close. Body bytes are counted, never copied or kept;
header lines are not split up, three compiled searches over the head answer the framing
questions. Anything that does not start like an HTTP/1.x response is a BadResponse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024  # a head (or chunk-size line) longer than this is not a sane response

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d+)[ \t]*(?=\r\n|$)", re.I)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked", re.I)
_CONN_CLOSE = re.compile(rb"\r\nconnection[ \t]*:[^\r\n]*\bclose\b", re.I)
_CONN_KEEPALIVE = re.compile(rb"\r\nconnection[ \t]*:[^\r\n]*\bkeep-alive\b", re.I)


class BadResponse(Exception):
    """The peer's bytes are not a well-framed HTTP/1.x response."""


class Target:
    """Where the requests go: host, port, and the request paths, from one or more URLs."""

    def __init__(self, host: str, port: int, host_header: str, paths: list[str]) -> None:
        self.host = host
        self.port = port
        self.host_header = host_header
        self.paths = paths

    @classmethod
    def from_urls(cls, urls: Sequence[str]) -> Target:
        """``http://host[:port]/path?query`` URLs, all to the same host and port."""
        if not urls:
            raise ValueError("no URL")
        host = port = None
        header = ""
        paths = []
        for url in urls:
            u = urlsplit(url)
            if u.scheme != "http":
                raise ValueError(f"{url}: only http:// URLs are supported")
            if not u.hostname:
                raise ValueError(f"{url}: no host")
            try:
                p = u.port or 80
            except ValueError as e:
                raise ValueError(f"{url}: {e}") from None
            if host is None:
                host, port, header = u.hostname, p, u.netloc
            elif (u.hostname, p) != (host, port):
                raise ValueError(f"{url}: every URL must go to {host}:{port}")
            paths.append((u.path or "/") + (f"?{u.query}" if u.query else ""))
        assert host is not None and port is not None
        return cls(host, port, header, paths)


def build_requests(
    target: Target, *, method: str = "GET", close: bool = False, headers: Sequence[str] = ()
) -> list[bytes]:
    """One ready-to-send request per path; the generator only ever writes these bytes."""
    extra = "".join(f"{h}\r\n" for h in headers)
    has_host = any(h.lower().startswith("host:") for h in headers)
    lines = "" if has_host else f"Host: {target.host_header}\r\n"
    if close:
        lines += "Connection: close\r\n"
    return [
        f"{method} {path} HTTP/1.1\r\n{lines}{extra}\r\n".encode("latin-1") for path in target.paths
    ]


# reader states
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER, _UNTIL_EOF = range(6)


class ResponseReader:
    """Incremental reader of a stream of responses: calls ``on_response(status, body_len,
    close)`` once per complete response, in order. ``head_only`` is for HEAD requests,
    whose responses never have a body whatever their headers say."""

    __slots__ = (
        "_body",
        "_buf",
        "_close",
        "_left",
        "_state",
        "_status",
        "head_only",
        "on_response",
    )

    def __init__(self, on_response: Callable[[int, int, bool], None], head_only: bool = False):
        self.on_response = on_response
        self.head_only = head_only
        self._buf = bytearray()
        self._state = _HEAD
        self._status = 0
        self._body = 0
        self._left = 0
        self._close = False

    def busy(self) -> bool:
        """True when part of a response has arrived but not all of it."""
        return self._state != _HEAD or bool(self._buf)

    def feed(self, data: bytes) -> None:
        pos = 0
        n = len(data)
        while pos < n:
            st = self._state
            if st == _BODY:
                take = n - pos
                if take >= self._left:
                    take = self._left
                self._left -= take
                self._body += take
                pos += take
                if not self._left:
                    self._finish()
            elif st == _HEAD:
                pos = self._head(data, pos, n)
            elif st == _CHUNK_DATA:
                take = n - pos
                if take >= self._left:
                    take = self._left
                self._left -= take
                pos += take
                if not self._left:
                    self._state = _CHUNK_SIZE
            elif st == _UNTIL_EOF:
                self._body += n - pos
                pos = n
            else:  # _CHUNK_SIZE or _TRAILER: one line at a time
                line, pos = self._line(data, pos, n)
                if line is None:
                    return
                if st == _CHUNK_SIZE:
                    self._chunk_size(line)
                elif not line:  # the empty line that ends the trailer section
                    self._finish()

    def eof(self) -> bool:
        """The peer closed. True if that completed a response (a body delimited by the close);
        raises BadResponse if it cut a response short; False if nothing was pending."""
        if self._state == _UNTIL_EOF:
            self._close = True
            self._finish()
            return True
        if self.busy():
            raise BadResponse("connection closed in the middle of a response")
        return False

    # ------------------------------------------------------------------ internals

    def _head(self, data: bytes, pos: int, n: int) -> int:
        buf = self._buf
        if buf:
            old = len(buf)
            buf += memoryview(data)[pos:]
            end = buf.find(b"\r\n\r\n", max(0, old - 3))
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise BadResponse(f"response head longer than {MAX_HEAD} bytes")
                return n
            self._parse_head(buf, 0, end)
            buf.clear()
            return pos + end + 4 - old
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            if n - pos > MAX_HEAD:
                raise BadResponse(f"response head longer than {MAX_HEAD} bytes")
            buf += memoryview(data)[pos:]
            return n
        self._parse_head(data, pos, end)
        return end + 4

    def _parse_head(self, data: bytes | bytearray, start: int, end: int) -> None:
        if not data.startswith(b"HTTP/1.", start) or end - start < 12:
            raise BadResponse(f"not an HTTP/1.x status line: {bytes(data[start : start + 40])!r}")
        code = data[start + 9 : start + 12]
        if not code.isdigit() or data[start + 8] != 0x20:
            raise BadResponse(f"bad status line: {bytes(data[start : start + 40])!r}")
        status = int(code)
        if status < 200 and status != 101:
            return  # an interim response (100 Continue, 103 Early Hints): the real one follows
        self._status = status
        self._body = 0
        if data[start + 7] == 0x30:  # HTTP/1.0: closes unless it says keep-alive
            self._close = _CONN_KEEPALIVE.search(data, start, end) is None
        else:
            self._close = _CONN_CLOSE.search(data, start, end) is not None
        if self.head_only or status in (204, 304) or status == 101:
            self._close = self._close or status == 101
            self._finish()
            return
        if _CHUNKED.search(data, start, end) is not None:
            self._state = _CHUNK_SIZE
            return
        m = _CONTENT_LENGTH.search(data, start, end)
        if m is None:
            self._state = _UNTIL_EOF
            return
        self._left = int(m.group(1))
        if self._left:
            self._state = _BODY
        else:
            self._finish()

    def _line(self, data: bytes, pos: int, n: int) -> tuple[bytes | None, int]:
        """The next CRLF-terminated line (without the CRLF), or None if it is incomplete."""
        buf = self._buf
        if buf:
            old = len(buf)
            buf += memoryview(data)[pos:]
            end = buf.find(b"\r\n", max(0, old - 1))
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise BadResponse("chunk-size line too long")
                return None, n
            line = bytes(buf[:end])
            buf.clear()
            return line, pos + end + 2 - old
        end = data.find(b"\r\n", pos)
        if end < 0:
            buf += memoryview(data)[pos:]
            return None, n
        return data[pos:end], end + 2

    def _chunk_size(self, line: bytes) -> None:
        text = line.split(b";", 1)[0].strip()
        try:
            size = int(text, 16)
        except ValueError:
            raise BadResponse(f"bad chunk size {bytes(line[:40])!r}") from None
        if size < 0:
            raise BadResponse(f"bad chunk size {bytes(line[:40])!r}")
        if size == 0:
            self._state = _TRAILER
        else:
            self._body += size
            self._left = size + 2  # the data and its CRLF
            self._state = _CHUNK_DATA

    def _finish(self) -> None:
        self._state = _HEAD
        self.on_response(self._status, self._body, self._close)
