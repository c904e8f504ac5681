"""``HttpTxn``: one request (and later its response) as the rules see it.

The HTTP session fills it once per request; fetches read it and rules rewrite it in
place. What several fetches need (the path/query split, lower-case header names,
the parsed client address, the decoded credentials) is computed on first use and
kept until a rule changes what it was computed from.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lb.sticktable.track import Tracking

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_UNSET: Any = object()


class HttpTxn:
    __slots__ = (
        "_auth",
        "_dst_ip",
        "_names",
        "_path",
        "_query",
        "_resp_names",
        "_split",
        "_src_ip",
        "backend",
        "dst",
        "dst_port",
        "frontend",
        "headers",
        "method",
        "reason",
        "resp_headers",
        "resp_version",
        "sc",
        "src",
        "src_port",
        "ssl_fc",
        "ssl_fc_sni",
        "status",
        "url",
        "vars",
        "version",
    )

    def __init__(
        self,
        method: bytes,
        url: bytes,
        version: str,
        headers: list[tuple[bytes, bytes]],
        src: str = "",
        src_port: int = 0,
        dst: str = "",
        dst_port: int = 0,
        frontend: str = "",
        backend: str = "",
    ) -> None:
        self.method = method
        self.url = url  # the request target as received ("/a?b", "http://h/a", "*")
        self.version = version  # "1.0" / "1.1"
        self.headers = headers  # in order, names as received
        self.src = src
        self.src_port = src_port
        self.dst = dst
        self.dst_port = dst_port
        self.frontend = frontend
        self.backend = backend  # "" until one is chosen
        self.ssl_fc = False  # the client connection is TLS (bind … ssl)
        self.ssl_fc_sni: bytes | None = None  # the server name it sent (SNI), if any
        self.vars: dict[str, object] | None = None  # "txn.name" → value (set-var)
        self.sc: Tracking | None = None  # the sticky counters tracked (lb.sticktable.track)
        self.status = 0  # the response's, once there is one
        self.reason = b""
        self.resp_version = "1.1"
        self.resp_headers: list[tuple[bytes, bytes]] | None = None
        self._split = False
        self._path: bytes | None = None
        self._query: bytes | None = None
        self._names: list[bytes] | None = None
        self._resp_names: list[bytes] | None = None
        self._src_ip: IPAddress | None = _UNSET
        self._dst_ip: IPAddress | None = _UNSET
        self._auth: tuple[bytes, bytes] | None = _UNSET

    # ------------------------------------------------------------------ the response

    def set_response(
        self, status: int, headers: list[tuple[bytes, bytes]], reason: bytes = b""
    ) -> None:
        """Before http-response rules run: the server's status line and headers."""
        self.status = status
        self.reason = reason
        self.resp_headers = headers
        self._resp_names = None

    # ------------------------------------------------------------------ lazy caches

    def path(self) -> bytes | None:
        """The path as HAProxy's ``path`` sees it: from the first slash (after any
        scheme and authority) up to the question mark; None for ``*``."""
        if not self._split:
            self._do_split()
        return self._path

    def query(self) -> bytes | None:
        """After the first ``?``; None without one, ``b""`` for a bare ``?``."""
        if not self._split:
            self._do_split()
        return self._query

    def _do_split(self) -> None:
        url = self.url
        start = path_start(url)
        q = url.find(b"?")
        if q < 0:
            self._query = None
            self._path = url[start:] if start >= 0 else None
        else:
            self._query = url[q + 1 :]
            self._path = url[start:q] if 0 <= start <= q else None
        self._split = True

    def set_url(self, url: bytes) -> None:
        self.url = url
        self._split = False

    def names(self) -> list[bytes]:
        """Lower-case request header names, index for index with ``headers``."""
        names = self._names
        if names is None:
            names = self._names = [n.lower() for n, _ in self.headers]
        return names

    def resp_names(self) -> list[bytes]:
        names = self._resp_names
        if names is None:
            names = self._resp_names = [n.lower() for n, _ in self.resp_headers or ()]
        return names

    def headers_changed(self) -> None:
        """After any change to ``headers`` made outside the rules."""
        self._names = None
        self._auth = _UNSET

    def resp_headers_changed(self) -> None:
        self._resp_names = None

    def src_ip(self) -> IPAddress | None:
        ip = self._src_ip
        if ip is _UNSET:
            ip = self._src_ip = _parse_ip(self.src)
        return ip

    def dst_ip(self) -> IPAddress | None:
        ip = self._dst_ip
        if ip is _UNSET:
            ip = self._dst_ip = _parse_ip(self.dst)
        return ip

    def basic_auth(self) -> tuple[bytes, bytes] | None:
        """(user, password) of the first Authorization header when it is Basic."""
        auth = self._auth
        if auth is _UNSET:
            auth = self._auth = _decode_basic(self)
        return auth


def path_start(url: bytes) -> int:
    """Index where the path starts in a request target, or -1 when there is none."""
    if url[:1] == b"/":
        return 0
    scheme = url.find(b"://")
    if scheme < 0:
        return -1
    return url.find(b"/", scheme + 3)


def _parse_ip(text: str) -> IPAddress | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _decode_basic(txn: HttpTxn) -> tuple[bytes, bytes] | None:
    import binascii

    names = txn.names()
    try:
        value = txn.headers[names.index(b"authorization")][1]
    except ValueError:
        return None
    scheme, _, token = value.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = binascii.a2b_base64(token.strip())
    except binascii.Error:
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    return user, password
