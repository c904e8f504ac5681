"""Layer 4: a TCP connection that completes passes (L4OK)."""

from __future__ import annotations

import asyncio
import errno
import os
import socket

from lb.master.health.probes.result import CheckResult, elapsed_ms
from lb.master.health.spec import CheckTls, Target
from lb.stats.server_state import CheckStatus


async def connect(target: Target, timeout: float) -> socket.socket | CheckResult:
    """A connected non-blocking socket, or the failed result (duration left at 0)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(target.family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (target.host, target.port)), timeout)
    except TimeoutError:
        sock.close()
        return CheckResult(CheckStatus.L4TOUT, info="Connection timeout")
    except OSError as exc:
        sock.close()
        code = exc.errno or errno.ECONNREFUSED
        return CheckResult(CheckStatus.L4CON, info=os.strerror(code))
    except BaseException:
        sock.close()
        raise
    return sock


async def tcp_probe(
    target: Target, connect_timeout: float, tls: CheckTls | None = None
) -> CheckResult:
    """With ``tls`` (check-ssl) the check passes once the handshake is done (L6OK)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    outcome = await connect(target, connect_timeout)
    if isinstance(outcome, CheckResult):
        return CheckResult(outcome.status, 0, elapsed_ms(start, loop.time()), outcome.info)
    if tls is None:
        outcome.close()
        return CheckResult(CheckStatus.L4OK, 0, elapsed_ms(start, loop.time()))
    from lb.master.health.probes import tls as tlsprobe  # (ssl only when a check uses it)

    left = max(0.001, connect_timeout - (loop.time() - start))
    streams = await tlsprobe.handshake(outcome, tls, left)
    duration = elapsed_ms(start, loop.time())
    if isinstance(streams, CheckResult):
        return CheckResult(streams.status, 0, duration, streams.info)
    await tlsprobe.close(streams)
    return CheckResult(CheckStatus.L6OK, 0, duration)
