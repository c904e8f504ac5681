"""The runtime API on the ``stats socket``: HAProxy's command-line protocol.

One connection carries one line; several commands may be separated by ``;``.
Each answer ends with an empty line and the server closes the connection, so
``echo 'show info' | socat stdio /run/lb.sock`` scripts work unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import stat
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from lb import RELEASE_DATE, __version__, log
from lb.config.model import Config, StatsSocket
from lb.stats.runtime import StatsCommands, stats_info_fields
from lb.stats.shm import GaugeNames
from lb.sticktable.show import TABLE_COMMANDS

if TYPE_CHECKING:
    from lb.master.arbiter import Arbiter
    from lb.master.workers import WorkerProcess

LEVELS = {"user": 0, "operator": 1, "admin": 2}
TABLE_LEVEL = "operator"  # stick tables: read, set and cleared from operator level on
TABLE_HELP = (
    ("show table [NAME [key K|data.X OP V]]", "the stick tables, or one table's entries"),
    ("set table NAME key K data.X V ...", "create or update an entry of a stick table"),
    ("clear table NAME [key K|data.X OP V]", "remove entries from a stick table"),
)


def format_uptime(seconds: float) -> str:
    """HAProxy's ``0d00h00m05s``."""
    s = int(seconds)
    return f"{s // 86400}d{s // 3600 % 24:02d}h{s // 60 % 60:02d}m{s % 60:02d}s"


class RuntimeApi:
    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        self.servers: dict[str, tuple[StatsSocket, asyncio.AbstractServer]] = {}
        self.commands: dict[str, tuple[str, str, Callable[[], Awaitable[str]]]] = {
            # name: (minimum level, help, handler)
            "help": ("user", "this message", self.cmd_help),
            "show info": (
                "user",
                "report information about the running process",
                self.cmd_show_info,
            ),
            "show proc": ("user", "show processes status", self.cmd_show_proc),
            "show vrrp": ("user", "VRRP instances: state, priority, counters", self.cmd_show_vrrp),
            "show servers state": (
                "user",
                "dump the servers' state (health checks, admin state, weights)",
                self.cmd_show_servers_state,
            ),
            "reload": ("admin", "reload the configuration (like SIGUSR2)", self.cmd_reload),
        }
        self.stats_commands = StatsCommands(arbiter)  # commands with arguments (lb.stats)

    # ------------------------------------------------------------------ sockets

    async def sync(self, config: Config) -> list[str]:
        """Listen on exactly the sockets ``config`` declares (called at start and reload).

        Returns the alerts for sockets that could not be opened.
        """
        errors: list[str] = []
        wanted = {s.path: s for s in config.global_.stats_sockets}
        for path in [p for p in self.servers if p not in wanted or self.servers[p][0] != wanted[p]]:
            await self._close_one(path)
        for path, spec in wanted.items():
            if path in self.servers:
                continue
            try:
                await self._open_one(spec)
            except OSError as exc:
                errors.append(f"{spec.source}: cannot open stats socket {path}: {exc}")
                log.alert(errors[-1])
        return errors

    async def _open_one(self, spec: StatsSocket) -> None:
        path = spec.path
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)  # left over by a previous run
        level = LEVELS[spec.level]

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(reader, writer, level)

        server = await asyncio.start_unix_server(handle, path)
        if spec.mode is not None:
            os.chmod(path, spec.mode)
        if spec.uid is not None or spec.gid is not None:
            os.chown(
                path, -1 if spec.uid is None else spec.uid, -1 if spec.gid is None else spec.gid
            )
        self.servers[path] = (spec, server)

    async def _close_one(self, path: str) -> None:
        _spec, server = self.servers.pop(path)
        server.close()
        with contextlib.suppress(OSError):
            os.unlink(path)

    async def close(self) -> None:
        for path in list(self.servers):
            await self._close_one(path)

    # ------------------------------------------------------------------ protocol

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, level: int
    ) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10.0)
            for command in line.decode("utf-8", "replace").split(";"):
                command = " ".join(command.split())
                if command:
                    writer.write((await self.execute(command, level)).encode())
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def execute(self, command: str, level: int = 2) -> str:
        words = command.split()
        if words[1:2] == ["table"] and words[0] in TABLE_COMMANDS:  # commands with arguments
            if level < LEVELS[TABLE_LEVEL]:
                return f"Unknown command: '{command}'\n\n" + await self.cmd_help(level)
            try:
                tables = self.arbiter.tables.of(self.arbiter.current.config)
                return TABLE_COMMANDS[words[0]](tables, words[2:])
            except Exception as exc:  # a bug must not take the master down with it
                log.alert(f"runtime API command '{command}' failed: {exc!r}")
                return f"Internal error while running '{command}': {exc}\n\n"
        entry = self.commands.get(command)
        if entry is None:
            found = self.stats_commands.find(command)
            if found is not None and LEVELS[found[0]] <= level:
                try:
                    return await found[2](found[3])
                except Exception as exc:  # a bug must not take the master down with it
                    log.alert(f"runtime API command '{command}' failed: {exc!r}")
                    return f"Internal error while running '{command}': {exc}\n\n"
        if entry is None or LEVELS[entry[0]] > level:
            return f"Unknown command: '{command}'\n\n" + await self.cmd_help(level)
        try:
            return await entry[2]()
        except Exception as exc:  # a bug must not take the master down with it
            log.alert(f"runtime API command '{command}' failed: {exc!r}")
            return f"Internal error while running '{command}': {exc}\n\n"

    # ------------------------------------------------------------------ commands

    async def cmd_help(self, level: int = 2) -> str:
        lines = ["The following commands are valid at this level:"]
        for name, (minimum, text, _h) in self.commands.items():
            if LEVELS[minimum] <= level:
                lines.append(f"  {name:<35}: {text}")
        for name, minimum, text in self.stats_commands.help_lines():
            if LEVELS[minimum] <= level:
                lines.append(f"  {name:<35}: {text}")
        if LEVELS[TABLE_LEVEL] <= level:
            for name, text in TABLE_HELP:
                lines.append(f"  {name:<35}: {text}")
        return "\n".join(lines) + "\n\n"

    async def cmd_show_info(self) -> str:
        a = self.arbiter
        gen = a.current
        uptime = time.time() - a.started
        region = a.region
        cur = region.load(a.gauges.slot(GaugeNames.GLOBAL_CUR_CONNS))
        cum = region.load(a.gauges.slot(GaugeNames.GLOBAL_CUM_CONNS))
        g = gen.config.global_
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        fields = [
            ("Name", "lb"),
            ("Version", __version__),
            ("Release_date", RELEASE_DATE),
            ("Nbthread", gen.nworkers),
            ("Nbproc", 1),
            ("Process_num", 1),
            ("Pid", os.getpid()),
            ("Uptime", format_uptime(uptime)),
            ("Uptime_sec", int(uptime)),
            ("Ulimit-n", nofile),
            ("Maxsock", nofile),
            ("Maxconn", gen.maxconn),
            ("Hard_maxconn", gen.maxconn),
            ("CurrConns", cur),
            ("CumConns", cum),
            ("Stopping", int(a.stopping)),
            ("Jobs", cur),
            ("Listeners", sum(len(p.binds) for p in gen.config.frontends())),
            ("node", g.node or os.uname().nodename),
            ("description", g.description or ""),
            ("Generation", gen.number),
            ("Reloads", a.reloads),
            ("Failed_reloads", a.failed_reloads),
            ("Workers", len([w for w in a.live_workers() if w.generation == gen.number])),
            *stats_info_fields(a.stats.snapshot(gen.config, gen.maxconn)),
        ]
        return "".join(f"{k}: {v}\n" for k, v in fields) + "\n"

    async def cmd_show_proc(self) -> str:
        a = self.arbiter
        now = time.time()
        row = "{:<16}{:<16}{:<16}{:<16}{:<16}{}\n"
        out = [
            row.format(
                "#<PID>", "<type>", "<reloads>", "<uptime>", "<version>", "<slot>  <generation>"
            ),
            row.format(
                os.getpid(),
                "master",
                f"{a.reloads} [failed: {a.failed_reloads}]",
                format_uptime(now - a.started),
                __version__,
                "",
            ).rstrip()
            + "\n",
        ]
        current = a.current.number
        live = sorted(a.live_workers(), key=lambda w: (w.generation, w.slot))
        out.append("# workers\n")
        for w in live:
            if w.generation == current and not w.stopping:
                out.append(self._proc_row(row, w, now))
        out.append("# old workers\n")
        for w in live:
            if w.generation != current or w.stopping:
                out.append(self._proc_row(row, w, now))
        return "".join(out) + "\n"

    @staticmethod
    def _proc_row(row: str, w: WorkerProcess, now: float) -> str:
        return row.format(
            w.pid,
            "worker",
            w.reloads,
            format_uptime(now - w.started_wall),
            __version__,
            f"{w.slot:<8}{w.generation}",
        )

    async def cmd_show_vrrp(self) -> str:
        vrrp = self.arbiter.vrrp
        return vrrp.show() if vrrp is not None else "no VRRP instance\n\n"

    async def cmd_show_servers_state(self) -> str:
        from lb.master.health.show import show_servers_state

        return show_servers_state(self.arbiter.health)

    async def cmd_reload(self) -> str:
        ok, lines = await self.arbiter.reload()
        body = "".join(line + "\n" for line in lines)
        return f"Success={int(ok)}\n--\n{body}\n"
