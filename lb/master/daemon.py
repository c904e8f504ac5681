"""Becoming a daemon (``daemon`` / ``-D``) and the pidfile.

The launching process waits until the daemon's first generation is serving
(or has failed) before it exits, so ``lb -D`` returning 0 means "running".
"""

from __future__ import annotations

import os
import sys


class Daemonizer:
    def __init__(self) -> None:
        self._report_fd: int | None = None

    def detach(self) -> None:
        """Fork twice; the caller continues as the daemon. The original process waits and exits."""
        read_fd, write_fd = os.pipe()
        if os.fork() > 0:
            os.close(write_fd)
            message = b""
            while chunk := os.read(read_fd, 4096):
                message += chunk
            ok = message.startswith(b"ok")
            if not ok:
                sys.stderr.write(message.decode(errors="replace") or "lb: daemon failed to start\n")
            os._exit(0 if ok else 1)
        os.close(read_fd)
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        self._report_fd = write_fd
        os.chdir("/")
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.close(devnull)

    def report_ready(self) -> None:
        """Tell the waiting launcher we serve; a terminal will go away, so stop writing to it."""
        if self._report_fd is None:
            return
        os.write(self._report_fd, b"ok\n")
        os.close(self._report_fd)
        self._report_fd = None
        if os.isatty(2):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)

    def report_failure(self, text: str) -> None:
        if self._report_fd is None:
            return
        os.write(self._report_fd, text.encode())
        os.close(self._report_fd)
        self._report_fd = None


def write_pidfile(path: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(tmp, path)
