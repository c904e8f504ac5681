"""What the master keeps of root's powers, and the process limits it sets.

The master must keep binding privileged ports, VRRP and ICMP (raw sockets,
addresses), and starting workers as the configured user inside a chroot. It
drops every other capability from its bounding set, so neither it nor any
worker can regain them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource

from lb import log

# linux/capability.h
CAP_CHOWN = 0
CAP_DAC_OVERRIDE = 1
CAP_FOWNER = 3
CAP_KILL = 5
CAP_SETGID = 6
CAP_SETUID = 7
CAP_SETPCAP = 8
CAP_NET_BIND_SERVICE = 10
CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
CAP_SYS_CHROOT = 18
CAP_SYS_RESOURCE = 24

KEPT = {
    CAP_NET_BIND_SERVICE: "bind privileged ports",
    CAP_NET_ADMIN: "add and remove virtual addresses (VRRP)",
    CAP_NET_RAW: "VRRP adverts, gratuitous ARP, ICMP checks",
    CAP_SETUID: "start workers as the configured user",
    CAP_SETGID: "start workers as the configured group",
    CAP_SYS_CHROOT: "chroot the workers",
    CAP_KILL: "signal workers that run as another user",
    CAP_SYS_RESOURCE: "raise ulimit-n on reload",
    CAP_CHOWN: "give the stats socket its owner",
    CAP_FOWNER: "set the stats socket's mode",
}

_PR_CAPBSET_DROP = 24
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return 40


def drop_capabilities() -> None:
    """Keep only KEPT (root only; without root there is nothing to drop)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    for cap in range(_last_cap() + 1):
        if cap in KEPT or cap == CAP_SETPCAP:
            continue
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            log.warning(f"cannot drop capability {cap}: {os.strerror(ctypes.get_errno())}")
            return
    # SETPCAP was needed for the drops above; it goes last.
    libc.prctl(_PR_CAPBSET_DROP, CAP_SETPCAP, 0, 0, 0)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    current = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), current) != 0:
        log.warning(f"cannot read capabilities: {os.strerror(ctypes.get_errno())}")
        return
    data = (_CapData * 2)()
    for cap in KEPT:
        bit = 1 << (cap % 32)
        if current[cap // 32].permitted & bit:  # a container may not have given us all of them
            data[cap // 32].effective |= bit
            data[cap // 32].permitted |= bit
    if libc.capset(ctypes.byref(header), data) != 0:
        log.warning(f"cannot reduce capabilities: {os.strerror(ctypes.get_errno())}")


# File descriptors a proxied TCP session may hold: two sockets and, while bytes
# are in flight, two pipes (splice) of two fds each.
FDS_PER_SESSION = 6
FD_RESERVE = 256  # listeners, control sockets, logs, the runtime API


def apply_fd_limit(maxconn: int | None, ulimit_n: int | None) -> int:
    """Set RLIMIT_NOFILE as HAProxy does and return the effective global maxconn.

    ``ulimit-n`` wins when given; otherwise the limit is raised to what
    ``maxconn`` needs. Without ``maxconn`` it is derived from the limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if ulimit_n is not None:
        wanted = ulimit_n
    elif maxconn is not None:
        wanted = maxconn * FDS_PER_SESSION + FD_RESERVE
    else:
        wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    new_hard = hard if hard == resource.RLIM_INFINITY or hard >= wanted else wanted
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, new_hard))
        soft = wanted
    except (ValueError, OSError):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
            soft = min(wanted, hard)
        except (ValueError, OSError):
            pass
        log.warning(f"could not raise the open-files limit to {wanted}; it stays at {soft}")
    derived = max(1, (soft - FD_RESERVE) // FDS_PER_SESSION)
    if maxconn is None:
        return derived
    if maxconn > derived:
        log.warning(f"maxconn {maxconn} needs more files than the limit of {soft} allows")
    return maxconn
