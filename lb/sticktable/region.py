"""The master's stick tables: one memfd each, handed to every worker by fd.

A table is identified by its proxy's name and its definition (``StickTable.signature``:
type, key length, size, stored data). A reload that keeps both keeps the same memfd, so
the entries and their counters live on; a changed definition gets a fresh, empty table
(the old generation's workers keep theirs until they exit). Once a second the master
sweeps every table: expired entries go, and past ``size`` the least recently used ones.
"""

from __future__ import annotations

from lb import log
from lb.config.model import Config
from lb.sticktable.layout import layout_for
from lb.sticktable.table import StickTable, now_ms

SWEEP_INTERVAL_MS = 1000

TableId = tuple[str, str]  # (name, signature)


def configured(config: Config) -> dict[str, TableId]:
    """Name → identity of every table ``config`` declares (disabled proxies' too: a
    fetch may name them)."""
    return {
        p.name: (p.name, p.stick_table.signature())
        for p in config.proxies
        if p.stick_table is not None
    }


class TableRegions:
    def __init__(self) -> None:
        self.tables: dict[TableId, StickTable] = {}
        self._stuck: dict[TableId, set[int]] = {}
        self._next_sweep = 0

    def ensure(self, config: Config) -> dict[str, int]:
        """Create what ``config`` needs and is missing; name → fd for the workers."""
        out: dict[str, int] = {}
        for proxy in config.proxies:
            spec = proxy.stick_table
            if spec is None:
                continue
            tid = (proxy.name, spec.signature())
            table = self.tables.get(tid)
            if table is None:
                table = self.tables[tid] = StickTable.create(
                    proxy.name, layout_for(spec), spec.nopurge
                )
                self._stuck[tid] = set()
            out[proxy.name] = table.fd
        return out

    def of(self, config: Config) -> dict[str, StickTable]:
        """The tables ``config``'s workers use, by name (``show table``)."""
        ids = configured(config)
        return {name: self.tables[tid] for name, tid in ids.items() if tid in self.tables}

    def prune(self, configs: list[Config]) -> None:
        """Close the tables no running generation uses any more."""
        wanted = {tid for c in configs for tid in configured(c).values()}
        for tid in [t for t in self.tables if t not in wanted]:
            self.tables.pop(tid).close()
            self._stuck.pop(tid, None)

    def tick(self) -> None:
        now = now_ms()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL_MS
        for tid, table in self.tables.items():
            try:
                table.sweep(now, self._stuck[tid])
            except Exception as exc:  # a sweep bug must not take the master down
                log.alert(f"stick table '{table.name}': sweep failed: {exc!r}")

    def close(self) -> None:
        for table in self.tables.values():
            table.close()
        self.tables.clear()


def attach_tables(config: Config, fds: dict[str, int]) -> dict[str, StickTable]:
    """A worker maps the tables the master handed it (name → memfd)."""
    out: dict[str, StickTable] = {}
    for proxy in config.proxies:
        spec = proxy.stick_table
        if spec is not None and proxy.name in fds:
            out[proxy.name] = StickTable.attach(
                proxy.name, layout_for(spec), fds[proxy.name], spec.nopurge
            )
    return out
