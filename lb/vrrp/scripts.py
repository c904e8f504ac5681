"""vrrp_script trackers, notify scripts and mail alerts, with keepalived's meaning.

- A tracked script runs every ``interval`` without a shell (its words split as a
  shell would, but nothing is interpreted), as ``user``/``script_user``, killed at
  ``timeout``. It starts OK (keepalived's default without ``init_fail``), turns KO
  after ``fall`` failures in a row and OK again after ``rise`` successes.
- Its effect on an instance (``weight``, or the track_script line's own): 0 → the
  instance goes to FAULT while the script is KO; > 0 → added to the priority while
  OK; < 0 → added (so subtracted) while KO. The result is clamped to 1..254.
- Notify scripts get keepalived's arguments (``notify``: INSTANCE|GROUP, name,
  state, priority) and run one after another, in transition order.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shlex
import shutil
import smtplib
import socket
import stat
from collections.abc import Callable
from email.message import EmailMessage

from lb import log
from lb.config.model import GlobalDefs, VrrpScript

SCRIPT_USER_DEFAULT = "keepalived_script"  # keepalived's default script user when it exists
NOTIFY_TIMEOUT = 30.0  # s: a hung notify script must not hold the queue forever


class ScriptError(Exception):
    pass


def _account(user: str | None, group: str | None) -> tuple[int | None, int | None]:
    if user is None:
        return None, None
    entry = pwd.getpwnam(user)
    gid = grp.getgrnam(group).gr_gid if group else entry.pw_gid
    return entry.pw_uid, gid


def script_account(
    user: str | None, group: str | None, defs: GlobalDefs
) -> tuple[int | None, int | None]:
    """uid/gid a script runs as: its own ``user``, else ``script_user``, else keepalived_script.

    None, None means root (keepalived's choice when keepalived_script does not exist).
    """
    if user is None:
        user, group = defs.script_user, defs.script_group
    if user is None:
        try:
            pwd.getpwnam(SCRIPT_USER_DEFAULT)
        except KeyError:
            return None, None
        user = SCRIPT_USER_DEFAULT
    return _account(user, group)


def insecure_reason(argv: list[str]) -> str | None:
    """With enable_script_security: why a script root would run is unsafe (None = fine).

    A script is unsafe when a non-root user could change it: the file or any of
    its directories writable by group or others, or owned by someone else.
    """
    path = shutil.which(argv[0]) if argv else None
    if path is None:
        return f"'{argv[0] if argv else ''}' not found"
    current = os.path.realpath(path)
    while True:
        st = os.stat(current)
        if st.st_uid != 0:
            return f"{current} is owned by uid {st.st_uid}"
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not (
            stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
        ):
            return f"{current} is writable by non-root users"
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


async def run_command(
    argv: list[str], *, uid: int | None, gid: int | None, timeout: float | None
) -> int:
    """Run without a shell; the exit code, or -1 when it could not run or timed out."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            user=uid,
            group=gid,
            extra_groups=[] if gid is not None else None,
            start_new_session=True,
        )
    except OSError as exc:
        raise ScriptError(f"cannot run {argv[0]!r}: {exc}") from exc
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        await proc.wait()
        return -1


class ScriptTracker:
    """One vrrp_script, run periodically; ``ok`` is its current verdict."""

    def __init__(self, script: VrrpScript, defs: GlobalDefs, on_change: Callable[[], None]) -> None:
        self.script = script
        self.name = script.name
        self.argv = shlex.split(script.script)
        self.uid, self.gid = script_account(script.user, script.group, defs)
        self.secure_check = defs.enable_script_security and self.uid is None
        self.on_change = on_change
        self.ok = True
        self._streak = 0  # consecutive results against the current verdict
        self.last_code: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._error_logged = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _loop(self) -> None:
        interval = self.script.interval / 1000.0
        timeout = (self.script.timeout or self.script.interval) / 1000.0
        while True:
            self.record(await self.run_once(timeout))
            await asyncio.sleep(interval)

    async def run_once(self, timeout: float) -> bool:
        if self.secure_check:
            reason = insecure_reason(self.argv)
            if reason is not None:
                self._log_once(
                    f"vrrp_script {self.name}: refused by enable_script_security: {reason}"
                )
                return False
        try:
            code = await run_command(self.argv, uid=self.uid, gid=self.gid, timeout=timeout)
        except ScriptError as exc:
            self._log_once(f"vrrp_script {self.name}: {exc}")
            return False
        self.last_code = code
        return code == 0

    def record(self, success: bool) -> None:
        """Apply one result with rise/fall; call on_change when the verdict flips."""
        if success == self.ok:
            self._streak = 0
            return
        self._streak += 1
        needed = self.script.rise if success else self.script.fall
        if self._streak >= needed:
            self.ok = success
            self._streak = 0
            log.notice(f"vrrp_script {self.name} is now {'OK' if success else 'KO'}")
            self.on_change()

    def _log_once(self, message: str) -> None:
        if not self._error_logged:
            self._error_logged = True
            log.warning(message)


def tracking_effect(ok: bool, weight: int) -> tuple[int, bool]:
    """(priority change, fault) of one tracked item in its current state."""
    if weight == 0:
        return 0, not ok
    if weight > 0:
        return (weight if ok else 0), False
    return (0 if ok else weight), False


def effective_priority(base: int, delta: int) -> int:
    """keepalived clamps a tracked priority to 1..254; an owner (255) is not moved."""
    if base == 255:
        return 255
    return max(1, min(254, base + delta))


class NotifyQueue:
    """Runs notify scripts one after another, in the order transitions happened."""

    def __init__(self, defs: GlobalDefs) -> None:
        self.defs = defs
        self._queue: asyncio.Queue[list[str]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    def put(self, command: str, *extra: str) -> None:
        argv = [*shlex.split(command), *extra]
        if argv:
            self._queue.put_nowait(argv)

    async def _drain(self) -> None:
        uid, gid = script_account(None, None, self.defs)
        while True:
            argv = await self._queue.get()
            try:
                code = await run_command(argv, uid=uid, gid=gid, timeout=NOTIFY_TIMEOUT)
                if code != 0:
                    log.warning(f"notify script {argv[0]} exited with {code}")
            except ScriptError as exc:
                log.warning(f"notify script: {exc}")

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until every queued script has been started and finished."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._queue.empty() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


def send_mail_alert(defs: GlobalDefs, subject: str, body: str) -> None:
    """Blocking: call through asyncio.to_thread. Failures are logged, never raised."""
    if not defs.smtp_server or not defs.notification_email:
        return
    message = EmailMessage()
    message["From"] = defs.notification_email_from or f"lb@{socket.gethostname()}"
    message["To"] = ", ".join(defs.notification_email)
    message["Subject"] = subject
    message.set_content(body)
    timeout = (defs.smtp_connect_timeout or 30000) / 1000.0
    port = defs.smtp_server_port or 25
    try:
        with smtplib.SMTP(defs.smtp_server, port, timeout=timeout) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning(f"mail alert to {defs.smtp_server}:{port} failed: {exc}")
