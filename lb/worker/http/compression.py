"""HTTP response compression (``compression algo|type|offload``): the policy and the
streaming compressors. No I/O: the session asks, feeds and writes.

When a response is compressed follows HAProxy 2.6's documented rules, with two choices
of lb's own (docs/http.md, "Compression"):

- the algorithm: each Accept-Encoding element in the client's order, the highest q-value
  winning (a tie keeps the earlier element), matched case-insensitively against the
  configured algorithms; ``*`` takes the last configured one (HAProxy's list is built by
  prepending), *except* an algorithm the client refused with ``q=0`` — RFC 9110 §12.5.3
  says ``*`` only stands for codings not listed, where HAProxy 2.6 would pick it anyway;
  ``identity`` in the list answers every client that accepts none of the others;
- the response must be HTTP/1.1 to an HTTP/1.1 request other than HEAD, status 200-203,
  framed by Content-Length or chunked, without Content-Encoding, Cache-Control
  no-transform, a multipart Content-Type, an invalid or repeated ETag, and with a
  Content-Type starting with one of ``compression type`` when that is set; lb adds
  that a response whose Content-Length is under ``MIN_SIZE`` is sent as it is (HAProxy
  2.6 has no minimum; the gzip header and trailer alone are 18 bytes, and a compressor
  costs more CPU to set up than such a body saves on the wire).

A compressed response loses its Content-Length (it goes out chunked), gains
``Content-Encoding`` (not for identity) and ``Vary: Accept-Encoding``, and a strong ETag
becomes weak (the bytes differ, the resource does not), as HAProxy does.

Compressors are fed every body piece of a server read and flushed once per read
(Z_SYNC_FLUSH, brotli's flush), as HAProxy flushes per buffer it forwards: a stream of
small events (server-sent events, long polling) reaches the client when the server sends
it instead of waiting in the compressor's window, for a few bytes per read (5 for zlib)
that large bodies, read 64 kB at a time, do not notice.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING

import brotli

if TYPE_CHECKING:
    from lb.config.model import Proxy

# gzip, deflate and raw-deflate are the same DEFLATE stream in three wrappers; ISA-L (the
# isal package) makes it about 4x faster than zlib at level 1, with a better ratio
# (bench/compression.py). zlib stays the fallback where isal is not installed.
deflate_impl: ModuleType
try:
    from isal import isal_zlib as deflate_impl

    DEFLATE_LEVEL = 1  # ISA-L's levels are 0-3
except ImportError:  # pragma: no cover - isal is a dependency
    deflate_impl = zlib
    DEFLATE_LEVEL = 1  # HAProxy's default tune.comp.maxlevel

MIN_SIZE = 1024  # lb's choice: Content-Length under this is not compressed
# a proxy compresses every response of every client: the fast end of each algorithm
BROTLI_QUALITY = 1

# the Content-Encoding / Accept-Encoding token of each algorithm
TOKENS: dict[str, bytes] = {
    "identity": b"identity",
    "gzip": b"gzip",
    "deflate": b"deflate",
    "raw-deflate": b"deflate",  # the same token: HAProxy says use one or the other
    "br": b"br",
}
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}
_COMPRESSIBLE_STATUS = frozenset((200, 201, 202, 203))


class CompressionPolicy:
    """The compression of one frontend + backend pair, as HAProxy combines them: the
    backend's algorithms if it has any, else the frontend's; the same for the types;
    offload if either says so."""

    __slots__ = ("algos", "offload", "types")

    def __init__(self, algos: Sequence[str], types: Sequence[str], offload: bool) -> None:
        # HAProxy's order: last configured first (``*`` and ties between raw-deflate and
        # deflate go to it)
        self.algos: tuple[str, ...] = tuple(reversed(algos))
        self.types: tuple[bytes, ...] = tuple(t.lower().encode("latin-1") for t in types)
        self.offload = offload

    @classmethod
    def build(cls, frontend: Proxy, backend: Proxy | None) -> CompressionPolicy | None:
        """None when neither proxy names an algorithm: nothing is ever compressed."""
        fe = frontend.http.compression
        be = backend.http.compression if backend is not None else None
        algos = (be.algos if be is not None else None) or (fe.algos if fe is not None else [])
        if not algos:
            return None
        types = (be.types if be is not None else None) or (fe.types if fe is not None else [])
        offload = any(c is not None and c.offload for c in (fe, be))
        return cls(algos, types, offload)

    # ------------------------------------------------------------------ request

    def choose(self, headers: Sequence[tuple[bytes, bytes]]) -> str:
        """The algorithm for a request with these headers; "" when none applies."""
        accept: list[bytes] = []
        user_agent = b""
        for name, value in headers:
            if len(name) == 15 and name.lower() == b"accept-encoding":
                accept.append(value)
            elif len(name) == 10 and name.lower() == b"user-agent":
                user_agent = value
        if user_agent and _broken_agent(user_agent):
            return ""
        chosen = self._negotiate(accept) if accept else ""
        if not chosen and "identity" in self.algos:
            return "identity"  # identity does not need the client to ask
        return chosen

    def _negotiate(self, values: list[bytes]) -> str:
        elements = [_element(e) for v in values for e in v.split(b",")]
        refused = {token for token, q in elements if q == 0}
        best_q = 0
        chosen = ""
        for token, q in elements:
            if q <= best_q:
                continue
            for algo in self.algos:
                mine = TOKENS[algo]
                if token == mine or (token == b"*" and mine not in refused):
                    chosen, best_q = algo, q
                    break
        return chosen

    # ------------------------------------------------------------------ response

    def compressible(
        self,
        method: bytes,
        request_version: str,
        status: int,
        response_version: str,
        framed: bool,
        content_length: int | None,
        headers: Sequence[tuple[bytes, bytes]],
    ) -> bool:
        """Whether the response may be compressed (the request chose an algorithm).

        ``framed``: Content-Length or chunked (not delimited by the close);
        ``content_length``: None when chunked; ``headers``: the end-to-end headers.
        """
        if request_version != "1.1" or response_version != "1.1" or method == b"HEAD":
            return False
        if status not in _COMPRESSIBLE_STATUS or not framed:
            return False
        if content_length is not None and content_length < MIN_SIZE:
            return False
        content_type: bytes | None = None
        etags = 0
        for name, value in headers:
            lname = name.lower()
            if lname == b"content-encoding":
                return False
            if lname == b"cache-control":
                if any(w.strip().lower() == b"no-transform" for w in value.split(b",")):
                    return False
            elif lname == b"etag":
                etags += 1
                if etags > 1 or not _valid_etag(value.strip()):
                    return False
            elif lname == b"content-type" and content_type is None:
                content_type = value.strip().lower()
        if content_type is None:
            return not self.types  # a listed type is required when there is a list
        if content_type.startswith(b"multipart"):
            return False
        return not self.types or content_type.startswith(self.types)


def compressed_headers(
    headers: Sequence[tuple[bytes, bytes]], algo: str
) -> list[tuple[bytes, bytes]]:
    """The end-to-end headers of a response compressed with ``algo``."""
    out: list[tuple[bytes, bytes]] = []
    varies = False
    for name, value in headers:
        lname = name.lower()
        if lname == b"etag":
            value = value.strip()
            if value[:1] == b'"':
                value = b"W/" + value
        elif lname == b"vary":
            tokens = {t.strip().lower() for t in value.split(b",")}
            varies = varies or b"accept-encoding" in tokens or b"*" in tokens
        out.append((name, value))
    if algo != "identity":
        out.append((b"content-encoding", TOKENS[algo]))
    if not varies:
        out.append((b"vary", b"Accept-Encoding"))
    return out


def without_accept_encoding(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``compression offload``: the request the server sees asks for no coding."""
    return [kv for kv in headers if kv[0].lower() != b"accept-encoding"]


# ---------------------------------------------------------------------- compressors


class Compressor:
    """One response's compressor. ``feed`` every body piece, ``drain`` after each server
    read (a flush point), ``finish`` at the end of the message. ``fed``: body bytes given
    since the session last counted them."""

    __slots__ = ("_end", "_feed", "_flush", "_out", "algo", "fed", "identity", "pending")

    def __init__(self, algo: str) -> None:
        self.algo = algo
        self.identity = algo == "identity"
        self.fed = 0
        self.pending = False  # fed since the last flush
        self._out: list[bytes] = []
        feed: Callable[[bytes], bytes]
        flush: Callable[[], bytes]
        end: Callable[[], bytes]
        if algo == "br":
            obj = brotli.Compressor(quality=BROTLI_QUALITY)
            feed, flush, end = obj.process, obj.flush, obj.finish
        elif self.identity:
            feed, flush, end = bytes, bytes, bytes
        else:
            impl = deflate_impl
            z = impl.compressobj(DEFLATE_LEVEL, impl.DEFLATED, _WBITS[algo])
            feed = z.compress
            sync, finish = impl.Z_SYNC_FLUSH, impl.Z_FINISH

            def flush() -> bytes:
                return z.flush(sync)

            def end() -> bytes:
                return z.flush(finish)

        self._feed, self._flush, self._end = feed, flush, end

    def feed(self, data: bytes) -> None:
        self.fed += len(data)
        self.pending = True
        out = self._feed(data)
        if out:
            self._out.append(out)

    def drain(self) -> bytes:
        """What the data fed so far compresses to, flushed so the client can decode it."""
        if not self.pending:
            return b""
        self.pending = False
        out = self._out
        out.append(self._flush())
        data = b"".join(out)
        out.clear()
        return data

    def finish(self) -> bytes:
        """The rest of the compressed stream, its trailer included."""
        out = self._out
        out.append(self._end())
        data = b"".join(out)
        out.clear()
        return data


def _element(element: bytes) -> tuple[bytes, int]:
    """One Accept-Encoding element: (coding token in lower case, q-value in thousandths)."""
    token, _, params = element.partition(b";")
    q = 1000
    while params:
        param, _, params = params.partition(b";")
        key, eq, value = param.partition(b"=")
        if eq and key.strip().lower() == b"q":
            q = _qvalue(value.strip())
            break
    return token.strip().lower(), q


def _qvalue(text: bytes) -> int:
    """RFC 9110 qvalue (0, 0.5, 1.000) in thousandths; what does not parse counts as 0."""
    try:
        q = float(text)
    except ValueError:
        return 0
    return int(q * 1000 + 0.5) if 0.0 <= q <= 1.0 else 0


def _valid_etag(value: bytes) -> bool:
    """A strong ("x") or weak (W/"x") entity tag; HAProxy sends anything else as it is."""
    if value[:2] == b"W/":
        value = value[2:]
    return len(value) >= 2 and value[:1] == b'"' and value[-1:] == b'"'


def _broken_agent(user_agent: bytes) -> bool:
    """HAProxy's rule: "Mozilla/4" agents get nothing compressed, except MSIE 6 with XP SP2
    ("SV1") and MSIE 7 and later (old Netscape 4 could not decode it)."""
    ua = user_agent
    if not ua.startswith(b"Mozilla/4"):
        return False
    if len(ua) < 31 or ua[25:30] != b"MSIE " or ua[30:31] < b"6":
        return True
    return ua[30:31] == b"6" and (len(ua) < 54 or ua[51:54] != b"SV1")
