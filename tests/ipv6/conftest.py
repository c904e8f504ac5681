"""Fixtures for the IPv6 tests: ::1 on the loopback, backends on ::1, lb and HAProxy started
with a written configuration, a syslog receiver on ::1, and a network namespace whose
loopback holds documentation addresses (2001:db8::/32) for tests that need several clients.

Everything is stopped by pid; namespaces and addresses the fixtures add are removed again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.http.conftest import HaproxyProcess
from tests.support import http_servers, servers
from tests.support.backends import Backend
from tests.support.http_servers import HttpBackend
from tests.support.lbproc import LbProcess
from tests.support.netns import in_netns
from tests.support.peers import SBIN_PATH, missing, need_command, need_root
from tests.support.procs import ProcRef

LO6 = "::1"
LO4 = "127.0.0.1"
# Client addresses on the namespace's loopback: inside and outside 2001:db8::/32, plus IPv4
NS_ADDRESSES = (
    "2001:db8::1",
    "2001:db8::2",
    "2001:db8::3",
    "2001:db8::4",
    "2001:db8:0:2::7",
    "2001:db9::1",
    "fd00::1",
    "192.0.2.1",
    "10.1.2.3",
)


# --------------------------------------------------------------------------- the loopback


def _lo_has_v6() -> bool:
    out = subprocess.run(
        [shutil.which("ip", path=SBIN_PATH) or "ip", "-6", "addr", "show", "dev", "lo"],
        capture_output=True,
        text=True,
    ).stdout
    return "inet6 ::1/128" in out


@pytest.fixture(scope="session")
def loopback6() -> Iterator[str]:
    """``::1`` on ``lo``; added (as root) when this container lacks it, removed afterwards."""
    if not socket.has_ipv6:
        missing("Python has no IPv6 support")
    added = False
    if not _lo_has_v6():
        if os.geteuid() != 0:
            missing("::1 is not on lo and adding it needs root")
        ip = need_command("ip")
        res = subprocess.run(
            [ip, "-6", "addr", "add", "::1/128", "dev", "lo", "nodad"],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0 or not _lo_has_v6():
            missing(f"cannot put ::1 on lo: {res.stderr.strip()}")
        added = True
    yield LO6
    if added:
        subprocess.run([need_command("ip"), "-6", "addr", "del", "::1/128", "dev", "lo"])


# --------------------------------------------------------------------------- a namespace


class Netns:
    """A network namespace with ``lo`` up, holding ``::1``, ``127.0.0.1`` and NS_ADDRESSES."""

    def __init__(self) -> None:
        self.ip = need_command("ip")
        self.name = f"lbt-v6-{secrets.token_hex(3)}"
        subprocess.run([self.ip, "netns", "add", self.name], check=True, capture_output=True)
        try:
            # no duplicate address detection: addresses are usable at once
            self.exec("sh", "-ec", "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad; "
                      "echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad")  # fmt: skip
            self._ip("link", "set", "lo", "up")
            for a in NS_ADDRESSES:
                if ":" in a:
                    self._ip("-6", "addr", "add", f"{a}/128", "dev", "lo", "nodad")
                else:
                    self._ip("addr", "add", f"{a}/32", "dev", "lo")
        except BaseException:
            self.close()
            raise

    def _ip(self, *argv: str) -> None:
        subprocess.run([self.ip, "-n", self.name, *argv], check=True, capture_output=True)

    def prefix(self) -> list[str]:
        """What runs a command inside (``ip netns exec`` execs it: the pid stays the same)."""
        return [self.ip, "netns", "exec", self.name]

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix(), *argv], check=True, capture_output=True, text=True, timeout=30
        )

    def socket(self, family: int, kind: int = socket.SOCK_STREAM) -> socket.socket:
        return in_netns(self.name, lambda: socket.socket(family, kind))

    def close(self) -> None:
        subprocess.run([self.ip, "netns", "del", self.name], capture_output=True)


@pytest.fixture
def netns() -> Iterator[Netns]:
    need_root()
    ns = Netns()
    yield ns
    ns.close()
    out = subprocess.run([ns.ip, "netns", "list"], capture_output=True, text=True).stdout
    assert ns.name not in out, f"namespace {ns.name} left behind"


# --------------------------------------------------------------------------- backends on ::1


def _ready_port(proc: subprocess.Popen[bytes], what: str) -> int:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 10.0)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("READY "):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(5)
        raise RuntimeError(f"{what} did not start: {line!r}")
    return int(line.split()[1])


class Backend6(Backend):
    """A ``servers.py`` backend (echo, hello, …) listening on an IPv6 address."""

    def __init__(
        self, kind: str, workdir: Path, name: str, host: str = LO6, prefix: Sequence[str] = ()
    ) -> None:
        self.kind = kind
        self.name = name
        self.log_path = workdir / f"backend6-{name}-{time.monotonic_ns()}.jsonl"
        self.log_path.touch()
        cmd = [*prefix, sys.executable, servers.__file__, kind, "--name", name, "--host", host]
        cmd += ["--log", str(self.log_path)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.ref = ProcRef.of(self.pid)
        self.port = _ready_port(self.proc, f"backend {name}")


class HttpBackend6(HttpBackend):
    """An ``http_servers.py`` backend listening on an IPv6 address."""

    def __init__(
        self, workdir: Path, name: str, host: str = LO6, prefix: Sequence[str] = ()
    ) -> None:
        self.name = name
        self.log_path = workdir / f"http-backend6-{name}-{time.monotonic_ns()}.jsonl"
        self.log_path.touch()
        cmd = [*prefix, sys.executable, http_servers.__file__, "--name", name, "--host", host]
        cmd += ["--log", str(self.log_path)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.ref = ProcRef.of(self.pid)
        self.port = _ready_port(self.proc, f"http backend {name}")


@pytest.fixture
def backend6(tmp_path: Path, loopback6: str) -> Iterator[Callable[..., Backend6]]:
    """``backend6("hello", "s1", prefix=netns.prefix())``: killed by pid at teardown."""
    made: list[Backend6] = []

    def make(kind: str, name: str, host: str = LO6, prefix: Sequence[str] = ()) -> Backend6:
        b = Backend6(kind, tmp_path, name, host, prefix)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def http_backend6(tmp_path: Path, loopback6: str) -> Iterator[Callable[..., HttpBackend6]]:
    made: list[HttpBackend6] = []

    def make(name: str, host: str = LO6, prefix: Sequence[str] = ()) -> HttpBackend6:
        b = HttpBackend6(tmp_path, name, host, prefix)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


# --------------------------------------------------------------------------- configuration


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port6() -> int:
    """A port free on every address of both families (the tests bind ``:::P v4v6`` too).

    Drawn below the kernel's ephemeral range: a port the kernel hands out is one it may
    also give, a moment later, to some test's outgoing connection, and a wildcard bind
    then fails with EADDRINUSE."""
    top = min(_ephemeral_floor(), 65536)
    for _ in range(200):
        port = 20000 + secrets.randbelow(max(top - 20000, 1000))
        with socket.socket(socket.AF_INET6) as s6:
            s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            try:
                s6.bind(("::", port))  # dual-stack wildcard: free on every address
            except OSError:
                continue
        return port
    raise RuntimeError("no port free on both families")


def proxy_config(
    stats_socket: str,
    *,
    mode: str,
    binds: Sequence[str],
    servers: Sequence[str],
    global_lines: Sequence[str] = (),
    defaults_lines: Sequence[str] = (),
    frontend_lines: Sequence[str] = (),
    backend_lines: Sequence[str] = (),
) -> str:
    """One frontend ``fe`` (the given bind lines) and one backend ``be`` (server lines)."""
    lines = [
        "global",
        f"    stats socket {stats_socket} mode 600 level admin",
        "    hard-stop-after 5s",
        *(f"    {x}" for x in global_lines),
        "",
        "defaults",
        f"    mode {mode}",
        "    timeout connect 2s",
        "    timeout client 10s",
        "    timeout server 10s",
        *(f"    {x}" for x in defaults_lines),
        "",
        "frontend fe",
        *(f"    bind {b}" for b in binds),
        "    default_backend be",
        *(f"    {x}" for x in frontend_lines),
        "",
        "backend be",
        *(f"    {x}" for x in backend_lines),
        *(f"    server {s}" for s in servers),
    ]
    return "\n".join(lines) + "\n"


class NetnsLb(LbProcess):
    """lb run inside a namespace (its runtime API socket is a file: reachable from here)."""

    def __init__(self, workdir: Path, prefix: Sequence[str], workers: int = 2) -> None:
        super().__init__(workdir, workers=workers)
        self.prefix = list(prefix)

    def command(self) -> list[str]:
        return [*self.prefix, *super().command()]


class Proxy:
    """A started proxy (``kind`` "lb" or "haproxy") and its handle."""

    def __init__(self, kind: str, handle: LbProcess | HaproxyProcess) -> None:
        self.kind = kind
        self.handle = handle

    def stderr(self) -> str:
        return self.handle.stderr()

    def api(self, command: str) -> str:
        if isinstance(self.handle, LbProcess):
            return self.handle.api(command)
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.handle.stats_socket)
            s.sendall(command.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out.decode()


StartProxy = Callable[..., Proxy]


@pytest.fixture
def start_proxy6(
    tmp_path: Path, loopback6: str, lb_factory: Callable[..., LbProcess]
) -> Iterator[StartProxy]:
    """``start_proxy6("lb"|"haproxy", mode=…, binds=[…], servers=[…], …, netns=None)``."""
    started: list[Proxy] = []
    haps: list[HaproxyProcess] = []
    lbs: list[LbProcess] = []

    def start(kind: str, netns: Netns | None = None, workers: int = 2, **cfg: Any) -> Proxy:
        d = tmp_path / f"proxy-{kind}{len(started)}"
        d.mkdir()
        if kind == "haproxy":
            binary = need_command("haproxy")
            if netns is not None:  # a wrapper that execs haproxy inside the namespace
                wrapper = d / "haproxy-in-netns"
                wrapper.write_text(f'#!/bin/sh\nexec {" ".join(netns.prefix())} {binary} "$@"\n')
                wrapper.chmod(0o755)
                binary = str(wrapper)
            hap = HaproxyProcess(d, binary)
            haps.append(hap)
            hap.start(proxy_config(hap.stats_socket, **cfg), 0)
            proxy = Proxy(kind, hap)
        else:
            if netns is None:
                lb = lb_factory(workers=workers)
            else:
                lb = NetnsLb(d, netns.prefix(), workers=workers)
                lbs.append(lb)
            lb.start(proxy_config(lb.stats_socket, **cfg))
            proxy = Proxy(kind, lb)
        started.append(proxy)
        return proxy

    yield start
    for hap in haps:
        hap.close()
    leaks = []
    for lb in lbs:
        if lb.close():
            leaks.append(f"{lb.cfg_path}: processes outlived SIGTERM")
        if "Traceback (most recent call last)" in lb.stderr():
            leaks.append(f"a Python traceback in {lb.stderr_path}")
    assert not leaks, "; ".join(leaks)


PROXY_KINDS = ["haproxy", "lb"]


@pytest.fixture(params=PROXY_KINDS)
def proxy_kind(request: pytest.FixtureRequest) -> str:
    """Every test using it runs against HAProxy (the reference) and against lb."""
    kind = str(request.param)
    if kind == "haproxy":
        need_command("haproxy")
    return kind


# --------------------------------------------------------------------------- clients


def open_client(
    host: str,
    port: int,
    *,
    source: str | None = None,
    netns: Netns | None = None,
    timeout: float = 5.0,
) -> socket.socket:
    """A connected TCP socket (from ``source``, inside ``netns`` when given)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = netns.socket(family) if netns is not None else socket.socket(family)
    try:
        s.settimeout(timeout)
        if source is not None:
            s.bind((source, 0))
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def http_get(
    host: str,
    port: int,
    path: str = "/",
    *,
    headers: Sequence[tuple[str, str]] = (),
    source: str | None = None,
    netns: Netns | None = None,
) -> Reply:
    """One GET with ``Connection: close``, read to EOF."""
    with open_client(host, port, source=source, netns=netns) as s:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/") else 0
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return Reply(status, hdrs, body)


# --------------------------------------------------------------------------- syslog on ::1


class Syslog6:
    """A UDP syslog receiver on ``[::1]:port`` (or in a namespace)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.port = int(sock.getsockname()[1])
        self.lines: list[str] = []

    def wait(self, n: int, timeout: float = 5.0) -> list[str]:
        """The first ``n`` messages received (fewer when ``timeout`` ran out)."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < n and (left := deadline - time.monotonic()) > 0:
            if select.select([self.sock], [], [], left)[0]:
                self.lines.append(self.sock.recv(65536).decode(errors="replace"))
        return self.lines[:n]


@pytest.fixture
def syslog6(loopback6: str) -> Iterator[Syslog6]:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((LO6, 0))
    yield Syslog6(s)
    s.close()
