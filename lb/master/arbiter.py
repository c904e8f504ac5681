"""The arbiter: signals in, workers out.

Signals are queued by the event loop and handled one at a time by a
``handle_<name>`` method; between signals the loop runs reap → murder → manage:
collect dead workers, kill those past their deadline, start what is missing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from lb import log
from lb.master import sd_notify
from lb.master.generation import Generation, LoadFailure, load_generation
from lb.master.health import HealthChecker, server_plans
from lb.master.listeners import ListenerSet
from lb.master.runtime_api import RuntimeApi
from lb.master.workers import WorkerProcess, listener_fds, spawn_worker
from lb.stats.admin import FrameDecoder, allowed_from_worker
from lb.stats.master import StatsMaster, geometry_for, master_info
from lb.stats.server_state import ServerStateTable, state_slots, version_index
from lb.stats.shm import GaugeNames, GaugeTable, SharedRegion
from lb.sticktable.region import TableRegions
from lb.worker.boot import READY, WorkerBoot

if TYPE_CHECKING:
    from lb.vrrp.manager import VrrpManager

MANAGE_INTERVAL = 0.1  # s between reap/murder/manage passes when nothing happens
BOOT_TIMEOUT = 15.0  # s for a new worker to report ready
FAST_STOP_GRACE = 0.5  # s between SIGTERM and SIGKILL on a fast stop
MAX_BOOT_FAILURES = 5  # consecutive failed starts of one slot before giving up


class Arbiter:
    SIGNALS = (
        signal.SIGHUP,
        signal.SIGUSR1,
        signal.SIGUSR2,
        signal.SIGTERM,
        signal.SIGINT,
        signal.SIGCHLD,
    )

    def __init__(
        self,
        paths: list[str],
        first: Generation,
        *,
        nworkers: int | None,
        unsupported: str,
        pidfile: str | None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.paths = paths
        self.current = first
        self.nworkers_option = nworkers
        self.unsupported = unsupported
        self.pidfile = pidfile
        self.on_ready = on_ready
        self.started = time.time()
        self.listeners = ListenerSet()
        self.region = SharedRegion.create(stats=geometry_for(first.config, first.nworkers))
        self.gauges = GaugeTable(self.region.capacity)
        # counters: slabs, the retired totals, the history ring (lb.stats.master)
        self.stats = StatsMaster(self.region, self.gauges)
        self.stats.info = lambda: master_info(self, self.stats)
        self.tables = TableRegions()  # stick tables: one memfd each, kept across reloads
        self._frames: dict[int, FrameDecoder] = {}  # worker pid → admin commands it sends
        self.workers: list[WorkerProcess] = []
        self.generations: dict[int, Generation] = {first.number: first}
        self.boot_failures: dict[int, int] = {}
        self.given_up: set[int] = set()
        self.reloads = 0
        self.failed_reloads = 0
        self.stopping = False  # graceful stop under way
        self.exit_code: int | None = None
        self.health = HealthChecker(
            ServerStateTable(self.region.counters, version_index(self.region, self.gauges.slot)),
            lambda backend, server: state_slots(self.region, self.gauges.slot, backend, server),
        )
        self.server_admin = self.health  # the runtime API's server commands: one writer
        self.runtime_api = RuntimeApi(self)
        self.vrrp: VrrpManager | None = None
        self._signals: deque[int] = deque()
        self._wakeup = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[object]] = set()

    # ------------------------------------------------------------------ main loop

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in self.SIGNALS:
            loop.add_signal_handler(sig, self._queue_signal, sig)
        try:
            self.listeners.ensure(self.current.config, self.current.nworkers)
        except OSError as exc:
            log.alert(f"cannot bind: {exc}")
            return 1
        self._sync_health(self.current)  # the state table is written before any worker reads it
        if not await self._start_generation(self.current):
            log.alert("workers failed to start; exiting")
            await self.health.close()
            self._close()
            return 1
        if await self.runtime_api.sync(self.current.config):
            log.alert("cannot open the runtime API; exiting")  # as HAProxy: fatal at start
            self.fast_stop("startup failure")
            self._close()
            return 1
        log.notice(
            f"lb ready: generation {self.current.number}, {self.current.nworkers} worker(s), "
            f"maxconn {self.current.maxconn}"
        )
        self._sync_vrrp(self.current)
        sd_notify.notify("READY=1", f"MAINPID={os.getpid()}")
        if self.on_ready is not None:
            self.on_ready()
        while self.exit_code is None:
            try:
                await asyncio.wait_for(self._wakeup.wait(), MANAGE_INTERVAL)
            except TimeoutError:
                pass
            self._wakeup.clear()
            while self._signals and self.exit_code is None:
                sig = self._signals.popleft()
                getattr(self, f"handle_{signal.Signals(sig).name[3:].lower()}")()
            if self.exit_code is None:
                self.reap()
                self.murder()
                self.manage()
                self.stats.tick()
                self.tables.tick()
        self._stop_vrrp()  # whatever the way out: priority 0, addresses removed
        await self.health.close()
        await self.runtime_api.close()
        self._close()
        return self.exit_code

    def _queue_signal(self, sig: int) -> None:
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            self._stop_vrrp()  # first of all: the peers take the addresses after Skew_Time
        self._signals.append(sig)
        self._wakeup.set()

    def _spawn_task(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ signals

    def handle_chld(self) -> None:
        self.reap()

    def handle_hup(self) -> None:
        self._spawn_task(self.reload())

    def handle_usr2(self) -> None:
        self._spawn_task(self.reload())

    def handle_usr1(self) -> None:
        """Graceful stop: workers finish what they hold, then everything exits."""
        log.notice("graceful stop requested")
        sd_notify.notify("STOPPING=1")
        self._stop_vrrp()  # the peers take the addresses now; what is in flight finishes here
        self.stopping = True
        for w in self.live_workers():
            w.graceful_stop(self.current.hard_stop_after)
        self.listeners.close_all()  # workers keep their own descriptors until they are done

    def handle_term(self) -> None:
        self.fast_stop("SIGTERM")

    def handle_int(self) -> None:
        self.fast_stop("SIGINT")

    def fast_stop(self, why: str) -> None:
        log.notice(f"{why}: stopping now")
        sd_notify.notify("STOPPING=1")
        self._stop_vrrp()
        live = self.live_workers()
        for w in live:
            w.fast_stop()
        deadline = time.monotonic() + FAST_STOP_GRACE
        while time.monotonic() < deadline and any(not w.exited for w in live):
            time.sleep(0.01)
            self.reap()
        for w in live:
            if not w.exited:
                w.signal(signal.SIGKILL)
        while any(not w.exited for w in live):
            time.sleep(0.005)
            self.reap()
        self.exit_code = 0

    # ------------------------------------------------------------------ reap, murder, manage

    def live_workers(self) -> list[WorkerProcess]:
        return [w for w in self.workers if not w.exited]

    def reap(self) -> None:
        # Only our workers: waitpid(-1) would also take the vrrp_script and notify
        # processes that asyncio is waiting for, and turn their success into failure.
        for worker in list(self.workers):
            try:
                pid, status = os.waitpid(worker.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = worker.pid, 0  # reaped elsewhere: gone all the same
            if pid != 0:
                self._worker_exited(worker, status)

    def _worker_exited(self, w: WorkerProcess, status: int) -> None:
        w.exited = True
        w.status = status
        w.popen.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        loop = asyncio.get_running_loop()
        loop.remove_reader(w.control.fileno())
        w.control.close()
        self.workers.remove(w)
        self._frames.pop(w.pid, None)
        # its counters join the retired totals: nothing a dead worker counted is lost
        self.stats.worker_exited(w.pid, w.slot, crashed=w.ready and not w.stopping)
        if w.stopping:
            log.notice(f"worker {w.pid} (slot {w.slot}, generation {w.generation}) exited")
            self._prune_listeners()
            return
        if w.ready:
            self.boot_failures[w.slot] = 0
            log.alert(f"worker {w.pid} (slot {w.slot}) died ({w.describe_exit()}); respawning")
        else:
            self.boot_failures[w.slot] = self.boot_failures.get(w.slot, 0) + 1
            log.alert(f"worker {w.pid} (slot {w.slot}) failed to start ({w.describe_exit()})")
        self._wakeup.set()

    def murder(self) -> None:
        now = time.monotonic()
        for w in self.live_workers():
            if w.stop_deadline is not None and now > w.stop_deadline:
                log.warning(f"worker {w.pid}: hard-stop-after reached, killing it")
                w.stop_deadline = None
                w.signal(signal.SIGKILL)
            elif not w.ready and not w.stopping and now - w.started > BOOT_TIMEOUT:
                log.alert(f"worker {w.pid} (slot {w.slot}) did not start in {BOOT_TIMEOUT:.0f}s")
                w.signal(signal.SIGKILL)

    def manage(self) -> None:
        """Give every slot of the current generation a worker, unless we gave up on it."""
        if self.stopping:
            if not self.workers:
                log.notice("every worker has finished")
                self.exit_code = 0
            return
        if self._reload_lock.locked():
            return
        gen = self.current
        for slot in range(gen.nworkers):
            if slot in self.given_up or self._slot_worker(slot, gen.number) is not None:
                continue
            failures = self.boot_failures.get(slot, 0)
            if failures >= MAX_BOOT_FAILURES:
                self.given_up.add(slot)
                self.listeners.close_slot(slot)
                log.alert(
                    f"worker slot {slot} failed to start {failures} times in a row; "
                    "not respawning it and closing its listening sockets. "
                    "Fix the cause, then reload."
                )
                if len(self.given_up) == gen.nworkers and not any(
                    w.ready for w in self.live_workers()
                ):
                    log.alert("no worker can start; exiting")
                    self.exit_code = 1
                continue
            self._spawn(slot, gen)

    def _slot_worker(self, slot: int, generation: int) -> WorkerProcess | None:
        for w in self.workers:
            if w.slot == slot and w.generation == generation and not w.stopping:
                return w
        return None

    # ------------------------------------------------------------------ spawning

    def _spawn(self, slot: int, gen: Generation) -> WorkerProcess:
        config = gen.config
        gauges = {
            name: self.gauges.slot(name)
            for name in (GaugeNames.GLOBAL_CUR_CONNS, GaugeNames.GLOBAL_CUM_CONNS)
        }
        for proxy in config.proxies:
            if proxy.has_frontend:
                for name in (
                    GaugeNames.frontend_cur_conns(proxy.name),
                    GaugeNames.frontend_cum_conns(proxy.name),
                ):
                    gauges[name] = self.gauges.slot(name)
            if proxy.has_backend:
                name = GaugeNames.backend_rr_position(proxy.name)
                gauges[name] = self.gauges.slot(name)
                for server in proxy.servers:
                    for name in (
                        GaugeNames.server_cur_conns(proxy.name, server.name),
                        GaugeNames.server_queue(proxy.name, server.name),
                    ):
                        gauges[name] = self.gauges.slot(name)
                    for name in GaugeNames.server_state(proxy.name, server.name):
                        gauges[name] = self.gauges.slot(name)
        gauges[GaugeNames.SERVER_STATE_VERSION] = self.gauges.slot(GaugeNames.SERVER_STATE_VERSION)
        boot = WorkerBoot(
            slot=slot,
            generation=gen.number,
            nworkers=gen.nworkers,
            config=config,
            listeners=listener_fds(self.listeners.fds_for(config, slot)),
            shm_fd=self.region.fd,
            gauges=gauges,
            maxconn=gen.maxconn,
            server_addrs=gen.server_addrs,
            errorfiles=gen.errorfiles,
            tables=self.tables.ensure(config),
        )
        stats_entries = self.stats.boot_entries(config, slot, gen.number)
        boot.gauges.update(stats_entries)
        try:
            popen, control, frame = spawn_worker(boot, self.region.fd)
        except BaseException:
            self.stats.spawn_failed(stats_entries)
            raise
        self.stats.worker_started(popen.pid, stats_entries)
        worker = WorkerProcess(slot, gen.number, popen, control)
        self.workers.append(worker)
        loop = asyncio.get_running_loop()
        loop.add_reader(control.fileno(), self._on_control, worker)
        self._spawn_task(loop.sock_sendall(control, frame))
        return worker

    def _on_control(self, worker: WorkerProcess) -> None:
        try:
            data = worker.control.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(worker.control.fileno())
            return
        self._admin_commands(worker, data)
        if READY in data and not worker.ready:
            worker.ready = True
            self.boot_failures[worker.slot] = 0
            self._wakeup.set()

    def _admin_commands(self, worker: WorkerProcess, data: bytes) -> None:
        """Run what a worker's stats page asked for (server state and weight only)."""
        decoder = self._frames.setdefault(worker.pid, FrameDecoder())
        for command in decoder.feed(data):
            if allowed_from_worker(command):
                log.notice(f"stats page (worker {worker.pid}): {command}")
                self._spawn_task(self.runtime_api.execute(command))
            else:
                log.warning(f"worker {worker.pid} sent a command it may not: {command[:80]!r}")

    async def _start_generation(self, gen: Generation) -> bool:
        """Start every slot of ``gen`` and wait until all are ready (or one fails)."""
        started = [self._spawn(slot, gen) for slot in range(gen.nworkers)]
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if all(w.ready for w in started):
                return True
            failed = [w for w in started if w.exited]
            if failed:
                for w in started:
                    w.fast_stop()
                log.alert(
                    f"new worker {failed[0].pid} (slot {failed[0].slot}) failed to start "
                    f"({failed[0].describe_exit()})"
                )
                self._wait_gone(started)
                return False
            await asyncio.sleep(0.01)
            self.reap()
        log.alert(f"new workers did not start within {BOOT_TIMEOUT:.0f}s")
        for w in started:
            w.signal(signal.SIGKILL)
        self._wait_gone(started)
        return False

    def _wait_gone(self, workers: list[WorkerProcess]) -> None:
        while any(not w.exited for w in workers):
            time.sleep(0.005)
            self.reap()

    # ------------------------------------------------------------------ reload

    async def reload(self) -> tuple[bool, list[str]]:
        """Load the files again and switch generations; keep the old one on any failure."""
        try:
            return await self._reload()
        except Exception as exc:  # a bug in a reload must leave the running generation alone
            log.alert(f"reload failed unexpectedly: {exc!r}")
            return False, [f"[ALERT] internal error during reload: {exc!r}"]

    async def _reload(self) -> tuple[bool, list[str]]:
        async with self._reload_lock:
            if self.stopping or self.exit_code is not None:
                return False, ["stopping: reload refused"]
            sd_notify.reloading()
            log.notice("reloading")
            try:
                gen, warnings = load_generation(
                    self.paths, self.current.number + 1, self.nworkers_option, self.unsupported
                )
            except LoadFailure as exc:
                return self._reload_failed(exc.lines)
            for line in warnings:
                log.log("WARNING", line.removeprefix("[WARNING] "))
            try:
                self.listeners.ensure(gen.config, gen.nworkers)
            except OSError as exc:
                return self._reload_failed([f"[ALERT] cannot bind: {exc}"])
            self.generations[gen.number] = gen
            self._sync_health(gen)  # servers matched by name keep their state
            if not await self._start_generation(gen):
                del self.generations[gen.number]
                self._sync_health(self.current)
                self._prune_listeners()
                return self._reload_failed(["[ALERT] the new workers failed to start"])
            old = self.current
            self.current = gen
            self.boot_failures.clear()
            self.given_up.clear()
            for w in self.live_workers():
                if w.generation != gen.number:
                    w.reloads += 1
                    w.graceful_stop(gen.hard_stop_after)
            self.reloads += 1
            self.region.generation = gen.number
            self.stats.publish()
            self._sync_vrrp(gen)
            api_errors = await self.runtime_api.sync(gen.config)
            warnings += [f"[ALERT] {e}" for e in api_errors]
            sd_notify.notify("READY=1")
            log.notice(
                f"reloaded: generation {gen.number} with {gen.nworkers} worker(s) "
                f"replaces generation {old.number}"
            )
            self._prune_listeners()
            return True, warnings

    def _reload_failed(self, lines: list[str]) -> tuple[bool, list[str]]:
        self.failed_reloads += 1
        for line in lines:
            log.log("ALERT", line.removeprefix("[ALERT] "))
        log.alert(f"reload failed; generation {self.current.number} keeps serving unchanged")
        sd_notify.notify("READY=1")
        return False, lines

    def _prune_listeners(self) -> None:
        """Drop the generations nobody runs any more, and the sockets only they used."""
        running = {w.generation for w in self.workers} | {self.current.number}
        for number in [n for n in self.generations if n not in running]:
            del self.generations[number]
        self.tables.prune([g.config for g in self.generations.values()])
        if self.stopping:
            return
        self.listeners.prune([(g.config, g.nworkers) for g in self.generations.values()])

    # ------------------------------------------------------------------ health checks

    def _sync_health(self, gen: Generation) -> None:
        """Checks and the server state table follow ``gen``'s servers."""
        self.health.sync(server_plans(gen.config, gen.server_addrs))

    # ------------------------------------------------------------------ VRRP

    def data_plane_ok(self) -> bool:
        """Can lb serve at all? At least one ready worker of the current generation."""
        return any(
            w.ready and not w.stopping and w.generation == self.current.number
            for w in self.live_workers()
        )

    def _sync_vrrp(self, gen: Generation) -> None:
        """Start, reload or stop VRRP to match ``gen``'s keepalived configuration."""
        keepalived = gen.config.keepalived
        wanted = keepalived is not None and bool(keepalived.vrrp_instances)
        if not wanted:
            self._stop_vrrp()
            return
        assert keepalived is not None
        from lb.vrrp.manager import VrrpManager  # pyroute2 is imported only when VRRP is used

        # lb tracks itself: with proxies configured, no serving worker means FAULT
        tracker = self.data_plane_ok if gen.config.frontends() else None
        try:
            if self.vrrp is None:
                self.vrrp = VrrpManager(keepalived, data_plane_ok=tracker)
                self.vrrp.start()
            else:
                self.vrrp.data_plane_ok = tracker
                self.vrrp.reload(keepalived)
        except Exception as exc:  # VRRP failing must not take the proxy down with it
            log.alert(f"VRRP could not start: {exc!r}")

    def _stop_vrrp(self) -> None:
        if self.vrrp is not None:
            self.vrrp.shutdown()
            self.vrrp = None

    # ------------------------------------------------------------------ end

    def _close(self) -> None:
        self.listeners.close_all()
        self.tables.close()
        if self.pidfile:
            try:
                os.unlink(self.pidfile)
            except OSError:
                pass
        log.notice("lb stopped")
