"""HTTP health checks without I/O: the request bytes, reading a response, the verdict.

Two flavours share the response side:

- HAProxy's ``option httpchk`` / ``http-check``: the request as HAProxy 2.6
  writes it (a bare ``OPTIONS / HTTP/1.0`` when nothing is added; header
  names lower-cased, ``content-length`` for a body and ``connection: close``
  once ``http-check send`` adds something), then the expect rules: without
  any, a 2xx or 3xx passes;
- keepalived's ``HTTP_GET``: ``GET path``, status ranges (default 200-299),
  an optional MD5 digest of the body and an optional regex.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lb.config.model import HttpCheck, HttpCheckExpect
from lb.stats.server_state import CheckStatus

MAX_RESPONSE = 16384  # tune.bufsize: HAProxy matches within what fits in one buffer
MAX_DIGEST_BODY = 16 * 1024 * 1024  # keepalived hashes the whole body; bound it anyway


def haproxy_request(check: HttpCheck) -> bytes:
    head = f"{check.method} {check.uri} {check.version}\r\n"
    body = check.body.encode()
    headers = [(name.lower(), value) for name, value in check.headers]
    if headers or body:
        if body:
            headers.append(("content-length", str(len(body))))
        if not any(name == "connection" for name, _ in headers):
            headers.append(("connection", "close"))
    elif check.version != "HTTP/1.0":
        headers.append(("connection", "close"))  # HTTP/1.1 would keep the connection open
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    return (head + "\r\n").encode("latin-1") + body


def keepalived_request(path: str, host: str, protocol: str = "1.0") -> bytes:
    """``http_protocol`` 1.0, 1.0C (1.0 + Connection: close) or 1.1 (which closes too)."""
    version = "HTTP/1.1" if protocol == "1.1" else "HTTP/1.0"
    lines = [f"GET {path} {version}", f"Host: {host}", "User-Agent: KeepAliveClient"]
    if protocol in ("1.0C", "1.1"):
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    complete: bool  # the whole body is there (length known and reached, or EOF)
    reason: str = ""  # the status line's reason phrase


class BadResponse(ValueError):
    pass


_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?")


def parse_response(data: bytes, eof: bool, *, no_body: bool = False) -> Response | None:
    """The response in ``data``; None while more is needed. BadResponse when it cannot be one.

    ``no_body``: the answer to a HEAD request, complete at the end of its head.
    """
    end = data.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end = data.find(b"\n\n")
        sep = 2
    if end < 0:
        if eof or len(data) >= MAX_RESPONSE:
            raise BadResponse("no complete HTTP response head")
        if data and not b"HTTP/".startswith(data[:5]):
            raise BadResponse("not an HTTP response")
        return None
    head, rest = data[:end], data[end + sep :]
    lines = head.split(b"\n")
    match = _STATUS_LINE.fullmatch(lines[0].rstrip(b"\r"))
    if match is None:
        raise BadResponse("invalid HTTP status line")
    status = int(match.group(3))
    reason = (match.group(4) or b"").decode("latin-1").strip()
    if no_body or status in (204, 304):
        return Response(status, b"", True, reason)
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise BadResponse("invalid HTTP header line")
        key = name.strip().lower()
        if key == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise BadResponse("invalid Content-Length") from None
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body, done = _dechunk(rest)
        return Response(status, body, done or eof, reason)
    if length is not None:
        return Response(status, rest[:length], len(rest) >= length, reason)
    return Response(status, rest, eof, reason)


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    out = bytearray()
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(out), False
        try:
            size = int(data[pos:eol].split(b";", 1)[0], 16)
        except ValueError:
            raise BadResponse("invalid chunk size") from None
        if size == 0:
            return bytes(out), True
        start = eol + 2
        if len(data) < start + size + 2:
            out += data[start : start + size]
            return bytes(out), False
        out += data[start : start + size]
        pos = start + size + 2


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True, slots=True)
class Verdict:
    status: CheckStatus
    info: str = ""

    @property
    def shows_code(self) -> bool:
        """HAProxy reports the HTTP status with L7OK and L7STS, not with L7RSP."""
        return self.status in (CheckStatus.L7OK, CheckStatus.L7STS)


def status_in(code: int, spec: str) -> bool:
    """``200,201,300-310``: a list of codes and ranges."""
    for part in spec.split(","):
        low, _, high = part.partition("-")
        if int(low) <= code <= int(high or low):
            return True
    return False


def haproxy_verdict(response: Response, expects: Sequence[HttpCheckExpect]) -> Verdict:
    """HAProxy's: status rules fail with L7STS (info: the reason phrase), content rules
    with L7RSP; content rules look at what arrived, at most one buffer (``tune.bufsize``)."""
    status = response.status
    if not expects:
        if 200 <= status < 400:
            return Verdict(CheckStatus.L7OK, response.reason)
        return Verdict(CheckStatus.L7STS, response.reason)
    for rule in expects:
        if rule.match in ("status", "rstatus"):
            if rule.match == "status":
                hit = status_in(status, rule.pattern)
            else:
                hit = re.search(rule.pattern, str(status)) is not None
            if hit == rule.negate:
                return Verdict(CheckStatus.L7STS, response.reason)
        else:
            text = response.body[:MAX_RESPONSE].decode("latin-1")
            if rule.match == "string":
                hit = rule.pattern in text
            else:
                hit = re.search(rule.pattern, text) is not None
            if hit == rule.negate:
                return Verdict(CheckStatus.L7RSP, "HTTP content check did not match")
    return Verdict(CheckStatus.L7OK, response.reason)


@dataclass(frozen=True, slots=True)
class KeepalivedUrl:
    """One ``url { … }`` of an HTTP_GET: path, accepted statuses, digest, regex."""

    path: str
    status_codes: tuple[tuple[int, int], ...] = ((200, 299),)
    digest: str | None = None  # MD5 hex of the body
    regex: str | None = None
    regex_no_match: bool = False
    virtualhost: str | None = None


def keepalived_verdict(response: Response, url: KeepalivedUrl) -> Verdict:
    status = response.status
    if not any(low <= status <= high for low, high in url.status_codes):
        return Verdict(CheckStatus.L7STS, f"HTTP status code {status}")
    if url.digest is not None or url.regex is not None:
        if not response.complete:
            return Verdict(CheckStatus.L7RSP, "incomplete body")
        if url.digest is not None:
            digest = hashlib.md5(response.body, usedforsecurity=False).hexdigest()
            if digest != url.digest.lower():
                return Verdict(CheckStatus.L7RSP, f"MD5 digest {digest} does not match")
        if url.regex is not None:
            hit = re.search(url.regex, response.body.decode("latin-1")) is not None
            if hit == url.regex_no_match:
                return Verdict(CheckStatus.L7RSP, "regex check failed")
    return Verdict(CheckStatus.L7OK)
