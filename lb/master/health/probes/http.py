"""Layer 7: connect, send the check request, read the answer, judge it.

The connection is bounded by the connect timeout (L4TOUT, L4CON); the answer
by the read timeout (L7TOUT). An answer that is not HTTP is L7RSP; the verdict
(L7OK, L7STS, L7RSP) is ``httpcheck``'s.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

from lb.master.health.httpcheck import (
    MAX_DIGEST_BODY,
    MAX_RESPONSE,
    BadResponse,
    Response,
    haproxy_verdict,
    keepalived_verdict,
    parse_response,
)
from lb.master.health.probes.result import CheckResult, elapsed_ms
from lb.master.health.probes.tcp import connect
from lb.master.health.spec import HttpProbe
from lb.stats.server_state import CheckStatus


async def http_probe(
    probe: HttpProbe, connect_timeout: float, read_timeout: float | None
) -> CheckResult:
    """``read_timeout`` None: the answer gets what is left of ``connect_timeout``
    (HAProxy without "timeout check": inter bounds the whole check)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    outcome = await connect(probe.target, connect_timeout)
    if isinstance(outcome, CheckResult):
        return CheckResult(outcome.status, 0, elapsed_ms(start, loop.time()), outcome.info)
    sock = outcome
    streams = None
    if probe.tls is not None:  # check-ssl: HTTPS (a PROXY header goes before the handshake)
        from lb.master.health.probes import tls as tlsprobe

        try:
            if probe.preamble:
                await loop.sock_sendall(sock, probe.preamble)
        except OSError as exc:
            sock.close()
            info = exc.strerror or str(exc)
            return CheckResult(CheckStatus.L4CON, 0, elapsed_ms(start, loop.time()), info)
        left = max(0.001, connect_timeout - (loop.time() - start))
        opened = await tlsprobe.handshake(sock, probe.tls, left)
        if isinstance(opened, CheckResult):
            return CheckResult(opened.status, 0, elapsed_ms(start, loop.time()), opened.info)
        streams = opened
    if read_timeout is None:
        read_timeout = max(0.001, connect_timeout - (loop.time() - start))
    try:
        exchange = _exchange(sock, probe) if streams is None else _exchange_tls(streams, probe)
        response = await asyncio.wait_for(exchange, read_timeout)
    except TimeoutError:
        return CheckResult(CheckStatus.L7TOUT, 0, elapsed_ms(start, loop.time()), "timeout")
    except BadResponse as exc:
        return CheckResult(CheckStatus.L7RSP, 0, elapsed_ms(start, loop.time()), str(exc))
    except (OSError, ssl.SSLError) as exc:
        info = getattr(exc, "strerror", None) or str(exc)
        return CheckResult(CheckStatus.L7RSP, 0, elapsed_ms(start, loop.time()), info)
    finally:
        if streams is None:
            sock.close()
        else:
            streams[1].transport.abort()  # a check's answer is read: no close_notify wait
    duration = elapsed_ms(start, loop.time())
    if probe.url is not None:
        verdict = keepalived_verdict(response, probe.url)
    else:
        verdict = haproxy_verdict(response, probe.expects)
    code = response.status if verdict.shows_code else 0
    return CheckResult(verdict.status, code, duration, verdict.info)


async def _exchange(sock: object, probe: HttpProbe) -> Response:
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, probe.request)  # type: ignore[arg-type]
    return await _read_response(lambda: loop.sock_recv(sock, 65536), probe)  # type: ignore[arg-type]


async def _exchange_tls(
    streams: tuple[asyncio.StreamReader, asyncio.StreamWriter], probe: HttpProbe
) -> Response:
    reader, writer = streams
    writer.write(probe.request)
    await writer.drain()
    return await _read_response(lambda: reader.read(65536), probe)


async def _read_response(recv: Callable[[], Awaitable[bytes]], probe: HttpProbe) -> Response:
    # keepalived's digest needs the whole body; HAProxy looks at one buffer.
    limit = MAX_DIGEST_BODY if probe.url is not None else MAX_RESPONSE
    data = bytearray()
    while True:
        chunk = await recv()
        eof = not chunk
        data += chunk
        full = len(data) >= limit
        response = parse_response(bytes(data[:limit]), eof or full, no_body=probe.no_body)
        if response is not None and (response.complete or full or eof):
            return response
        if eof:
            raise BadResponse("connection closed before a complete response")
