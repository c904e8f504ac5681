"""Serving the stats page and /metrics: request in, (status, headers, body) out.

The worker's HTTP session calls ``handle_stats_request`` for a request whose target starts
with the proxy's ``stats uri`` (``stats_match``), and ``handle_prometheus_request`` for the
``prometheus-exporter`` service. Both read a fresh snapshot through ``source`` (a worker's
``SnapshotSource``): the sums the master published at most a second ago (lb.stats.source),
no cache of the rendered answer.

Returned headers always carry Content-Length; for HEAD the body is empty.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from lb.config.model import StatsSettings
from lb.stats.admin import commands_for, parse_form
from lb.stats.render_html import PageOptions, render_html, series_json
from lb.stats.render_prom import CONTENT_TYPE as PROM_TYPE
from lb.stats.render_prom import parse_scopes, render_prometheus
from lb.stats.render_text import render_csv, render_json
from lb.stats.snapshot import Snapshot
from lb.stats.view import View, select

Response = tuple[int, list[tuple[bytes, bytes]], bytes]
DEFAULT_REALM = "lb Statistics"
MAX_FORM = 64 * 1024  # the admin form is a few lines; more is not a form


class Source(Protocol):
    def take(self, history: bool = False) -> Snapshot: ...


AdminSink = Callable[[str], bool]  # sends one runtime API command to the master


def stats_match(settings: StatsSettings | None, target: bytes) -> bool:
    """Whether a request target is for the stats page (its URI is a prefix, as in HAProxy)."""
    return settings is not None and target.startswith(settings.uri.encode())


def admin_static(settings: StatsSettings) -> bool | None:
    """The ``stats admin`` conditions when they need no request: ``if TRUE``, ``unless FALSE``
    (True), ``if FALSE``… (False); None when an ACL must be evaluated (lb.acl's job)."""
    if not settings.admin:
        return False
    result = False
    for words in settings.admin:
        if len(words) != 2 or words[1] not in ("TRUE", "FALSE"):
            return None
        value = words[1] == "TRUE"
        if words[0] == "unless":
            value = not value
        result = result or value
    return result


@dataclass(frozen=True, slots=True)
class Target:
    """What the part of the target after the stats URI asks for."""

    csv: bool = False
    json: bool = False
    history: bool = False
    up: bool = False
    no_maint: bool = False
    norefresh: bool = False
    scope: str = ""
    message: str = ""

    @classmethod
    def parse(cls, rest: str) -> Target:
        flags: set[str] = set()
        message = ""
        scope = ""
        for part in rest.replace("?", ";").replace("&", ";").split(";"):
            if part.startswith("st="):
                message = part[3:]
            elif part.startswith("scope="):
                scope = unquote(part[6:].replace("+", " "))
            else:
                flags.add(part)
        return cls(
            csv="csv" in flags,
            json="json" in flags,
            history="history" in flags,
            up="up" in flags,
            no_maint="no-maint" in flags,
            norefresh="norefresh" in flags,
            scope=scope,
            message=message,
        )


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _authorized(settings: StatsSettings, headers: list[tuple[bytes, bytes]]) -> bool:
    if not settings.auth:
        return True
    value = _header(headers, b"authorization")
    if value is None:
        return False
    scheme, _, token = value.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    user, sep, password = decoded.partition(b":")
    if not sep:
        return False
    ok = False
    for entry in settings.auth:
        # compare everything, every time: no early exit that would time the match
        ok |= hmac.compare_digest(user, entry.user.encode()) & hmac.compare_digest(
            password, entry.password.encode()
        )
    return ok


def same_origin(headers: list[tuple[bytes, bytes]]) -> bool:
    """CSRF defence for the admin form: the Origin (else Referer) must name our Host.

    Browsers send Origin with every cross-site POST; a request with neither header comes
    from a script or a command-line client, not from another site's page.
    """
    host = _header(headers, b"host")
    origin = _header(headers, b"origin")
    referer = _header(headers, b"referer")
    if origin is None and referer is None:
        return True
    if host is None:
        return False
    claimed = origin if origin is not None else referer
    assert claimed is not None
    if claimed == b"null":
        return False
    try:
        netloc = urlsplit(claimed.decode("latin-1")).netloc
    except ValueError:
        return False
    return netloc.lower() == host.decode("latin-1").strip().lower()


def _response(
    status: int,
    content_type: str,
    body: bytes,
    method: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> Response:
    headers = [
        (b"Cache-Control", b"no-cache"),
        (b"Content-Type", content_type.encode()),
        (b"Content-Length", str(len(body)).encode()),
        *(extra or []),
    ]
    return status, headers, b"" if method == b"HEAD" else body


def _unauthorized(settings: StatsSettings, method: bytes) -> Response:
    realm = (settings.realm or DEFAULT_REALM).replace('"', "'")
    body = (
        b"<html><body><h1>401 Unauthorized</h1>\n"
        b"You need a valid user and password to access this content.\n</body></html>\n"
    )
    return _response(
        401, "text/html", body, method, [(b"WWW-Authenticate", f'Basic realm="{realm}"'.encode())]
    )


def _redirect(location: str, method: bytes) -> Response:
    return _response(303, "text/plain", b"", method, [(b"Location", location.encode())])


def _view(settings: StatsSettings, proxy_name: str, target: Target) -> View:
    allowed = None
    if settings.scope:
        allowed = frozenset(proxy_name if s == "." else s for s in settings.scope)
    return View(scope=target.scope, allowed=allowed, up_only=target.up, no_maint=target.no_maint)


def handle_stats_request(
    settings: StatsSettings,
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    source: Source,
    *,
    proxy_name: str = "",
    body: bytes = b"",
    admin_allowed: bool | None = None,
    admin_sink: AdminSink | None = None,
) -> Response:
    """Answer one request for the stats page.

    ``admin_allowed`` is what the proxy's ``stats admin`` condition gave for this request
    (the caller evaluates ACL conditions); None takes ``if TRUE``/``FALSE`` as written and
    refuses anything else. ``admin_sink`` sends a runtime API command to the master.
    ``body`` is the request body (the admin form of a POST).
    """
    if not _authorized(settings, headers):
        return _unauthorized(settings, method)
    uri = settings.uri
    text = target.decode("latin-1")
    parsed = Target.parse(text[len(uri) :] if text.startswith(uri) else "")
    view = _view(settings, proxy_name, parsed)
    admin = admin_allowed if admin_allowed is not None else bool(admin_static(settings))
    if method == b"POST":
        return _post(settings, headers, body, source, admin, admin_sink, view)
    if method not in (b"GET", b"HEAD"):
        return _response(
            405, "text/plain", b"Method not allowed.\n", method, [(b"Allow", b"GET, HEAD, POST")]
        )
    snapshot = source.take(history=parsed.history or not (parsed.csv or parsed.json))
    proxies = select(snapshot, view)
    if parsed.history:
        shown = {p.name for p in proxies}
        data = {n: series_json(s) for n, s in snapshot.history.items() if n in shown}
        return _response(
            200, "application/json", json.dumps(data, separators=(",", ":")).encode(), method
        )
    if parsed.csv:
        return _response(200, "text/plain", render_csv(proxies).encode(), method)
    if parsed.json:
        return _response(200, "application/json", render_json(proxies).encode(), method)
    refresh = None if parsed.norefresh or not settings.refresh else max(1, settings.refresh // 1000)
    opts = PageOptions(
        uri=uri,
        view=view,
        refresh=refresh,
        hide_version=settings.hide_version,
        node=None if settings.show_node is None else settings.show_node or snapshot.process.node,
        desc=None
        if settings.show_desc is None
        else settings.show_desc or snapshot.process.description,
        admin=admin,
        message=parsed.message,
    )
    page = render_html(snapshot, proxies, opts).encode()
    extra = [(b"Refresh", str(refresh).encode())] if refresh else []
    return _response(200, "text/html; charset=utf-8", page, method, extra)


def _post(
    settings: StatsSettings,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    source: Source,
    admin: bool,
    sink: AdminSink | None,
    view: View,
) -> Response:
    uri = settings.uri
    if not same_origin(headers):
        return _response(403, "text/plain", b"Cross-origin admin request refused.\n", b"POST")
    if not admin or sink is None:
        return _redirect(f"{uri};st=DENY", b"POST")
    if len(body) > MAX_FORM:
        return _redirect(f"{uri};st=EXCD", b"POST")
    form = parse_form(body)
    if form is None:
        return _redirect(f"{uri};st=ERRP", b"POST")
    snapshot = source.take()
    proxy = None
    for p in snapshot.proxies:
        if f"#{p.iid}" == form.backend or p.name == form.backend:
            proxy = p
            break
    if proxy is None or proxy.backend is None or not view.shows(proxy.name):
        return _redirect(f"{uri};st=ERRP", b"POST")
    if not form.servers:
        return _redirect(f"{uri};st=NONE", b"POST")
    known = {s.name for s in proxy.servers}
    commands = commands_for(form, proxy.name)
    sent = sum(
        1
        for server, command in zip(form.servers, commands, strict=True)
        if server in known and sink(command)
    )
    status = "DONE" if sent == len(commands) else "PART" if sent else "ERRP"
    return _redirect(f"{uri};st={status}", b"POST")


def handle_prometheus_request(method: bytes, target: bytes, source: Source) -> Response:
    """``http-request use-service prometheus-exporter``: the whole exposition, or the
    scopes asked for (``?scope=backend&scope=server``, ``?no-maint``)."""
    if method not in (b"GET", b"HEAD"):
        return _response(
            405, "text/plain", b"Method not allowed.\n", method, [(b"Allow", b"GET, HEAD")]
        )
    _, _, query = target.decode("latin-1").partition("?")
    scopes, no_maint = parse_scopes(parse_qsl(query, keep_blank_values=True))
    body = render_prometheus(source.take(), scopes, no_maint).encode()
    return _response(200, PROM_TYPE, body, method)
