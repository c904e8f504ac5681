"""Shared fixtures for the statistics tests: a configuration from text, a region, a master."""

from __future__ import annotations

import textwrap
from pathlib import Path

import lb.config
from lb.config.model import Config
from lb.stats.counters import WorkerStats
from lb.stats.master import StatsMaster, geometry_for
from lb.stats.objects import ids_from_boot
from lb.stats.shm import GaugeNames, GaugeTable, SharedRegion

CONFIG = """
global
    maxconn 1000
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:18080
    default_backend app
backend app
    server s1 127.0.0.1:19001 maxconn 10
    server s2 127.0.0.1:19002 backup
frontend db
    mode tcp
    bind 127.0.0.1:15432
    default_backend pg
backend pg
    mode tcp
    server p1 127.0.0.1:15433 disabled
    server p2 127.0.0.1:15434
"""


def load(tmp: Path, text: str = CONFIG, unsupported: str = "error") -> Config:
    path = tmp / "lb.cfg"
    path.write_text(textwrap.dedent(text))
    result = lb.config.load_files([str(path)], unsupported=unsupported)  # type: ignore[arg-type]
    assert result.ok and result.config is not None, [str(d) for d in result.diagnostics]
    return result.config


class Rig:
    """A region and a master as the arbiter has them, and workers' counters."""

    def __init__(self, config: Config, nworkers: int = 2) -> None:
        self.config = config
        self.region = SharedRegion.create(4096, geometry_for(config, nworkers))
        self.gauges = GaugeTable(self.region.capacity)
        self.stats = StatsMaster(self.region, self.gauges)
        self.next_pid = 1000
        # the gauges the arbiter hands out at spawn
        for proxy in config.proxies:
            if proxy.has_frontend:
                self.gauges.slot(GaugeNames.frontend_cur_conns(proxy.name))
            for server in proxy.servers:
                self.gauges.slot(GaugeNames.server_cur_conns(proxy.name, server.name))
        self.gauges.slot(GaugeNames.GLOBAL_CUR_CONNS)
        self.gauges.slot(GaugeNames.GLOBAL_CUM_CONNS)

    def worker(self, slot: int = 0, generation: int = 1) -> tuple[int, WorkerStats]:
        entries = self.stats.boot_entries(self.config, slot, generation)
        pid = self.next_pid
        self.next_pid += 1
        self.stats.worker_started(pid, entries)
        ids, slab = ids_from_boot(entries)
        return pid, WorkerStats(self.region.stats, slab, ids)

    def set_gauge(self, name: str, value: int) -> None:
        index = self.region.counter_index(self.gauges.slot(name))
        self.region.counters.store(index, value)

    def close(self) -> None:
        self.region.close()
