"""systemd's readiness protocol (Type=notify): datagrams to $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket
import time


def notify(*states: str) -> bool:
    """Send ``READY=1``, ``RELOADING=1``, ``STOPPING=1``, … if systemd asked for them."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):  # abstract namespace
        path = "\0" + path[1:]
    message = "\n".join(states).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(path)
            sock.sendall(message)
        except OSError:
            return False
    return True


def reloading() -> bool:
    # systemd ≥ 253 wants the monotonic time with RELOADING=1 (Type=notify-reload).
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}")
