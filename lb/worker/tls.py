"""TLS termination on ``bind … ssl crt …`` listeners (mode http).

A crt file is HAProxy's PEM: the certificate, its chain and the private key in one file;
a directory stands for every ``*.pem`` in it, in name order. Each file becomes one
``ssl.SSLContext``; the first is the listener's default, and SNI switches a handshake to
the context whose certificate names the requested host (exact names first, then
wildcards; the first crt that matches wins, as in HAProxy).

The configuration loader calls ``crt_files`` and ``load_certificate`` so that ``lb -c``
reports a missing or broken file at its line; the worker calls ``build_listener_tls``
at boot, before any chroot or privilege drop.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field

TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
ALPN_SUPPORTED = ("http/1.1", "http/1.0")  # lb speaks HTTP/1.x to clients


class TlsConfigError(Exception):
    """A certificate or TLS setting that cannot be used; the message names the cause."""


@dataclass(slots=True)
class TlsSettings:
    """What one ``bind`` line says about TLS (the model's fields, gathered)."""

    crt_files: list[str]
    alpn: list[str] = field(default_factory=list)
    min_version: str = ""  # "" = the library's default floor (TLSv1.2)
    ciphers: str = ""


def crt_files(path: str) -> list[str]:
    """The PEM files a ``crt`` argument stands for: the file, or a directory's ``*.pem``."""
    if os.path.isdir(path):
        try:
            names = sorted(n for n in os.listdir(path) if n.endswith(".pem"))
        except OSError as e:
            raise TlsConfigError(f"cannot read directory '{path}': {e.strerror}") from None
        files = [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
        if not files:
            raise TlsConfigError(f"no '*.pem' certificate in directory '{path}'")
        return files
    if not os.path.exists(path):
        raise TlsConfigError(f"certificate file '{path}' does not exist")
    return [path]


def new_context(settings: TlsSettings) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS.get(settings.min_version, ssl.TLSVersion.TLSv1_2)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    set_ciphers(ctx, settings.ciphers)
    if settings.alpn:
        ctx.set_alpn_protocols(settings.alpn)
    return ctx


def set_ciphers(ctx: ssl.SSLContext, ciphers: str) -> None:
    """``ciphers LIST`` (TLS 1.2 and below), for listeners and servers alike."""
    if ciphers:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise TlsConfigError(f"no usable cipher in '{ciphers}'") from None


def load_certificate(ctx: ssl.SSLContext, path: str) -> list[str]:
    """Load ``path`` (chain + key) into ``ctx``; return the names its certificate serves."""
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise TlsConfigError(f"cannot read certificate file '{path}': {e.strerror}") from None
    try:
        ctx.load_cert_chain(path)
    except ssl.SSLError as e:
        reason = e.reason or str(e)
        raise TlsConfigError(
            f"'{path}' does not hold a usable certificate and private key ({reason})"
        ) from None
    return certificate_names(path)


def certificate_names(path: str) -> list[str]:
    """The DNS names of the file's first certificate (subjectAltName, else the CN), lower case."""
    try:
        decoded = ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined]
    except (ssl.SSLError, OSError, ValueError):
        return []
    names = [v.lower() for k, v in decoded.get("subjectAltName", ()) if k == "DNS"]
    if not names:
        for rdn in decoded.get("subject", ()):
            names += [v.lower() for k, v in rdn if k == "commonName"]
    return names


class ListenerTls:
    """The contexts of one TLS listener and the SNI choice between them."""

    __slots__ = ("default", "exact", "wildcard")

    def __init__(self, settings: TlsSettings) -> None:
        self.exact: dict[str, ssl.SSLContext] = {}
        self.wildcard: dict[str, ssl.SSLContext] = {}  # "example.com" for "*.example.com"
        default: ssl.SSLContext | None = None
        for path in settings.crt_files:
            ctx = new_context(settings)
            for name in load_certificate(ctx, path):
                if name.startswith("*."):
                    self.wildcard.setdefault(name[2:], ctx)
                else:
                    self.exact.setdefault(name, ctx)
            if default is None:
                default = ctx
        if default is None:
            raise TlsConfigError("no certificate")
        self.default = default
        default.sni_callback = self._on_sni

    def context_for(self, server_name: str) -> ssl.SSLContext | None:
        name = server_name.lower().rstrip(".")
        ctx = self.exact.get(name)
        if ctx is None:
            _, dot, parent = name.partition(".")
            if dot:
                ctx = self.wildcard.get(parent)
        return ctx

    def _on_sni(
        self, ssl_object: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext
    ) -> None:
        # remembered for ssl_fc_sni (the server side of an SSLObject has no server_hostname)
        ssl_object.lb_sni = server_name  # type: ignore[attr-defined]
        if server_name:
            ctx = self.context_for(server_name)
            if ctx is not None and ctx is not ssl_object.context:
                ssl_object.context = ctx


def sni_of(ssl_object: object) -> str | None:
    """The server name the client sent (None without SNI)."""
    return getattr(ssl_object, "lb_sni", None)
