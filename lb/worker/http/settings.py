"""What one http frontend does, resolved once per configuration from the frontend,
its backend and global: timeouts, limits, connection mode, headers, error pages."""

from __future__ import annotations

from lb.config.model import Global, Proxy
from lb.worker.backends import Backend
from lb.worker.http.errors import ErrorResponses
from lb.worker.http.head import ForwardFor

_MODE_RANK = {"keep-alive": 0, "server-close": 1, "close": 2}


def _seconds(ms: int | None) -> float:
    return (ms or 0) / 1000.0


class HttpSettings:
    __slots__ = (
        "abortonclose",
        "backend",
        "bufsize",
        "client_timeout",
        "connect_timeout",
        "connection_mode",
        "errors",
        "forwardfor",
        "http_request_timeout",
        "keep_alive_timeout",
        "maxhdr",
        "reuse",
        "server_timeout",
        "tunnel_timeout",
    )

    def __init__(
        self,
        frontend: Proxy,
        backend_proxy: Proxy | None,
        backend: Backend | None,
        g: Global,
        errorfiles: dict[int, bytes],
    ) -> None:
        self.backend = backend
        self.bufsize = g.tune_bufsize
        self.maxhdr = g.tune_http_maxhdr
        ft = frontend.timeouts
        bt = backend_proxy.timeouts if backend_proxy is not None else ft
        self.client_timeout = _seconds(ft.client)
        # HAProxy: http-request defaults to client; http-keep-alive to http-request.
        self.http_request_timeout = _seconds(ft.http_request or ft.client)
        self.keep_alive_timeout = _seconds(ft.http_keep_alive or ft.http_request or ft.client)
        self.connect_timeout = backend.connect_timeout if backend is not None else 5.0
        self.server_timeout = _seconds(bt.server)
        self.tunnel_timeout = _seconds(bt.tunnel or ft.tunnel or bt.server or ft.client)
        modes = [frontend.http.connection_mode]
        if backend_proxy is not None:
            modes.append(backend_proxy.http.connection_mode)
        # the stricter of frontend and backend wins, as in HAProxy
        self.connection_mode = max(modes, key=_MODE_RANK.__getitem__)
        self.reuse = backend_proxy.http.reuse if backend_proxy is not None else "safe"
        self.abortonclose = backend_proxy is not None and backend_proxy.http.abortonclose
        ff = frontend.http.forwardfor or (
            backend_proxy.http.forwardfor if backend_proxy is not None else None
        )
        self.forwardfor = ForwardFor(ff.header, ff.except_net, ff.if_none) if ff else None
        self.errors = ErrorResponses(errorfiles)
