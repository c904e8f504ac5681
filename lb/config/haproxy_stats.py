"""The ``stats`` keywords of a proxy: the stats page (lb.stats.http serves it).

Any of them enables the page, as in HAProxy; ``stats enable`` alone serves it at the
default URI ``/haproxy?stats``. A ``defaults`` section's settings are inherited.

Handlers take the same arguments as the others of ``haproxy``; they only use the parser's
reporter and the draft, so this module does not import the parser (which imports it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lb.config.model import StatsAuth, StatsSettings
from lb.config.units import parse_time

if TYPE_CHECKING:
    from lb.config.haproxy import HaproxyParser, ProxyDraft
    from lb.config.model import Source

Handler = Callable[["HaproxyParser", "ProxyDraft", str, list[str], "Source"], None]


def _settings(draft: ProxyDraft, src: Source) -> StatsSettings:
    p = draft.proxy
    if p.stats is None:
        p.stats = StatsSettings(source=src)
    return p.stats


def _enable(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if args:
        parser.report.alert(src, f"'stats enable' takes no argument, got '{args[0]}'")
        return
    _settings(draft, src)


def _flag(name: str, attr: str) -> Handler:
    def handle(
        parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
    ) -> None:
        if args:
            parser.report.alert(src, f"'stats {name}' takes no argument, got '{args[0]}'")
            return
        setattr(_settings(draft, src), attr, True)

    return handle


def _one(name: str, attr: str) -> Handler:
    def handle(
        parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
    ) -> None:
        if len(args) != 1:
            parser.report.alert(src, f"'stats {name}' expects exactly one argument")
            return
        setattr(_settings(draft, src), attr, args[0])

    return handle


def _uri(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if len(args) != 1 or not args[0]:
        parser.report.alert(src, "'stats uri' expects a URI prefix")
        return
    _settings(draft, src).uri = args[0]


def _auth(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if len(args) != 1 or ":" not in args[0]:
        parser.report.alert(src, "'stats auth' expects <user>:<password>")
        return
    user, password = args[0].split(":", 1)
    if not user:
        parser.report.alert(src, "'stats auth' expects a user name before ':'")
        return
    _settings(draft, src).auth.append(StatsAuth(user, password))


def _refresh(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if len(args) != 1:
        parser.report.alert(src, "'stats refresh' expects a delay")
        return
    try:
        delay = parse_time(args[0])
    except ValueError as exc:
        parser.report.alert(src, f"'stats refresh': {exc}")
        return
    _settings(draft, src).refresh = delay


def _scope(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if len(args) != 1:
        parser.report.alert(src, "'stats scope' expects a proxy name or '.'")
        return
    _settings(draft, src).scope.append(args[0])


def _optional(name: str, attr: str) -> Handler:
    """``stats show-node [NAME]`` / ``stats show-desc [TEXT]``: "" means the global value."""

    def handle(
        parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
    ) -> None:
        if len(args) > 1:
            parser.report.alert(src, f"'stats {name}' takes at most one argument")
            return
        setattr(_settings(draft, src), attr, args[0] if args else "")

    return handle


def _admin(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if len(args) < 2 or args[0] not in ("if", "unless"):
        parser.report.alert(src, "'stats admin' expects 'if' or 'unless' followed by a condition")
        return
    _settings(draft, src).admin.append(list(args))


HANDLERS: dict[str, Handler] = {
    "stats enable": _enable,
    "stats uri": _uri,
    "stats realm": _one("realm", "realm"),
    "stats auth": _auth,
    "stats refresh": _refresh,
    "stats admin": _admin,
    "stats hide-version": _flag("hide-version", "hide_version"),
    "stats show-node": _optional("show-node", "show_node"),
    "stats show-desc": _optional("show-desc", "show_desc"),
    "stats scope": _scope,
}


def inherit(settings: StatsSettings | None) -> StatsSettings | None:
    """A proxy's copy of its defaults section's settings."""
    if settings is None:
        return None
    return StatsSettings(
        source=settings.source,
        uri=settings.uri,
        realm=settings.realm,
        auth=list(settings.auth),
        refresh=settings.refresh,
        admin=[],  # not allowed in defaults
        hide_version=settings.hide_version,
        show_node=settings.show_node,
        show_desc=settings.show_desc,
        scope=list(settings.scope),
    )
