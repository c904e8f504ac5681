"""The health checker's scheduling and state publishing, with scripted probe results.

The probes are replaced by a function that answers what the test says; the
state table is a real shared region, read back the way workers read it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from lb.master.health.checker import HealthChecker
from lb.master.health.probes import CheckResult
from lb.master.health.schedule import Timing
from lb.master.health.spec import CheckSpec, ServerPlan, Target, TcpProbe
from lb.stats.server_state import (
    ADMIN_CMAINT,
    ADMIN_FDRAIN,
    ADMIN_FMAINT,
    CheckStatus,
    OpState,
    ServerState,
    ServerStateTable,
    state_slots,
    version_index,
)
from lb.stats.shm import GaugeTable, SharedRegion


class Scripted:
    """Probe results by server port: ``alive[port]`` says pass or fail; calls are logged."""

    def __init__(self) -> None:
        self.alive: dict[int, bool] = {}
        self.calls: list[tuple[float, int]] = []

    async def __call__(self, spec: CheckSpec) -> CheckResult:
        port = spec.probes[0].target.port  # type: ignore[union-attr]
        self.calls.append((asyncio.get_running_loop().time(), port))
        if self.alive.get(port, True):
            return CheckResult(CheckStatus.L4OK, duration_ms=1)
        return CheckResult(CheckStatus.L4CON, duration_ms=1, info="Connection refused")

    def count(self, port: int) -> int:
        return sum(1 for _, p in self.calls if p == port)


def plan(
    name: str,
    port: int,
    *,
    inter: int = 20,
    rise: int = 2,
    fall: int = 3,
    check: bool = True,
    **kw: object,
) -> ServerPlan:
    spec = None
    if check:
        target = Target(socket.AF_INET, "127.0.0.1", port)
        spec = CheckSpec((TcpProbe(target),), Timing(inter, **kw.pop("timing", {})), rise, fall)  # type: ignore[arg-type]
    return ServerPlan("be", name, check=spec, address="127.0.0.1", port=port, **kw)  # type: ignore[arg-type]


class Harness:
    def __init__(self, region: SharedRegion) -> None:
        self.region = region
        self.gauges = GaugeTable(region.capacity)
        self.table = ServerStateTable(region.counters, version_index(region, self.gauges.slot))
        self.prober = Scripted()
        now = [1_000_000.0]
        self.wall = now
        self.checker = HealthChecker(
            self.table,
            lambda b, s: state_slots(region, self.gauges.slot, b, s),
            prober=self.prober,
            clock=lambda: now[0],
        )

    def state(self, name: str) -> ServerState:
        found = self.table.load(state_slots(self.region, self.gauges.slot, "be", name))
        assert found is not None
        return found

    def status(self, name: str, rise: int = 2, fall: int = 3) -> str:
        return self.state(name).status_text(rise, fall)


@pytest.fixture
def harness() -> Iterator[Harness]:
    region = SharedRegion.create(capacity=256)
    yield Harness(region)
    region.close()


def run(harness: Harness, body: Callable[[Harness], object]) -> None:
    async def main() -> None:
        try:
            await body(harness)  # type: ignore[misc]
        finally:
            await harness.checker.close()

    asyncio.run(main())


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def test_servers_are_published_before_any_check(harness: Harness) -> None:
    async def body(h: Harness) -> None:
        h.checker.sync(
            [
                plan("s1", 1),
                plan("s2", 2, check=False),
                plan("s3", 3, disabled=True),
                plan("s4", 4, weight=7),
            ]
        )
        # sync wrote every state at once, before any task ran
        assert h.status("s1") == "UP 1/3" and h.state("s1").check_status is CheckStatus.INI
        assert h.status("s2") == "no check" and h.state("s2").usable
        assert h.status("s3") == "MAINT" and h.state("s3").admin == ADMIN_CMAINT
        assert (h.state("s4").eweight, h.state("s4").uweight) == (7, 7)
        assert h.table.version() == 1
        await until(lambda: h.status("s1") == "UP")
        assert h.prober.count(3) == 0  # no checks in maintenance

    run(harness, body)


def test_down_after_fall_failures_up_after_rise_successes(harness: Harness) -> None:
    async def body(h: Harness) -> None:
        h.checker.sync([plan("s1", 1, rise=2, fall=3)])
        await until(lambda: h.status("s1") == "UP")
        h.prober.alive[1] = False
        seen: list[str] = []
        await until(lambda: seen.append(h.status("s1")) or h.status("s1") == "DOWN")
        assert "UP 2/3" in seen and "UP 1/3" in seen
        assert h.state("s1").check_status is CheckStatus.L4CON and not h.state("s1").usable
        before = h.prober.count(1)
        h.prober.alive[1] = True
        await until(lambda: h.status("s1") == "UP")
        assert h.prober.count(1) - before == 2  # rise
        assert h.state("s1").check_status is CheckStatus.L4OK

    run(harness, body)


def test_version_moves_only_when_picking_changes(harness: Harness) -> None:
    async def body(h: Harness) -> None:
        h.checker.sync([plan("s1", 1)])
        await until(lambda: h.status("s1") == "UP")
        version = h.table.version()
        calls = h.prober.count(1)
        await until(lambda: h.prober.count(1) >= calls + 5)
        assert h.table.version() == version  # five checks, nothing to tell the workers
        h.prober.alive[1] = False
        await until(lambda: not h.state("s1").usable)
        assert h.table.version() == version + 1

    run(harness, body)


def test_intervals_follow_the_state(harness: Harness) -> None:
    async def body(h: Harness) -> None:
        timing = {"fastinter": 10, "downinter": 200}
        h.prober.alive[1] = False
        h.checker.sync([plan("s1", 1, inter=50, rise=2, fall=2, timing=timing)])
        await until(lambda: h.status("s1", 2, 2) == "DOWN")
        await asyncio.sleep(0.05)
        t0, n0 = asyncio.get_running_loop().time(), h.prober.count(1)
        await asyncio.sleep(0.65)
        down_checks = h.prober.count(1) - n0
        assert 2 <= down_checks <= 4, down_checks  # every 200 ms (downinter)
        h.prober.alive[1] = True
        await until(lambda: h.status("s1", 2, 2) == "UP", timeout=3)
        times = [t for t, p in h.prober.calls if p == 1 and t > t0]
        # going up, the second check came fastinter (10 ms) after the first, not 200 ms
        assert times[-1] - times[-2] < 0.1

    run(harness, body)


def test_slowstart_ramps_the_weight_after_a_comeback(harness: Harness) -> None:
    async def body(h: Harness) -> None:
        h.checker.sync([plan("s1", 1, rise=1, fall=1, weight=100, slowstart=400)])
        await until(lambda: h.state("s1").check_status is CheckStatus.L4OK)
        assert h.state("s1").eweight == 100  # never at start-up
        h.prober.alive[1] = False
        await until(lambda: h.state("s1").op is OpState.STOPPED)
        h.prober.alive[1] = True
        await until(lambda: h.state("s1").op is OpState.STARTING)
        weights = []
        await until(
            lambda: weights.append(h.state("s1").eweight) or h.state("s1").op is OpState.RUNNING
        )
        assert weights[0] < 30 and any(30 < w < 100 for w in weights)
        assert weights == sorted(weights)
        assert h.state("s1").eweight == 100

    run(harness, body)


def test_reload_keeps_state_by_name(harness: Harness) -> None:
    async def body(h: Harness) -> None:
        h.prober.alive[2] = False
        h.checker.sync([plan("s1", 1), plan("s2", 2), plan("gone", 3)])
        await until(lambda: h.status("s2") == "DOWN" and h.status("s1") == "UP")
        assert h.checker.set_admin("be", "s1", "drain") is None
        assert h.checker.set_weight("be", "s1", "5") is None
        gone_calls = h.prober.count(3)
        # the new configuration: s2 checked more gently, gone removed, s5 added
        h.checker.sync([plan("s1", 1), plan("s2", 2, rise=3, fall=3), plan("s5", 5)])
        assert h.status("s1") == "DRAIN" and h.state("s1").uweight == 5  # kept
        assert h.status("s2", 3, 3) == "DOWN"  # still down, not reset to UP
        assert h.status("s5") == "UP 1/3"
        await until(lambda: h.status("s5") == "UP")
        await asyncio.sleep(0.1)
        assert h.prober.count(3) == gone_calls  # its task stopped
        # the file changes the weight: the file wins
        h.checker.sync([plan("s1", 1, weight=3), plan("s2", 2, rise=3, fall=3)])
        assert h.state("s1").uweight == 3 and h.state("s1").admin == ADMIN_FDRAIN
        # checks removed: "no check", up
        h.checker.sync([plan("s1", 1, weight=3, check=False), plan("s2", 2, check=False)])
        assert h.status("s2") == "no check" and h.state("s2").usable

    run(harness, body)


def test_admin_maintenance_pauses_checks_and_ready_resumes_them(harness: Harness) -> None:
    async def body(h: Harness) -> None:
        h.checker.sync([plan("s1", 1)])
        await until(lambda: h.status("s1") == "UP")
        assert h.checker.set_admin("be", "s1", "maint") is None
        assert h.status("s1") == "MAINT" and h.state("s1").op is OpState.STOPPED
        n = h.prober.count(1)
        await asyncio.sleep(0.1)
        assert h.prober.count(1) == n
        h.prober.alive[1] = False
        assert h.checker.set_admin("be", "s1", "ready") is None
        assert h.status("s1") == "UP 1/3"  # up at once, one failure from down
        await until(lambda: h.status("s1") == "DOWN")
        assert h.checker.set_admin("be", "nope", "ready") == "No such server.\n"
        assert h.checker.set_admin("other", "s1", "ready") == "No such backend.\n"
        assert h.checker.set_weight("be", "s1", "300") is not None

    run(harness, body)


def test_enable_a_server_disabled_in_the_file(harness: Harness) -> None:
    async def body(h: Harness) -> None:
        h.checker.sync([plan("s1", 1, disabled=True)])
        assert h.state("s1").admin == ADMIN_CMAINT
        h.checker.set_admin("be", "s1", "ready")
        assert h.state("s1").usable
        await until(lambda: h.status("s1") == "UP")
        # a reload of the same file keeps it enabled; a file that changes it wins
        h.checker.sync([plan("s1", 1, disabled=True)])
        assert h.state("s1").usable
        h.checker.set_admin("be", "s1", "maint")
        assert h.state("s1").admin & ADMIN_FMAINT

    run(harness, body)


def test_a_crashing_probe_does_not_stop_the_checks(harness: Harness) -> None:
    async def body(h: Harness) -> None:
        calls = []

        async def flaky(spec: CheckSpec) -> CheckResult:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("bug")
            return CheckResult(CheckStatus.L4OK)

        h.checker.prober = flaky
        h.checker.sync([plan("s1", 1)])
        await until(lambda: h.status("s1") == "UP", timeout=3)

    run(harness, body)


def test_plans_compare_by_value() -> None:
    a, b = plan("s1", 1), plan("s1", 1)
    assert a == b and replace(a, weight=2) != a
