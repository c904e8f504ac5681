"""Every server the master checks: HAProxy's backends and keepalived's virtual servers."""

from __future__ import annotations

from lb import log
from lb.config.model import Config
from lb.master.health.keepalived import SpecError, keepalived_plans
from lb.master.health.spec import ServerPlan, haproxy_plans


def server_plans(config: Config, server_addrs: dict[str, tuple[int, str, int]]) -> list[ServerPlan]:
    """One plan per server; a virtual_server's real servers carry keepalived's checks."""
    plans = haproxy_plans(config, server_addrs)
    if config.keepalived is None or all(p.virtual_server is None for p in config.proxies):
        return plans
    from lb.vrrp.scripts import script_account

    defs = config.keepalived.global_defs
    try:
        return keepalived_plans(config, plans, lambda u, g: script_account(u, g, defs))
    except SpecError as exc:
        # the loader built the same specs without error: only a user or group removed
        # since then gets here; the servers then run unchecked rather than not at all
        log.alert(f"keepalived checks not started: {exc}")
        return plans
