"""What one http frontend does, resolved once per configuration from the frontend,
its backend and global: timeouts, limits, connection mode, headers, error pages."""

from __future__ import annotations

from collections.abc import Callable

from lb.acl import HttpTxn, ProxyRules, Runtime
from lb.config.model import Global, Proxy
from lb.stats.counters import ObjectCounters
from lb.worker.backends import Backend, ServerTarget
from lb.worker.http.compression import CompressionPolicy
from lb.worker.http.errors import ErrorResponses
from lb.worker.http.head import ForwardFor
from lb.worker.http.persistence import CookieRules

_MODE_RANK = {"keep-alive": 0, "server-close": 1, "close": 2}


def _seconds(ms: int | None) -> float:
    return (ms or 0) / 1000.0


class HttpSettings:
    __slots__ = (
        "abortonclose",
        "backend",
        "backend_name",
        "be_stats",
        "bufsize",
        "client_timeout",
        "compression",
        "connect_timeout",
        "connection_mode",
        "cookie",
        "errors",
        "forwardfor",
        "http_request_timeout",
        "keep_alive_timeout",
        "maxhdr",
        "response_rules",
        "reuse",
        "rules",
        "server_timeout",
        "servers_by_name",
        "srv_stats",
        "stats",
        "stats_admin",
        "tarpit_timeout",
        "tunnel_timeout",
    )

    def __init__(
        self,
        frontend: Proxy,
        backend_proxy: Proxy | None,
        backend: Backend | None,
        g: Global,
        errorfiles: dict[int, bytes],
        frontend_rules: ProxyRules | None = None,
        backend_rules: ProxyRules | None = None,
        counters: tuple[ObjectCounters, list[ObjectCounters]] | None = None,
    ) -> None:
        self.backend = backend
        self.backend_name = backend_proxy.name if backend_proxy is not None else ""
        self.servers_by_name: dict[str, ServerTarget] = (
            {t.name: t for t in backend.servers} if backend is not None else {}
        )
        # the backend's compiled rules (None: it has none); for a listen, the frontend's
        has_rules = backend_rules is not None and not backend_rules.empty
        self.rules = backend_rules if has_rules else None
        self.response_rules = any(
            r is not None and r.has_response_rules for r in (frontend_rules, backend_rules)
        )
        # counters (lb.stats): the backend's, and its servers' by index (the worker's,
        # shared with tcp mode; without a backend or a worker, counted here and unpublished)
        if counters is None:
            servers = backend.servers if backend is not None else []
            counters = (ObjectCounters(), [ObjectCounters() for _ in servers])
        self.be_stats, self.srv_stats = counters
        # the stats page: the backend's settings (a listen's own), else the frontend's
        self.stats = (backend_proxy.stats if backend_proxy is not None else None) or frontend.stats
        self.stats_admin: list[Callable[[HttpTxn, Runtime], bool]] = []  # set by the worker
        cookie = backend_proxy.cookie if backend_proxy is not None else None
        self.cookie = CookieRules(cookie) if cookie is not None else None
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
        # compression algo/type/offload (None: never compress, one check per request)
        self.compression = CompressionPolicy.build(frontend, backend_proxy)
        self.errors = ErrorResponses(errorfiles)
        # HAProxy: timeout tarpit defaults to timeout connect
        tarpit = bt.tarpit if bt.tarpit is not None else ft.tarpit
        self.tarpit_timeout = _seconds(tarpit) if tarpit is not None else self.connect_timeout
