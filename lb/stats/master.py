"""The master's side of the statistics: ids, slabs, folding, and the once-a-second step.

The arbiter calls, in order of a worker's life:

- ``boot_entries(config, slot, generation)`` while it builds the boot message: registers
  the configuration's objects (ids by name) and takes a free slab for the new worker;
- ``worker_started(pid, slab)`` once the process exists;
- ``worker_exited(pid, crashed)`` when it reaps it: the slab is folded into the retired
  accumulator, so totals never go down;

and ``tick()`` from its loop: twice a second it sums the records and publishes the sums (the
aggregate the workers' pages and /metrics read: one copy instead of summing every slab per
request); once a second it also appends a history-ring entry, updates the maxima and
republishes the ``MasterInfo`` the workers show.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from lb import log
from lb.config.model import Config
from lb.stats import collect
from lb.stats.area import SlabField, SlabState, StatsGeometry
from lb.stats.collect import claim_slab, clear, fold, read_totals_bytes
from lb.stats.history import HistoryWriter
from lb.stats.info import MasterInfo, SlotInfo, VrrpInfo, WorkerInfo, encode_info
from lb.stats.objects import (
    BOOT_SLAB,
    ObjectRef,
    ObjectTable,
    ObjKind,
    config_objects,
    ids_for_boot,
)
from lb.stats.shm import GaugeNames, GaugeTable, SharedRegion
from lb.stats.snapshot import Snapshot
from lb.stats.source import SnapshotSource

if TYPE_CHECKING:
    from lb.master.arbiter import Arbiter

TICK = 1.0  # s between history-ring entries
# s between publications of the aggregate: with the loop's 0.1 s granularity and the sum's own
# time, a worker's page is then at most ~0.65 s behind the slabs (collect.MAX_AGE_MS: 1 s)
PUBLISH_INTERVAL = 0.5


def geometry_for(config: Config, nworkers: int) -> StatsGeometry:
    return StatsGeometry.for_load(len(config_objects(config)), nworkers)


class StatsMaster:
    def __init__(self, region: SharedRegion, gauges: GaugeTable) -> None:
        self.region = region
        self.area = region.stats
        self.gauges = gauges
        self.objects = ObjectTable(self.area.max_objects)
        self.refs: dict[int, ObjectRef] = {}
        self.slabs: dict[int, int] = {}  # pid → slab
        self.restarts: dict[int, int] = {}  # slot → workers that died and were replaced
        self.history = HistoryWriter()
        self.last_tick = 0.0
        self.last_publish = 0.0  # time.monotonic() of the last aggregate
        self.info: Callable[[], MasterInfo] = MasterInfo
        self._warned_full = False
        self._sources: dict[int, SnapshotSource] = {}  # id(config) → source

    # ------------------------------------------------------------------ workers

    def register(self, config: Config) -> dict[str, int]:
        ids = self.objects.register(config)
        for ref in config_objects(config):
            ident = ids[ref.key]
            if ident >= 0:
                self.refs[ident] = ref
        if self.objects.overflow and not self._warned_full:
            self._warned_full = True
            log.warning(
                f"statistics: room for {self.objects.capacity} objects only; "
                f"{len(self.objects.overflow)} are not counted (restart lb to make room)"
            )
        return ids

    def boot_entries(self, config: Config, slot: int, generation: int) -> dict[str, int]:
        """Entries to add to a new worker's boot message: object ids and its slab."""
        ids = self.register(config)
        slab = claim_slab(self.area, slot, generation)
        if slab < 0:
            log.warning(f"statistics: no free slab for a worker of slot {slot}; it counts nothing")
        return ids_for_boot(ids, slab)

    def worker_started(self, pid: int, entries: dict[str, int]) -> None:
        slab = entries.get(BOOT_SLAB, -1)
        if slab >= 0:
            self.area.set_table(slab, SlabField.PID, pid)
            self.slabs[pid] = slab
        self.publish()

    def spawn_failed(self, entries: dict[str, int]) -> None:
        """The process never started: its slab is still empty, free it."""
        slab = entries.get(BOOT_SLAB, -1)
        if slab >= 0:
            self.area.set_table(slab, SlabField.STATE, SlabState.FREE)

    def worker_exited(self, pid: int, slot: int, crashed: bool) -> None:
        """Fold the worker's slab into the retired totals; count a crash against its slot."""
        slab = self.slabs.pop(pid, None)
        if slab is not None:
            fold(self.area, slab, len(self.objects))
        if crashed:
            self.restarts[slot] = self.restarts.get(slot, 0) + 1
        self.publish()

    # ------------------------------------------------------------------ once a second

    def tick(self, now: float | None = None) -> bool:
        """Publish the aggregate when due; append a ring entry if a second has passed (True
        when it did). ``now`` is the ring's wall clock; the aggregate runs on CLOCK_MONOTONIC,
        the clock the workers check its age with."""
        now = time.time() if now is None else now
        ring_due = now - self.last_tick >= TICK
        if not ring_due and time.monotonic() - self.last_publish < PUBLISH_INTERVAL:
            return False
        summed = self.publish_aggregate()
        if not ring_due:
            return False
        self.last_tick = now
        if summed:
            self._append_ring(now, memoryview(summed).cast("q").tolist())
        self.publish()
        return True

    def publish_aggregate(self) -> bytearray:
        """Sum the records and publish them for the workers (the tick's, and after ``clear
        counters`` so that the pages show it at once); returns the sums."""
        n = len(self.objects)
        start = self.last_publish = time.monotonic()
        if not n:
            return bytearray()
        summed = read_totals_bytes(self.area, n)
        # stamped with when the reading began: the sums are at least that fresh
        collect.publish_aggregate(self.area, summed, n, int(start * 1000))
        return summed

    def _append_ring(self, now: float, totals: list[int]) -> None:
        n = len(self.objects)
        scur = self._scur(n)
        maxima = self.area.all_maxima(n)
        ring, new_maxima = self.history.step(int(now * 1000), totals, n, scur, maxima)
        for i, values in enumerate(new_maxima):
            if values != maxima[i]:
                self.area.set_maxima(i, values)
        self.area.write_ring(int(now * 1000), ring)

    def _scur(self, n: int) -> list[int]:
        """Current sessions per object id, from the daemon-wide gauges."""
        load = self.region.load
        slots = self.gauges.slots
        out = [0] * n
        per_backend: dict[str, int] = {}
        for ident in range(n):
            ref = self.refs.get(ident)
            if ref is None:
                continue
            name = None
            if ref.kind is ObjKind.FRONTEND:
                name = GaugeNames.frontend_cur_conns(ref.proxy)
            elif ref.kind is ObjKind.SERVER:
                name = GaugeNames.server_cur_conns(ref.proxy, ref.name)
            slot = slots.get(name) if name is not None else None
            if slot is not None:
                out[ident] = load(slot)
                if ref.kind is ObjKind.SERVER:
                    per_backend[ref.proxy] = per_backend.get(ref.proxy, 0) + out[ident]
        for ident in range(n):
            ref = self.refs.get(ident)
            if ref is not None and ref.kind is ObjKind.BACKEND:
                out[ident] = per_backend.get(ref.proxy, 0)
        return out

    def publish(self) -> None:
        try:
            self.area.write_info(encode_info(self.info()))
        except ValueError as exc:
            log.warning(f"statistics: {exc}")

    # ------------------------------------------------------------------ runtime API

    def clear(self, everything: bool) -> None:
        clear(self.area, len(self.objects), everything)
        self.history.reset_maxima()
        self.publish_aggregate()

    def source(self, config: Config, maxconn: int) -> SnapshotSource:
        key = id(config)
        src = self._sources.get(key)
        if src is None or src.config is not config:
            self._sources = {}
            ids = self.register(config)
            # the runtime API's ``show stat`` sums the slabs itself: exact to the last flush
            src = self._sources[key] = SnapshotSource(
                self.region, config, ids, self.gauges.slots.get, maxconn, live=True
            )
        return src

    def snapshot(self, config: Config, maxconn: int, history: bool = False) -> Snapshot:
        return self.source(config, maxconn).take(history)


def master_info(arbiter: Arbiter, stats: StatsMaster) -> MasterInfo:
    """What the arbiter knows, for the workers' pages."""
    gen = arbiter.current
    workers = [
        WorkerInfo(
            pid=w.pid,
            slot=w.slot,
            generation=w.generation,
            started=w.started_wall,
            ready=w.ready,
            stopping=w.stopping,
            slab=stats.slabs.get(w.pid, -1),
        )
        for w in arbiter.live_workers()
    ]
    vrrp: list[VrrpInfo] = []
    manager = arbiter.vrrp
    if manager is not None:
        for name, runner in manager.runners.items():
            machine = runner.machine
            vrrp.append(VrrpInfo(name, str(machine.state), int(machine.priority)))
    return MasterInfo(
        pid=os.getpid(),
        started=arbiter.started,
        generation=gen.number,
        nworkers=gen.nworkers,
        maxconn=gen.maxconn,
        reloads=arbiter.reloads,
        failed_reloads=arbiter.failed_reloads,
        stopping=arbiter.stopping,
        workers=workers,
        slots=[SlotInfo(slot, n) for slot, n in sorted(stats.restarts.items())],
        vrrp=vrrp,
    )
