"""vrrp_script tracking and notify scripts, with keepalived's semantics."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from lb.config.model import GlobalDefs, Source, VrrpScript
from lb.vrrp.scripts import (
    NotifyQueue,
    ScriptTracker,
    effective_priority,
    insecure_reason,
    run_command,
    tracking_effect,
)

SRC = Source("k.conf", 1)


@pytest.mark.parametrize(
    ("ok", "weight", "expected"),
    [
        (True, 0, (0, False)),
        (False, 0, (0, True)),  # weight 0: a failing script means FAULT
        (True, 5, (5, False)),  # positive: added while OK
        (False, 5, (0, False)),
        (True, -7, (0, False)),
        (False, -7, (-7, False)),  # negative: added (subtracted) while KO
    ],
)
def test_tracking_effect(ok: bool, weight: int, expected: tuple[int, bool]) -> None:
    assert tracking_effect(ok, weight) == expected


@pytest.mark.parametrize(
    ("base", "delta", "expected"),
    [(100, 2, 102), (100, -150, 1), (250, 10, 254), (255, -50, 255), (1, -1, 1)],
)
def test_effective_priority_is_clamped(base: int, delta: int, expected: int) -> None:
    assert effective_priority(base, delta) == expected


def _tracker(rise: int, fall: int) -> tuple[ScriptTracker, list[bool]]:
    flips: list[bool] = []
    script = VrrpScript(name="chk", source=SRC, script="true", rise=rise, fall=fall)
    tracker = ScriptTracker(script, GlobalDefs(), lambda: flips.append(tracker.ok))
    return tracker, flips


def test_rise_and_fall_count_consecutive_results() -> None:
    tracker, flips = _tracker(rise=2, fall=3)
    assert tracker.ok  # keepalived's default: OK until proven otherwise
    for result in (False, False, True, False, False):
        tracker.record(result)
    assert tracker.ok and flips == []  # the success in between reset the streak
    tracker.record(False)
    assert not tracker.ok and flips == [False]
    tracker.record(True)
    assert not tracker.ok
    tracker.record(True)
    assert tracker.ok and flips == [False, True]


def test_run_command_without_a_shell_and_with_a_timeout() -> None:
    async def main() -> tuple[int, int, int, int, float]:
        ok = await run_command(["true"], uid=None, gid=None, timeout=5)
        bad = await run_command(["false"], uid=None, gid=None, timeout=5)
        # a shell would expand this; without one, 'test' sees the literal string and fails
        literal = await run_command(["test", "$HOME", "=", "/root"], uid=None, gid=None, timeout=5)
        t0 = asyncio.get_running_loop().time()
        timed_out = await run_command(["sleep", "10"], uid=None, gid=None, timeout=0.2)
        return ok, bad, literal, timed_out, asyncio.get_running_loop().time() - t0

    ok, bad, literal, timed_out, elapsed = asyncio.run(main())
    assert (ok, bad, literal, timed_out) == (0, 1, 1, -1)
    assert elapsed < 2


def test_tracker_runs_the_seed_style_script() -> None:
    """The seed's `killall -0 haproxy` keeps working as written (here: a process that exists)."""
    script = VrrpScript(name="chk", source=SRC, script=f"kill -0 {os.getpid()}", interval=100)
    tracker = ScriptTracker(script, GlobalDefs(), lambda: None)
    assert tracker.argv == ["kill", "-0", str(os.getpid())]
    assert asyncio.run(tracker.run_once(5.0)) is True
    missing = VrrpScript(name="chk", source=SRC, script="/no/such/script --flag")
    assert asyncio.run(ScriptTracker(missing, GlobalDefs(), lambda: None).run_once(1.0)) is False


def test_script_security_refuses_writable_scripts(tmp_path: Path) -> None:
    script = tmp_path / "check.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o777)
    assert insecure_reason([str(script)]) is not None
    assert insecure_reason(["/no/such/thing"]) == "'/no/such/thing' not found"
    os.chmod(script, stat.S_IRWXU)
    os.chmod(tmp_path, 0o755)
    # root's own file in root's directories (/tmp is sticky: allowed, as keepalived allows it)
    assert insecure_reason([str(script)]) is None
    os.chown(script, 65534, 65534)
    assert insecure_reason([str(script)]) == f"{script} is owned by uid 65534"


def test_notify_scripts_run_in_order_with_keepalived_arguments(tmp_path: Path) -> None:
    out = tmp_path / "notify.log"
    script = tmp_path / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$@" >> {out}\n')
    script.chmod(0o755)

    async def main() -> None:
        queue = NotifyQueue(GlobalDefs())
        queue.start()
        queue.put(str(script), "INSTANCE", "VI_1", "BACKUP", "100")
        queue.put(str(script), "INSTANCE", "VI_1", "MASTER", "100")
        queue.put(f"{script} fixed-arg")
        await queue.flush()
        await asyncio.sleep(0.3)
        queue.stop()

    asyncio.run(main())
    assert out.read_text().splitlines() == [
        "INSTANCE VI_1 BACKUP 100",
        "INSTANCE VI_1 MASTER 100",
        "fixed-arg",
    ]
