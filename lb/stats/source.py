"""Reading a snapshot out of the shared region (for a worker's stats page, or the master).

A ``SnapshotSource`` is made once per configuration; ``take()`` reads the summed records, the
ring's newest entries, the gauges and the server states, then hands them to the pure
``snapshot.assemble``. It never blocks a writer.

The summed records are, for a worker, the aggregate the master publishes twice a second (one
copy: /metrics with a thousand servers must answer in a few tens of ms, and summing every slab
is most of that); when that aggregate is missing or older than a second, and always for the
master's own ``live`` source (``show stat``), they are summed from the slabs there and then.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from lb.config.model import Config
from lb.stats.area import Ring, SlabField
from lb.stats.collect import read_published, read_totals
from lb.stats.info import decode_info
from lb.stats.objects import ObjKind, backend_key, config_objects, frontend_key, server_key
from lb.stats.server_state import ServerState, ServerStateTable, StateSlots, word_written
from lb.stats.shm import GaugeNames, SharedRegion
from lb.stats.snapshot import Inputs, Process, Series, Snapshot, assemble, placeholder_state

GaugeLookup = Callable[[str], "int | None"]  # gauge name → slot, None when it has none


class SnapshotSource:
    def __init__(
        self,
        region: SharedRegion,
        config: Config,
        ids: dict[str, int],
        gauge: GaugeLookup,
        maxconn: int = 0,
        live: bool = False,
    ) -> None:
        self.region = region
        self.live = live  # sum the slabs at every take (else: the published aggregate)
        self.area = region.stats
        self.config = config
        self.ids = ids
        self.gauge = gauge
        self.maxconn = maxconn
        self.refs = config_objects(config)
        self.nobjects = min(max((i for i in ids.values()), default=-1) + 1, self.area.max_objects)
        # gauge counter indexes, looked up once
        self._scur: dict[str, int] = {}
        for ref in self.refs:
            name = None
            if ref.kind is ObjKind.FRONTEND:
                name = GaugeNames.frontend_cur_conns(ref.proxy)
            elif ref.kind is ObjKind.SERVER:
                name = GaugeNames.server_cur_conns(ref.proxy, ref.name)
            slot = gauge(name) if name is not None else None
            if slot is not None:
                self._scur[ref.key] = region.counter_index(slot)
        self._nservers = sum(1 for ref in self.refs if ref.kind is ObjKind.SERVER)
        self._states = self._state_slots()
        # what a server nobody wrote a state for shows, made once
        self._placeholders: dict[str, ServerState] = {
            server_key(proxy.name, server.name): placeholder_state(server)
            for proxy in config.proxies
            for server in proxy.servers
        }
        # decoded states by their three words: states rarely change, decoding a thousand
        # of them at every take would cost more than reading them
        self._decoded: dict[tuple[int, int, int], ServerState] = {}

    def _state_slots(self) -> tuple[ServerStateTable | None, dict[str, StateSlots]]:
        version = self.gauge(GaugeNames.SERVER_STATE_VERSION)
        if version is None:
            return None, {}
        table = ServerStateTable(self.region.counters, self.region.counter_index(version))
        slots: dict[str, StateSlots] = {}
        for ref in self.refs:
            if ref.kind is not ObjKind.SERVER:
                continue
            found = [self.gauge(n) for n in GaugeNames.server_state(ref.proxy, ref.name)]
            if all(s is not None for s in found):
                slots[ref.key] = StateSlots(*(self.region.counter_index(s) for s in found))  # type: ignore[arg-type]
        return table, slots

    def _server_states(self) -> dict[str, ServerState]:
        table, slots = self._states
        if len(slots) < self._nservers:  # the master may have added state slots since
            table, slots = self._states = self._state_slots()
        states = dict(self._placeholders)
        if table is None:
            return states
        load = self.region.counters.load
        decoded = self._decoded
        if len(decoded) > 4 * len(slots) + 64:  # old words of states long gone
            decoded.clear()
        for key, s in slots.items():
            word = load(s.state)  # first, as ServerStateTable.load: the master writes it last
            if not word_written(word):
                continue
            words = (word, load(s.check), load(s.since))
            state = decoded.get(words)
            if state is None:
                state = decoded[words] = ServerState.unpack(*words)
            states[key] = state
        return states

    def _global(self, name: str) -> int:
        slot = self.gauge(name)
        return self.region.load(slot) if slot is not None else 0

    def take(self, history: bool = False) -> Snapshot:
        area = self.area
        now = time.time()
        published = None if self.live else read_published(area, self.nobjects)
        if published is not None:
            age_ms, totals = published
        else:
            age_ms, totals = 0, read_totals(area, self.nobjects)
        head = area.ring_head
        ring: list[int] = []
        ring_prev: list[int] = []
        elapsed = 0.0
        if head >= 1:
            stamp, ring = area.ring_entry(head - 1, self.nobjects)
            if head >= 2:
                before, ring_prev = area.ring_entry(head - 2, self.nobjects)
                elapsed = (stamp - before) / 1000.0 if stamp and before else 0.0
        counters = self.region.counters
        scur = {key: counters.load(index) for key, index in self._scur.items()}
        states = self._server_states()
        master = decode_info(area.read_info())
        g = self.config.global_
        process = Process(
            pid=master.pid or os.getppid(),
            node=g.node or os.uname().nodename,
            description=g.description or "",
            started=master.started,
            uptime=max(0.0, now - master.started) if master.started else 0.0,
            nbthread=master.nworkers,
            maxconn=master.maxconn or self.maxconn,
            cur_conns=self._global(GaugeNames.GLOBAL_CUR_CONNS),
            cum_conns=self._global(GaugeNames.GLOBAL_CUM_CONNS),
            master=master,
            sums_age=age_ms / 1000,
            flushed_ms={
                w.slab: area.table(w.slab, SlabField.FLUSHED_MS)
                for w in master.workers
                if w.slab >= 0
            },
        )
        inputs = Inputs(
            config=self.config,
            ids=self.ids,
            totals=totals,
            ring=ring,
            ring_prev=ring_prev,
            ring_elapsed=elapsed,
            maxima=area.maxima_values(self.nobjects),
            scur=scur,
            states=states,
            lastsess_ms=int(time.monotonic() * 1000),
            now=now,
            process=process,
        )
        snapshot = assemble(inputs)
        if history:
            snapshot.history = self.history(head)
        return snapshot

    def history(self, head: int) -> dict[str, Series]:
        """Chart series per proxy (its backend, else its frontend), oldest point first."""
        area = self.area
        cap = area.geometry.ring_capacity
        first = max(0, head - cap + 1)  # the entry after the oldest, which may be rewritten now
        out: dict[str, Series] = {}
        for proxy in self.config.proxies:
            key = backend_key(proxy.name) if proxy.has_backend else frontend_key(proxy.name)
            ident = self.ids.get(key, -1)
            if not 0 <= ident < self.nobjects:
                continue
            http = proxy.mode == "http"
            series = Series()
            prev: tuple[int, list[int]] | None = None
            for position in range(first, head):
                stamp, v = area.ring_values(position, ident)
                if not stamp:
                    continue
                if prev is not None and stamp > prev[0]:
                    dt = (stamp - prev[0]) / 1000.0
                    p = prev[1]
                    done = Ring.REQ_TOT if http else Ring.STOT
                    series.stamps.append(stamp)
                    series.req_rate.append(max(0.0, (v[done] - p[done]) / dt))
                    errors = v[Ring.ERRORS] + v[Ring.HRSP_5XX] - p[Ring.ERRORS] - p[Ring.HRSP_5XX]
                    series.err_rate.append(max(0.0, errors / dt))
                    series.scur.append(v[Ring.SCUR])
                    series.p50.append(v[Ring.RT_P50] if http else v[Ring.TT_P50])
                    series.p99.append(v[Ring.RT_P99] if http else v[Ring.TT_P99])
                prev = (stamp, v)
            out[proxy.name] = series
        return out
