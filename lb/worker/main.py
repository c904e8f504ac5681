"""Entry point of a worker interpreter: ``python -m lb.worker CONTROL_FD``.

Order matters: read the boot message, import and build everything, then chroot
and drop to the configured user (nothing can be imported after the chroot),
then tell the master we are ready.
"""

from __future__ import annotations

import asyncio
import gc
import grp
import os
import pwd
import signal
import socket
import sys

import uvloop

from lb import log
from lb.config.model import Global
from lb.worker.boot import READY, read_boot
from lb.worker.worker import Worker


def drop_privileges(g: Global) -> None:
    """chroot, then group, then user: the order in which each step still has the right to run."""
    uid = g.uid
    gid = g.gid
    if g.user is not None:
        entry = pwd.getpwnam(g.user)
        uid = entry.pw_uid
        if gid is None and g.group is None:
            gid = entry.pw_gid
    if g.group is not None:
        gid = grp.getgrnam(g.group).gr_gid
    if g.chroot is not None:
        os.chroot(g.chroot)
        os.chdir("/")
    if gid is not None:
        os.setgroups([])
        os.setgid(gid)
    if uid is not None:
        os.setuid(uid)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    control = socket.socket(fileno=int(argv[0]))
    # The terminal's Ctrl-C and the master's reload signals are the master's business.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)
    boot = read_boot(control)

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    worker = Worker(boot, loop)
    worker.start()
    try:
        drop_privileges(boot.config.global_)
    except (OSError, KeyError) as exc:
        log.alert(f"worker {boot.slot}: cannot drop privileges: {exc}")
        return 1

    loop.add_signal_handler(signal.SIGUSR1, worker.graceful_stop)
    loop.add_signal_handler(signal.SIGTERM, worker.fast_stop)

    def on_control() -> None:
        try:
            data = control.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the master is gone: nobody will ever reload or stop us
            loop.remove_reader(control.fileno())
            worker.fast_stop()

    # What was built at boot (configuration, tables, code) lives as long as the worker:
    # out of the collector's sight. Requests allocate many short-lived containers; a
    # larger first generation collects them less often (a tenth of the close-scenario
    # profile was the collector with the defaults).
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    control.setblocking(False)
    worker.control = control  # the stats page's admin form sends its commands over it
    control.send(READY)
    loop.add_reader(control.fileno(), on_control)
    try:
        loop.run_forever()
    finally:
        loop.remove_reader(control.fileno())
        control.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
