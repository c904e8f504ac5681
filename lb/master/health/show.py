"""``show servers state``: the health checker's view, in HAProxy's format 1."""

from __future__ import annotations

import time

from lb.master.health.checker import HealthChecker, ServerHealth
from lb.stats.server_state import ADMIN_MAINT, CheckStatus

COLUMNS = (
    "be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
    "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
    "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
    "srv_agent_port"
)

# srv_check_result
RESULT_UNKNOWN, RESULT_FAILED, RESULT_PASSED = 0, 2, 3
# srv_check_state
CHECK_CONFIGURED, CHECK_ENABLED, CHECK_PAUSED = 0x02, 0x04, 0x08


def show_servers_state(
    checker: HealthChecker, backend: str | None = None, now: float | None = None
) -> str:
    now = time.time() if now is None else now
    backend_ids: dict[str, int] = {}
    lines = ["1", f"# {COLUMNS}"]
    for sh in checker.servers.values():
        name = sh.plan.backend
        be_id = backend_ids.setdefault(name, len(backend_ids) + 1)
        if backend is not None and name != backend:
            continue
        lines.append(_row(sh, be_id, now))
    return "\n".join(lines) + "\n\n"


def _row(sh: ServerHealth, be_id: int, now: float) -> str:
    plan, state = sh.plan, sh.state
    if not state.checked or state.check_status in (CheckStatus.INI, CheckStatus.UNKNOWN):
        result = RESULT_UNKNOWN
    else:
        result = RESULT_PASSED if state.check_status.passed else RESULT_FAILED
    check_state = 0
    check_port, check_addr = 0, "-"
    if plan.check is not None:
        check_state = CHECK_CONFIGURED | CHECK_ENABLED
        if state.admin & ADMIN_MAINT:
            check_state |= CHECK_PAUSED
        target = getattr(plan.check.probes[0], "target", None)
        if target is not None:
            if target.port != plan.port:
                check_port = target.port
            if target.host != plan.address:
                check_addr = target.host
    since = max(0, int(now - state.last_change_ms / 1000))
    fields = (
        be_id,
        plan.backend,
        plan.server_id,
        plan.server,
        plan.address,
        int(state.op),
        state.admin,
        state.uweight,
        plan.weight,
        since,
        int(state.check_status),
        result,
        state.health,
        check_state,
        0,
        0,
        0,
        "-",
        plan.port,
        "-",
        0,
        check_port,
        check_addr,
        "-",
        0,
    )
    return " ".join(str(f) for f in fields)
