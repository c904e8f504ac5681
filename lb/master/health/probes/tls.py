"""check-ssl: a TLS handshake over a check's connected socket (Layer 6).

A handshake that fails is L6RSP, one that does not finish in time L6TOUT; the
contexts are built once per set of settings (the master reads the files at each
check, so a ca-file replaced on disk is seen at the next reload).
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from lb.master.health.probes.result import CheckResult
from lb.master.health.spec import CheckTls
from lb.stats.server_state import CheckStatus
from lb.worker.tls import TlsConfigError
from lb.worker.tls_client import ClientTlsSettings, new_client_context

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]

_contexts: dict[tuple[CheckTls, bool], ssl.SSLContext] = {}


def check_context(tls: CheckTls) -> ssl.SSLContext:
    """The context for ``tls`` (names checked when an SNI is sent and verify is on)."""
    named = bool(tls.sni) and tls.verify
    ctx = _contexts.get((tls, named))
    if ctx is None:
        settings = ClientTlsSettings(
            verify=tls.verify,
            ca_file=tls.ca_file,
            crt=tls.crt,
            ciphers=tls.ciphers,
            min_version=tls.min_version,
        )
        ctx = _contexts[tls, named] = new_client_context(settings, check_names=named)
    return ctx


async def handshake(sock: socket.socket, tls: CheckTls, timeout: float) -> Streams | CheckResult:
    """Streams over the TLS connection, or the failed result (duration left at 0).

    The socket belongs to the streams once this returns them; otherwise it is closed.
    """
    try:
        ctx = check_context(tls)
    except TlsConfigError as e:
        sock.close()
        return CheckResult(CheckStatus.L6RSP, info=str(e))
    try:
        return await asyncio.wait_for(
            asyncio.open_connection(
                sock=sock,
                ssl=ctx,
                server_hostname=tls.sni,
                ssl_handshake_timeout=max(timeout, 0.001),
            ),
            timeout,
        )
    except TimeoutError:
        sock.close()
        return CheckResult(CheckStatus.L6TOUT, info="SSL handshake timeout")
    except (ssl.SSLError, OSError, EOFError) as e:
        sock.close()
        reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or str(e)
        return CheckResult(CheckStatus.L6RSP, info=f"SSL handshake failure ({reason})")


async def close(streams: Streams) -> None:
    writer = streams[1]
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except (OSError, ssl.SSLError, TimeoutError):
        pass
