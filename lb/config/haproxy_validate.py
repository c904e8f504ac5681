"""Cross-checks between HAProxy proxies, once every file has been read."""

from __future__ import annotations

from collections.abc import Iterable

from lb.config.haproxy import ProxyDraft
from lb.config.haproxy_servers import check_backend_servers
from lb.config.model import Proxy, Source
from lb.config.report import Reporter


def validate_proxies(drafts: list[ProxyDraft], report: Reporter) -> None:
    _check_duplicate_names(drafts, report)
    backends = _backends_by_name(d.proxy for d in drafts)
    for draft in drafts:
        p = draft.proxy
        if p.has_frontend:
            _check_routes(draft, backends, report)
        if p.disabled:
            continue
        if p.has_frontend and not p.binds:
            report.alert(
                p.source,
                f"{p.kind} '{p.name}' has no 'bind' line; "
                "declare it as a backend if this was intended",
            )
        if p.has_backend and not p.servers and not draft.uses_stats:
            report.warning(p.source, f"{p.kind} '{p.name}' has no server available")
        _check_timeouts(p, report)
        if p.mode == "tcp":
            _drop_http_only_settings(p, report)
        _check_log_format(p, report)
        if p.has_backend:
            check_backend_servers(p, report)


def _check_duplicate_names(drafts: list[ProxyDraft], report: Reporter) -> None:
    # A frontend and a backend may share a name (HAProxy allows it); any proxy
    # whose capabilities overlap with an earlier one of the same name may not.
    seen: dict[str, list[Proxy]] = {}
    for draft in drafts:
        p = draft.proxy
        for other in seen.get(p.name, []):
            if (p.has_frontend and other.has_frontend) or (p.has_backend and other.has_backend):
                report.alert(
                    p.source,
                    f"{p.kind} '{p.name}' has the same name as {other.kind} '{other.name}' "
                    f"declared at {other.source}",
                )
                break
        seen.setdefault(p.name, []).append(p)


def _backends_by_name(proxies: Iterable[Proxy]) -> dict[str, Proxy]:
    backends: dict[str, Proxy] = {}
    for p in proxies:
        if p.has_backend:
            backends.setdefault(p.name, p)
    return backends


def _check_routes(draft: ProxyDraft, backends: dict[str, Proxy], report: Reporter) -> None:
    p = draft.proxy
    routes: list[tuple[str, str, Source]] = [
        ("use_backend", u.backend, u.source) for u in p.use_backends if "%[" not in u.backend
    ]
    if p.default_backend is not None:
        routes.append(
            ("default_backend", p.default_backend, draft.default_backend_source or p.source)
        )
    for keyword, name, src in routes:
        target = backends.get(name)
        if target is None:
            report.alert(src, f"{p.kind} '{p.name}': {keyword} names a missing backend '{name}'")
        elif p.mode != target.mode:
            report.alert(
                src,
                f"{p.kind} '{p.name}' is in {p.mode} mode and cannot use backend '{name}' "
                f"(declared at {target.source}), which is in {target.mode} mode",
            )


def _check_timeouts(p: Proxy, report: Reporter) -> None:
    missing: list[str] = []
    if p.has_frontend and not p.timeouts.client:
        missing.append("client")
    if p.has_backend and not p.timeouts.connect:
        missing.append("connect")
    if p.has_backend and not p.timeouts.server:
        missing.append("server")
    if missing:
        names = ", ".join(f"'timeout {m}'" for m in missing)
        report.warning(
            p.source,
            f"missing timeouts for {p.kind} '{p.name}': {names}. While not properly invalid, "
            "this could lead to connections that never end and to a saturated proxy; "
            "set them to a non-zero value",
        )


def _drop_http_only_settings(p: Proxy, report: Reporter) -> None:
    """What HAProxy does with HTTP-only settings in a tcp proxy (often inherited
    from a ``mode http`` defaults section): warn, then do without."""
    if p.http.forwardfor is not None:
        p.http.forwardfor = None
        report.warning(
            p.source,
            f"'option forwardfor' ignored for {p.kind} '{p.name}' as it requires HTTP mode",
        )
    if p.logs.httplog:
        p.logs.httplog, p.logs.tcplog = False, True
        report.warning(
            p.source,
            f"'option httplog' not usable with {p.kind} '{p.name}' (needs 'mode http'); "
            "falling back to 'option tcplog'",
        )


def _check_log_format(p: Proxy, report: Reporter) -> None:
    logs = p.logs
    if logs.log_format is not None:
        # compiled here once so that `lb -c` reports what a worker could not compile
        from lb.accesslog import LogFormatError, compile_log_format

        try:
            compile_log_format(logs.log_format, mode=p.mode)
        except LogFormatError as exc:
            report.alert(p.source, f"log-format of {p.kind} '{p.name}': {exc}")
    if not p.has_frontend or logs.targets:
        return
    if logs.httplog or logs.tcplog or logs.log_format is not None:
        report.warning(
            p.source,
            f"log format ignored for {p.kind} '{p.name}' since it has no log address "
            "(add 'log global' or a 'log' line)",
        )
