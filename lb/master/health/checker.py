"""The health checker: every server checked once, by the master, whatever the worker count.

One asyncio task per server runs its checks on the schedule of its state
(inter / fastinter / downinter), feeds the rise/fall counter, ramps the weight
after a comeback (slowstart) and publishes the result in the shared state
table, which every worker reads. Administrative changes (drain, maintenance,
weight) come from the runtime API and go through here too, so the table has
one writer.

The version slot is bumped only when something picking depends on changed
(operational state, admin flags, effective weight): check durations and
counters are stored without waking every worker up.

On reload, ``sync`` keeps each server that is still there (same backend and
server name): its counter, admin flags and weight set at run time stay; a
changed check restarts its task, a removed server's task stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from lb import log
from lb.master.health.machine import HealthCounter, Phase, Transition
from lb.master.health.probes import CheckResult, run_check
from lb.master.health.schedule import first_check_offset_ms
from lb.master.health.slowstart import ramp_done, ramp_step_ms, ramp_weight
from lb.master.health.spec import Notify, ServerPlan
from lb.stats.runtime import admin_flags, parse_weight
from lb.stats.server_state import (
    ADMIN_CMAINT,
    ADMIN_FDRAIN,
    ADMIN_FMAINT,
    ADMIN_MAINT,
    CheckStatus,
    OpState,
    ServerState,
    ServerStateTable,
    StateSlots,
)
from lb.vrrp.scripts import NOTIFY_TIMEOUT, ScriptError, run_command

SlotsOf = Callable[[str, str], StateSlots]
Prober = Callable[..., object]  # async (CheckSpec) -> CheckResult; tests inject their own

ADMIN_STATES = ("ready", "drain", "maint")


class ServerHealth:
    """The checker's view of one server."""

    __slots__ = (
        "checked_once",
        "config_disabled",
        "config_weight",
        "counter",
        "notify_task",
        "plan",
        "ramp_start",
        "slots",
        "state",
        "task",
        "waiter",
    )

    def __init__(self, plan: ServerPlan, slots: StateSlots, state: ServerState) -> None:
        self.plan = plan
        self.slots = slots
        self.state = state
        self.counter: HealthCounter | None = None
        self.task: asyncio.Task[None] | None = None
        self.waiter: asyncio.Future[None] | None = None  # set while the task sleeps
        self.ramp_start: float | None = None  # loop time the slowstart ramp began
        self.config_weight = plan.weight
        self.config_disabled = plan.disabled
        self.checked_once = False
        self.notify_task: asyncio.Task[None] | None = None  # the last notify program started

    @property
    def key(self) -> str:
        return self.plan.key

    def wake(self) -> None:
        """Cut the task's sleep short (an admin change: checks pause or resume)."""
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def sleep(self, delay: float | None) -> None:
        """Sleep ``delay`` seconds (None: until woken). A future and a timer rather than
        wait_for on an event: Python 3.11's wait_for can swallow a cancellation."""
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        timer = None
        if delay is not None:
            timer = loop.call_later(max(0.0, delay), _resolve, waiter)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()
            self.waiter = None


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _run_notify(key: str, notify: Notify, previous: asyncio.Task[None] | None) -> None:
    if previous is not None:
        await asyncio.wait([previous])
    try:
        code = await run_command(
            list(notify.argv), uid=notify.uid, gid=notify.gid, timeout=NOTIFY_TIMEOUT
        )
    except ScriptError as exc:
        log.warning(f"notify script of {key}: {exc}")
        return
    if code != 0:
        log.warning(f"notify script {notify.argv[0]} of {key} exited with {code}")


class HealthChecker:
    def __init__(
        self,
        table: ServerStateTable,
        slots_of: SlotsOf,
        *,
        prober: Prober = run_check,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.slots_of = slots_of
        self.prober = prober
        self.clock = clock  # wall clock, for "last change"
        self.servers: dict[str, ServerHealth] = {}

    # ------------------------------------------------------------------ configuration

    def sync(self, plans: Iterable[ServerPlan]) -> None:
        """Match the running checks to ``plans`` (at start and at each reload)."""
        wanted = {p.key: p for p in plans}
        for key in [k for k in self.servers if k not in wanted]:
            self._stop(self.servers.pop(key))
        ordered = list(wanted.values())
        for position, plan in enumerate(ordered):
            sh = self.servers.get(plan.key)
            if sh is None:
                sh = self.servers[plan.key] = self._adopt(plan)
                self._start(sh, position, len(ordered))
            elif sh.plan != plan:
                restart = sh.plan.check != plan.check
                self._retune(sh, plan)
                if restart:
                    self._stop(sh)
                    self._start(sh, position, len(ordered))
            self.table.store(sh.slots, sh.state, bump=False)
        self.table.bump()

    def _adopt(self, plan: ServerPlan) -> ServerHealth:
        """A server new to this checker: fresh, or resumed from what the table holds."""
        slots = self.slots_of(plan.backend, plan.server)
        previous = self.table.load(slots)
        check = plan.check
        admin = ADMIN_CMAINT if plan.disabled else 0
        if previous is not None:
            # Seen earlier in this run (removed, then back): keep what the operator set.
            admin |= previous.admin & (ADMIN_FMAINT | ADMIN_FDRAIN)
        counter: HealthCounter | None = None
        if check is not None:
            health = None
            if previous is not None and previous.checked:
                health = previous.health
            elif check.start_full:
                health = check.rise + check.fall - 1
            counter = HealthCounter(check.rise, check.fall, health)
        up = counter is None or counter.up
        state = ServerState(
            op=OpState.RUNNING if up and not admin & ADMIN_MAINT else OpState.STOPPED,
            admin=admin,
            eweight=plan.weight,
            uweight=plan.weight,
            check_status=CheckStatus.INI,
            health=counter.health if counter is not None else (check.rise if check else 0),
            checked=check is not None,
            last_change_ms=self._now_ms(),
        )
        sh = ServerHealth(plan, slots, state)
        sh.counter = counter
        return sh

    def _retune(self, sh: ServerHealth, plan: ServerPlan) -> None:
        old = sh.plan
        state = sh.state
        admin = state.admin
        if plan.disabled != sh.config_disabled:  # the file changed: it wins
            admin = admin | ADMIN_CMAINT if plan.disabled else admin & ~ADMIN_CMAINT
            sh.config_disabled = plan.disabled
        uweight = state.uweight
        if plan.weight != sh.config_weight:  # likewise; a weight set at run time stays otherwise
            uweight = plan.weight
            sh.config_weight = plan.weight
        check = plan.check
        if check is None:
            sh.counter = None
        elif sh.counter is None:
            sh.counter = HealthCounter(check.rise, check.fall)
        elif (check.rise, check.fall) != (sh.counter.rise, sh.counter.fall):
            sh.counter.retune(check.rise, check.fall)
        counter = sh.counter
        up = counter is None or counter.up
        op = state.op
        if admin & ADMIN_MAINT or not up:
            op = OpState.STOPPED
        elif op is OpState.STOPPED:
            op = OpState.RUNNING
        if not plan.slowstart:
            sh.ramp_start = None
            if op is OpState.STARTING:
                op = OpState.RUNNING
        sh.plan = plan
        eweight = self._eweight(sh, uweight)
        since = state.last_change_ms if op == state.op else self._now_ms()
        sh.state = state.but(
            op=op,
            admin=admin,
            uweight=uweight,
            eweight=eweight,
            checked=check is not None,
            health=counter.health if counter is not None else state.health,
            last_change_ms=since,
        )
        if old.check is not None and check is None:
            sh.state = sh.state.but(check_status=CheckStatus.INI, check_code=0)

    # ------------------------------------------------------------------ tasks

    def _start(self, sh: ServerHealth, position: int, count: int) -> None:
        inter = sh.plan.check.timing.inter if sh.plan.check is not None else 0
        offset = first_check_offset_ms(position, count, inter) / 1000
        sh.task = asyncio.get_running_loop().create_task(
            self._run(sh, offset), name=f"health {sh.key}"
        )

    def _stop(self, sh: ServerHealth) -> None:
        if sh.task is not None:
            sh.task.cancel()
            sh.task = None

    async def close(self) -> None:
        tasks = [sh.task for sh in self.servers.values() if sh.task is not None]
        for sh in self.servers.values():
            self._stop(sh)
        # Cancel until done: a cancellation that lands as an inner wait completes can be
        # lost (asyncio.wait_for in 3.11), and the checks must not outlive the master.
        while pending := [t for t in tasks if not t.done()]:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.1)

    async def _run(self, sh: ServerHealth, offset: float) -> None:
        loop = asyncio.get_running_loop()
        next_check = loop.time() + offset
        # A replaced task (reload) stops by itself even if its cancellation got lost.
        while sh.task is asyncio.current_task():
            try:
                now = loop.time()
                if sh.ramp_start is not None:
                    self._ramp(sh, now)
                check = sh.plan.check
                paused = check is None or bool(sh.state.admin & ADMIN_MAINT)
                if not paused and now >= next_check:
                    assert check is not None
                    result = await self.prober(check)
                    self._apply(sh, result)  # type: ignore[arg-type]
                    phase = sh.counter.phase if sh.counter is not None else None
                    next_check = loop.time() + check.timing.interval_ms(phase) / 1000
                    continue
                waits = []
                if not paused:
                    waits.append(next_check - now)
                if sh.ramp_start is not None:
                    inter = check.timing.inter if check is not None else 1000
                    waits.append(ramp_step_ms(sh.plan.slowstart, inter) / 1000)
                await sh.sleep(min(waits) if waits else None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop this server's checks for good
                log.alert(f"health check of {sh.key} failed unexpectedly: {exc!r}")
                await asyncio.sleep(1.0)

    # ------------------------------------------------------------------ results

    def _apply(self, sh: ServerHealth, result: CheckResult) -> None:
        counter = sh.counter
        if counter is None:
            return
        transition = counter.record(result.passed)
        state = sh.state
        op, since = state.op, state.last_change_ms
        if transition is Transition.WENT_DOWN:
            op, since = OpState.STOPPED, self._now_ms()
            sh.ramp_start = None
        elif transition is Transition.WENT_UP:
            since = self._now_ms()
            op = self._comeback(sh)
        sh.checked_once = True
        self._publish(
            sh,
            state.but(
                op=op,
                eweight=self._eweight(sh, state.uweight),
                check_status=result.status,
                check_code=result.code,
                check_duration_ms=result.duration_ms,
                health=counter.health,
                last_change_ms=since,
            ),
        )
        if transition is not None:
            self._log_transition(sh, result, transition)
            self._notify(sh, transition)

    def _notify(self, sh: ServerHealth, transition: Transition) -> None:
        """keepalived's notify_up / notify_down, one after another per server (a flap
        runs down then up, in that order), off the check loop."""
        up = transition is Transition.WENT_UP
        notify = sh.plan.notify_up if up else sh.plan.notify_down
        if notify is None:
            return
        previous = sh.notify_task
        sh.notify_task = asyncio.get_running_loop().create_task(
            _run_notify(sh.key, notify, previous), name=f"notify {sh.key}"
        )

    def _comeback(self, sh: ServerHealth) -> OpState:
        """Up again after down or maintenance: the slowstart ramp, if any, starts now."""
        if sh.plan.slowstart > 0:
            sh.ramp_start = asyncio.get_running_loop().time()
            return OpState.STARTING
        return OpState.RUNNING

    def _eweight(self, sh: ServerHealth, uweight: int) -> int:
        if sh.ramp_start is None:
            return uweight
        elapsed = (asyncio.get_running_loop().time() - sh.ramp_start) * 1000
        return ramp_weight(uweight, int(elapsed), sh.plan.slowstart)

    def _ramp(self, sh: ServerHealth, now: float) -> None:
        assert sh.ramp_start is not None
        elapsed = int((now - sh.ramp_start) * 1000)
        state = sh.state
        if ramp_done(elapsed, sh.plan.slowstart):
            sh.ramp_start = None
            op = OpState.RUNNING if state.op is OpState.STARTING else state.op
            self._publish(sh, state.but(op=op, eweight=state.uweight))
        else:
            self._publish(sh, state.but(eweight=self._eweight(sh, state.uweight)))

    def _publish(self, sh: ServerHealth, new: ServerState) -> None:
        old = sh.state
        sh.state = new
        relevant = (old.op, old.admin, old.eweight) != (new.op, new.admin, new.eweight)
        self.table.store(sh.slots, new, bump=relevant)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ------------------------------------------------------------------ runtime API

    def find(self, key: str) -> ServerHealth | None:
        return self.servers.get(key)

    def set_admin(self, backend: str, server: str, action: str) -> str | None:
        """``set server B/S state ready|drain|maint`` (and enable/disable server).

        Returns an error message, or None when done (lb.stats.runtime's ServerAdmin).
        """
        sh = self.servers.get(f"{backend}/{server}")
        if sh is None:
            return self._missing(backend)
        if action not in ADMIN_STATES:
            return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
        key = sh.key
        state = sh.state
        admin = admin_flags(state.admin, action)
        op, since = state.op, state.last_change_ms
        health = state.health
        if admin & ADMIN_MAINT and not state.admin & ADMIN_MAINT:
            op, since = OpState.STOPPED, self._now_ms()
            sh.ramp_start = None
            log.warning(f"Server {key} is going DOWN for maintenance.")
        elif state.admin & ADMIN_MAINT and not admin & ADMIN_MAINT:
            # Out of maintenance: up at once, one failed check from down, as at start.
            if sh.counter is not None:
                sh.counter.force_up()
                health = sh.counter.health
            op, since = self._comeback(sh), self._now_ms()
            log.warning(f"Server {key} is UP/READY (leaving forced maintenance).")
        elif admin & ADMIN_FDRAIN and not state.admin & ADMIN_FDRAIN:
            log.warning(f"Server {key} enters drain state.")
        elif state.admin & ADMIN_FDRAIN and not admin & ADMIN_FDRAIN:
            log.warning(f"Server {key} is UP (leaving forced drain).")
        self._publish(
            sh,
            state.but(
                op=op,
                admin=admin,
                health=health,
                last_change_ms=since,
                eweight=self._eweight(sh, state.uweight),
            ),
        )
        sh.wake()
        return None

    def set_weight(self, backend: str, server: str, weight: str) -> str | None:
        """``set weight B/S N`` or ``N%`` (of the configured weight)."""
        sh = self.servers.get(f"{backend}/{server}")
        if sh is None:
            return self._missing(backend)
        value = parse_weight(weight, sh.plan.weight)
        if value is None:
            return "Invalid weight: 0 to 256, or a percentage of the configured weight.\n"
        self._publish(sh, sh.state.but(uweight=value, eweight=self._eweight(sh, value)))
        return None

    def _missing(self, backend: str) -> str:
        if any(sh.plan.backend == backend for sh in self.servers.values()):
            return "No such server.\n"
        return "No such backend.\n"

    # ------------------------------------------------------------------ logs

    def _log_transition(self, sh: ServerHealth, result: CheckResult, t: Transition) -> None:
        reason = result.status.description
        if result.code:
            reason += f", code: {result.code}"
        if result.info and not result.passed:
            reason += f', info: "{result.info}"'
        active, backup = self._available(sh.plan.backend)
        if t is Transition.WENT_DOWN:
            log.warning(
                f"Server {sh.key} is DOWN, reason: {reason}, check duration: "
                f"{result.duration_ms}ms. {active} active and {backup} backup servers left."
            )
            if not active and not backup:
                log.alert(f"backend '{sh.plan.backend}' has no server available!")
        else:
            log.warning(
                f"Server {sh.key} is UP, reason: {reason}, check duration: "
                f"{result.duration_ms}ms. {active} active and {backup} backup servers online."
            )

    def _available(self, backend: str) -> tuple[int, int]:
        active = backup = 0
        for sh in self.servers.values():
            if sh.plan.backend == backend and sh.state.up and not sh.state.maint:
                if sh.plan.backup:
                    backup += 1
                else:
                    active += 1
        return active, backup

    # ------------------------------------------------------------------ views

    def phase(self, key: str) -> Phase | None:
        sh = self.servers.get(key)
        return sh.counter.phase if sh is not None and sh.counter is not None else None
