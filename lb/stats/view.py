"""What a request asked to see: ``stats scope``, ``?scope=``, ``;up``, ``;no-maint``."""

from __future__ import annotations

from dataclasses import dataclass, replace

from lb.stats.snapshot import ProxyRows, Row, Snapshot


@dataclass(frozen=True, slots=True)
class View:
    scope: str = ""  # ?scope=TEXT: proxies whose name contains TEXT (any case)
    allowed: frozenset[str] | None = None  # "stats scope": these proxies only (None = all)
    up_only: bool = False  # ;up — hide servers that are down or in maintenance
    no_maint: bool = False  # ;no-maint — hide servers in maintenance

    def shows(self, proxy: str) -> bool:
        if self.allowed is not None and proxy not in self.allowed:
            return False
        return not self.scope or self.scope.lower() in proxy.lower()


def _hidden(view: View, row: Row) -> bool:
    state = row.state
    if state is None:
        return False
    if view.no_maint and state.maint:
        return True
    return view.up_only and (state.maint or not state.up)


def select(snapshot: Snapshot, view: View) -> list[ProxyRows]:
    """The proxies and rows ``view`` shows (the snapshot itself is left untouched)."""
    out: list[ProxyRows] = []
    for proxy in snapshot.proxies:
        if not view.shows(proxy.name):
            continue
        if not (view.up_only or view.no_maint):
            out.append(proxy)
            continue
        servers = [s for s in proxy.servers if not _hidden(view, s)]
        backend = proxy.backend
        if backend is not None and view.up_only:
            # as HAProxy's page does when it hides servers: say how many are usable
            backend = replace(
                backend,
                status=f"{backend.status} ({backend.act + backend.bck}/{len(proxy.servers)})",
            )
        out.append(replace(proxy, servers=servers, backend=backend))
    return out
