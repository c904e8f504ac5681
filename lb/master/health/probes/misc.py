"""keepalived's MISC_CHECK: a program, run without a shell; exit status 0 passes."""

from __future__ import annotations

import asyncio

from lb.master.health.probes.result import CheckResult, elapsed_ms
from lb.master.health.spec import MiscProbe
from lb.stats.server_state import CheckStatus
from lb.vrrp.scripts import ScriptError, run_command


async def misc_probe(probe: MiscProbe) -> CheckResult:
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        code = await run_command(
            list(probe.argv), uid=probe.uid, gid=probe.gid, timeout=probe.timeout_ms / 1000
        )
    except ScriptError as exc:
        return CheckResult(CheckStatus.PROCERR, 0, elapsed_ms(start, loop.time()), str(exc))
    duration = elapsed_ms(start, loop.time())
    if code == 0:
        return CheckResult(CheckStatus.PROCOK, 0, duration)
    if code == -1:
        return CheckResult(CheckStatus.PROCTOUT, 0, duration, "timeout, killed")
    return CheckResult(CheckStatus.PROCERR, max(code, 0), duration, f"exit status {code}")
