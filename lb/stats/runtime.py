"""The runtime API's statistics and server commands (the master runs them).

``show stat [typed|json]``, ``clear counters [all]``, ``set server BE/SRV state
ready|drain|maint``, ``set weight BE/SRV N[%]``, ``disable|enable server BE/SRV`` and
``set maxconn server BE/SRV N`` (refused: server limits are compiled into the workers).

Server state changes go through a ``ServerAdmin``: by default one that writes the shared
server state table directly (lb.stats.server_state); the health checker can provide its
own (``arbiter.server_admin``) so that checks and admin changes share one writer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from lb.stats.render_text import render_csv, render_json, render_typed
from lb.stats.server_state import (
    ADMIN_CMAINT,
    ADMIN_FDRAIN,
    ADMIN_FMAINT,
    MAX_WEIGHT,
    ServerState,
    ServerStateTable,
    state_slots,
    version_index,
)
from lb.stats.snapshot import Snapshot, placeholder_state
from lb.stats.view import View, select

if TYPE_CHECKING:
    from lb.master.arbiter import Arbiter

Handler = Callable[[list[str]], Awaitable[str]]


class ServerAdmin(Protocol):
    def set_admin(self, backend: str, server: str, action: str) -> str | None:
        """``action``: ready, drain or maint. Returns an error message, None when done."""

    def set_weight(self, backend: str, server: str, weight: str) -> str | None:
        """``weight``: N or N% (of the configured weight). Returns an error, None when done."""


def admin_flags(admin: int, action: str) -> int:
    """HAProxy's admin transitions: ready leaves maintenance and drain; drain leaves
    maintenance; maint forces maintenance."""
    if action == "ready":
        return admin & ~(ADMIN_FMAINT | ADMIN_CMAINT | ADMIN_FDRAIN)
    if action == "drain":
        return (admin & ~(ADMIN_FMAINT | ADMIN_CMAINT)) | ADMIN_FDRAIN
    if action == "maint":
        return admin | ADMIN_FMAINT
    raise ValueError(action)


def parse_weight(text: str, configured: int) -> int | None:
    """``N`` (0..256) or ``N%`` of the configured weight; None when invalid."""
    try:
        value = configured * int(text[:-1]) // 100 if text.endswith("%") else int(text)
    except ValueError:
        return None
    return value if 0 <= value <= MAX_WEIGHT else None


class SharedStateAdmin:
    """A ServerAdmin writing the server state table in shared memory."""

    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter

    def _server(self, backend: str, server: str) -> tuple[object, str | None]:
        proxy = self.arbiter.current.config.backend(backend)
        if proxy is None:
            return None, "No such backend.\n"
        for s in proxy.servers:
            if s.name == server:
                return s, None
        return None, "No such server.\n"

    def _table(self) -> ServerStateTable:
        a = self.arbiter
        return ServerStateTable(a.region.counters, version_index(a.region, a.gauges.slot))

    def _update(
        self, backend: str, server: str, change: Callable[[ServerState, object], ServerState | None]
    ) -> str | None:
        conf, error = self._server(backend, server)
        if error is not None:
            return error
        a = self.arbiter
        slots = state_slots(a.region, a.gauges.slot, backend, server)
        table = self._table()
        current = table.load(slots) or placeholder_state(conf)  # type: ignore[arg-type]
        new = change(current, conf)
        if new is None:
            return "Invalid value.\n"
        if new != current:
            table.store(slots, new)
        return None

    def set_admin(self, backend: str, server: str, action: str) -> str | None:
        def change(state: ServerState, _conf: object) -> ServerState:
            admin = admin_flags(state.admin, action)
            if admin == state.admin:
                return state
            return state.but(admin=admin, last_change_ms=int(time.time() * 1000))

        return self._update(backend, server, change)

    def set_weight(self, backend: str, server: str, weight: str) -> str | None:
        def change(state: ServerState, conf: object) -> ServerState | None:
            value = parse_weight(weight, getattr(conf, "weight", 1))
            if value is None:
                return None
            return state.but(uweight=value, eweight=value)

        return self._update(backend, server, change)


class StatsCommands:
    """Commands with arguments, matched by their leading words."""

    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        # words: (minimum level, help, handler of the remaining words)
        self.table: dict[tuple[str, ...], tuple[str, str, Handler]] = {
            ("show", "stat"): (
                "user",
                "report counters for each proxy and server [typed|json]",
                self.show_stat,
            ),
            ("clear", "counters"): (
                "operator",
                "clear max counters ('all': every counter)",
                self.clear_counters,
            ),
            ("set", "server"): (
                "admin",
                "change a server's state: BE/SRV state ready|drain|maint",
                self.set_server,
            ),
            ("set", "weight"): ("admin", "change a server's weight: BE/SRV N[%]", self.set_weight),
            ("disable", "server"): (
                "admin",
                "put a server in maintenance: BE/SRV",
                self.disable_server,
            ),
            ("enable", "server"): (
                "admin",
                "take a server out of maintenance: BE/SRV",
                self.enable_server,
            ),
            ("set", "maxconn", "server"): (
                "admin",
                "change a server's maxconn (not supported)",
                self.set_maxconn,
            ),
        }

    def find(self, command: str) -> tuple[str, str, Handler, list[str]] | None:
        words = command.split()
        for size in (3, 2):
            entry = self.table.get(tuple(words[:size]))
            if entry is not None:
                return (*entry, words[size:])
        return None

    def help_lines(self) -> list[tuple[str, str, str]]:
        return [(" ".join(words), level, text) for words, (level, text, _h) in self.table.items()]

    @property
    def admin(self) -> ServerAdmin:
        custom = getattr(self.arbiter, "server_admin", None)
        return custom if custom is not None else SharedStateAdmin(self.arbiter)

    # ------------------------------------------------------------------ commands

    async def show_stat(self, args: list[str]) -> str:
        a = self.arbiter
        snapshot = a.stats.snapshot(a.current.config, a.current.maxconn)
        proxies = select(snapshot, View())
        if "typed" in args:
            return render_typed(proxies) + "\n"
        if "json" in args:
            return render_json(proxies) + "\n"
        return render_csv(proxies) + "\n"

    async def clear_counters(self, args: list[str]) -> str:
        self.arbiter.stats.clear(everything=args[:1] == ["all"])
        return "\n"

    @staticmethod
    def _target(words: list[str]) -> tuple[str, str] | None:
        if not words or "/" not in words[0]:
            return None
        backend, _, server = words[0].partition("/")
        return (backend, server) if backend and server else None

    async def set_server(self, args: list[str]) -> str:
        target = self._target(args)
        if (
            target is None
            or len(args) != 3
            or args[1] != "state"
            or args[2] not in ("ready", "drain", "maint")
        ):
            return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"
        error = self.admin.set_admin(*target, args[2])
        return (error or "") + "\n"

    async def set_weight(self, args: list[str]) -> str:
        target = self._target(args)
        if target is None or len(args) != 2:
            return "Require 'backend/server' and 'weight' or 'weight%'.\n\n"
        error = self.admin.set_weight(*target, args[1])
        return (error or "") + "\n"

    async def disable_server(self, args: list[str]) -> str:
        target = self._target(args)
        if target is None or len(args) != 1:
            return "Require 'backend/server'.\n\n"
        return (self.admin.set_admin(*target, "maint") or "") + "\n"

    async def enable_server(self, args: list[str]) -> str:
        target = self._target(args)
        if target is None or len(args) != 1:
            return "Require 'backend/server'.\n\n"
        return (self.admin.set_admin(*target, "ready") or "") + "\n"

    async def set_maxconn(self, args: list[str]) -> str:
        return "set maxconn server is not supported by lb yet: change the file and reload.\n\n"


def stats_info_fields(snapshot: Snapshot) -> list[tuple[str, object]]:
    """What ``show info`` adds from the counters (HAProxy's names where it has them)."""
    p = snapshot.process
    return [
        ("CumReq", p.cum_req),
        ("ConnRate", p.conn_rate),
        ("MaxConnRate", p.conn_rate_max),
        ("SessRate", p.sess_rate),
        ("MaxSessRate", p.sess_rate_max),
        ("TotalBytesOut", p.bytes_out),
        ("BytesOutRate", p.bytes_out_rate),
        ("WorkerRestarts", p.master.restarts),
    ]
