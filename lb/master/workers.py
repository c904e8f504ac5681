"""Worker processes as the master sees them, and how one is started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from lb.worker.boot import ListenerFd, WorkerBoot, encode_boot


class WorkerProcess:
    """One worker: its slot, its generation, and what the master knows of its life."""

    def __init__(
        self, slot: int, generation: int, popen: subprocess.Popen[bytes], control: socket.socket
    ) -> None:
        self.slot = slot
        self.generation = generation
        self.popen = popen
        self.pid = popen.pid
        self.control = control
        self.started = time.monotonic()
        self.started_wall = time.time()
        self.ready = False
        self.stopping = False  # asked to stop (graceful or fast)
        self.stop_deadline: float | None = None  # monotonic time of the hard stop
        self.exited = False
        self.status: int | None = None  # waitpid status once reaped
        self.reloads = 0  # reloads this worker has lived through (HAProxy's show proc column)

    def signal(self, sig: int) -> None:
        if self.exited:
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def graceful_stop(self, hard_stop_after: float | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        if hard_stop_after is not None:
            self.stop_deadline = time.monotonic() + hard_stop_after
        self.signal(signal.SIGUSR1)

    def fast_stop(self) -> None:
        self.stopping = True
        self.signal(signal.SIGTERM)

    def describe_exit(self) -> str:
        status = self.status
        if status is None:
            return "still running"
        if os.WIFSIGNALED(status):
            return f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
        return f"exit status {os.waitstatus_to_exitcode(status)}"


def spawn_worker(
    boot: WorkerBoot, shm_fd: int
) -> tuple[subprocess.Popen[bytes], socket.socket, bytes]:
    """Start a fresh interpreter for one worker slot.

    Returns the process, the master's end of the control socket, and the boot
    frame still to be written to it (the caller writes it without blocking).
    """
    master_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fds = [worker_end.fileno(), shm_fd, *(lfd.fd for lfd in boot.listeners)]
    fds += boot.tables.values()  # stick tables
    try:
        popen = subprocess.Popen(
            [sys.executable, "-m", "lb.worker", str(worker_end.fileno())],
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
    finally:
        worker_end.close()
    master_end.setblocking(False)
    return popen, master_end, encode_boot(boot)


def listener_fds(entries: list[tuple[str, str, int]]) -> list[ListenerFd]:
    return [ListenerFd(frontend=f, bind_key=k, fd=fd) for f, k, fd in entries]
