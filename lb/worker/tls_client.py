"""TLS to servers (``server … ssl``): client contexts, their checks, and the SNI to send.

``verify required`` checks the server's chain against ``ca-file`` and, when an SNI
is sent, the certificate's names against it (HAProxy: "the names … match the name
passed using the sni directive"; without SNI the names are not looked at).
Python checks names only with ``check_hostname`` on, which also needs a name, so a
server has two contexts: one that checks names (used with an SNI) and one that does
not (used without). ``verify none`` takes any certificate.

``sni`` is a sample expression evaluated per request (mode http) or per connection
(mode tcp) with lb.acl's machinery; the fetches lb accepts there are listed in
``SNI_FETCHES``. The configuration loader calls ``check_client_settings`` and
``check_sni`` so that ``lb -c`` names the line; the worker builds ``ServerTls`` at
boot, before any chroot or privilege drop.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from lb.worker.tls import TLS_VERSIONS, TlsConfigError, set_ciphers

if TYPE_CHECKING:
    from lb.acl import HttpTxn, Runtime
    from lb.config.model import Config, Proxy, Server
    from lb.worker.backends import ServerTarget

# What an ``sni`` expression may start with: constants, the request's Host, the
# client's own SNI (a TLS frontend). Any converter lb.acl knows may follow.
SNI_FETCHES = ("str", "req.hdr", "hdr", "req.fhdr", "ssl_fc_sni")
# lb speaks HTTP/1.1 to servers in mode http; in mode tcp the bytes are the client's
SERVER_ALPN_HTTP = ("http/1.1", "http/1.0")

TLS_CONNECT_TIMEOUT = 5.0  # s, the handshake's bound without timeout connect

SniValue = Callable[["HttpTxn", "Runtime"], bytes | None]


@dataclass(frozen=True, slots=True)
class ClientTlsSettings:
    """A server line's TLS options, as the contexts need them (hashable: shared contexts)."""

    verify: bool  # verify required
    ca_file: str = ""
    crt: str = ""  # client certificate and key (PEM)
    alpn: tuple[str, ...] = field(default=())
    ciphers: str = ""
    min_version: str = ""

    @classmethod
    def of(cls, server: Server) -> ClientTlsSettings:
        return cls(
            verify=server.verify == "required",
            ca_file=server.ca_file,
            crt=server.crt,
            alpn=tuple(server.alpn),
            ciphers=server.ciphers,
            min_version=server.ssl_min_ver,
        )


def new_client_context(settings: ClientTlsSettings, check_names: bool) -> ssl.SSLContext:
    """A client context; raises TlsConfigError naming what is wrong (file, cipher list)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # set below, after verify_mode allows it
    ctx.minimum_version = TLS_VERSIONS.get(settings.min_version, ssl.TLSVersion.TLSv1_2)
    ctx.options |= ssl.OP_NO_COMPRESSION
    if settings.verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if settings.ca_file:
            try:
                ctx.load_verify_locations(cafile=settings.ca_file)
            except (OSError, ssl.SSLError) as e:
                reason = getattr(e, "strerror", None) or getattr(e, "reason", None) or str(e)
                raise TlsConfigError(
                    f"cannot load CA file '{settings.ca_file}' ({reason})"
                ) from None
        ctx.check_hostname = check_names
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if settings.crt:
        try:
            ctx.load_cert_chain(settings.crt)
        except OSError as e:
            raise TlsConfigError(
                f"cannot read certificate file '{settings.crt}': {e.strerror}"
            ) from None
        except ssl.SSLError as e:
            raise TlsConfigError(
                f"'{settings.crt}' does not hold a usable certificate and private key "
                f"({e.reason or e})"
            ) from None
    set_ciphers(ctx, settings.ciphers)
    if settings.alpn:
        ctx.set_alpn_protocols(list(settings.alpn))
    return ctx


def check_client_settings(settings: ClientTlsSettings) -> None:
    """For the loader: build the context once so that a bad file or list is an error now."""
    new_client_context(settings, check_names=False)


def check_sni(text: str) -> tuple[str, str] | None:
    """For the loader: None when ``text`` is an expression lb evaluates as an SNI;
    otherwise ("error" | "not-yet", message)."""
    from lb.acl.errors import RuleError
    from lb.acl.syntax import parse_whole

    try:
        expr = parse_whole(text)
    except RuleError as e:
        return "error", f"invalid expression '{text}': {e}"
    if expr.fetch.name not in SNI_FETCHES:
        return "not-yet", f"fetch '{expr.fetch.name}' in an sni expression"
    return None


def compile_sni(text: str, proxy: Proxy, config: Config, source: object) -> SniValue:
    """The expression as a function of (HttpTxn, Runtime): the name to send, or None."""
    from lb.acl.context import Ctx, Shared, read_file
    from lb.acl.errors import Strict
    from lb.acl.sample import compile_text
    from lb.acl.values import to_str

    ctx = Ctx(Shared(config, read_file, Strict()), proxy, "req", source)  # type: ignore[arg-type]
    one = compile_text(text, ctx).one

    def value(t: HttpTxn, r: Runtime) -> bytes | None:
        v = one(t, r)
        return None if v is None else to_str(v)

    return value


class ServerTls:
    """What a worker needs to open TLS connections to one server."""

    __slots__ = ("named", "sni", "unnamed")

    def __init__(
        self, unnamed: ssl.SSLContext, named: ssl.SSLContext | None, sni: SniValue | None
    ) -> None:
        self.unnamed = unnamed  # no SNI: names not checked
        self.named = named  # with an SNI under verify required: the names must match it
        self.sni = sni  # None: no SNI is sent

    def server_name(self, txn: HttpTxn | None, runtime: Runtime) -> str:
        """The SNI for this request or connection ("" = none)."""
        sni = self.sni
        if sni is None or txn is None:
            return ""
        value = sni(txn, runtime)
        if not value:
            return ""
        name = value.decode("ascii", "replace")
        # a Host header may carry a port; SNI is a bare host name
        if name[:1] != "[":
            name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
        return name.lower().rstrip(".")

    def context_for(self, name: str) -> tuple[ssl.SSLContext, str]:
        """The context and ``server_hostname`` for a connection sending SNI ``name``
        ("": no SNI; asyncio then neither sends one nor checks names)."""
        if not name:
            return self.unnamed, ""
        return (self.named or self.unnamed), name


def build_server_tls(
    config: Config,
    proxy: Proxy,
    server: Server,
    cache: dict[ClientTlsSettings, tuple[ssl.SSLContext, ssl.SSLContext | None]],
) -> ServerTls | None:
    """Worker boot: the server's TLS (None without ``ssl``); equal settings share contexts."""
    if not server.ssl:
        return None
    settings = ClientTlsSettings.of(server)
    sni = compile_sni(server.sni, proxy, config, server.source) if server.sni else None
    contexts = cache.get(settings)
    if contexts is None:
        unnamed = new_client_context(settings, check_names=False)
        named = new_client_context(settings, check_names=True) if settings.verify else None
        contexts = cache[settings] = (unnamed, named)
    return ServerTls(*contexts, sni)


P = TypeVar("P", bound=asyncio.BaseProtocol)


async def open_tls_connection(
    loop: asyncio.AbstractEventLoop,
    factory: Callable[[], P],
    target: ServerTarget,
    sni: str,
    header: bytes = b"",
    timeout: float = TLS_CONNECT_TIMEOUT,
) -> tuple[asyncio.BaseTransport, P]:
    """A TLS connection to ``target`` sending SNI ``sni`` ("" = none).

    ``header`` (send-proxy) is written in clear before the handshake, as HAProxy does.
    """
    tls = target.tls
    assert tls is not None
    ctx, hostname = tls.context_for(sni)
    if not header:
        return await loop.create_connection(
            factory,
            target.address[0],
            target.address[1],
            ssl=ctx,
            server_hostname=hostname,
            ssl_handshake_timeout=timeout,
        )
    sock = socket.socket(target.family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, target.address)
        await loop.sock_sendall(sock, header)
        return await loop.create_connection(
            factory, sock=sock, ssl=ctx, server_hostname=hostname, ssl_handshake_timeout=timeout
        )
    except BaseException:
        sock.close()
        raise
