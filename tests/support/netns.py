"""A test LAN made of network namespaces: hosts joined by a bridge in a "switch" namespace.

Nothing here touches the root namespace's interfaces: the bridge lives in its own namespace,
each host is a namespace with one veth (``eth1``) plugged into it, and :meth:`Lan.close`
deletes every namespace it made (which destroys the veths too). Names carry a random suffix
so that parallel runs do not collide.

Code runs inside a host in three ways:

- ``host.run(...)`` / ``host.popen(...)``: a command under ``ip netns exec``;
- ``host.socket(...)``: a socket created inside the namespace (a short-lived thread enters
  the namespace with setns(2), creates the socket and dies; a socket keeps the namespace it
  was created in, so the test then uses it from its own thread). ``ping``, ``capture`` and
  ``udp`` are built on it, so they need neither ping nor tcpdump;
- ``host.agent()``: a Python process in the namespace (``tests/support/netns_agent.py``) that
  drives ``lb.vrrp`` objects on request. pyroute2 opens its netlink sockets per thread, so
  anything using pyroute2 must run in a process of its own inside the namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import json
import os
import secrets
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.peers import need_command, need_root

ROOT = Path(__file__).resolve().parents[2]
_VENV_PY = ROOT / ".venv/bin/python"
PYTHON = str(_VENV_PY) if _VENV_PY.exists() else sys.executable
IP = shutil.which("ip", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))

_CLONE_NEWNET = 0x40000000
_ETH_P_ALL = 0x0003
_PACKET_OUTGOING = 4
# Python 3.11 exports neither constant; these are the Linux values.
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)

T = TypeVar("T")


class NetnsCommandError(subprocess.CalledProcessError):
    """A command run in a namespace failed; unlike the base class, str() shows its stderr."""

    def __str__(self) -> str:
        err = self.stderr.strip() if isinstance(self.stderr, str) else self.stderr
        return f"{super().__str__()}\nstderr: {err}\nstdout: {self.output}"


def _ip(*argv: str) -> None:
    """Run `ip ARGV` (root namespace tool, but every call names a namespace with -n)."""
    if IP is None:
        raise FileNotFoundError("the ip command (iproute2) is not installed")
    res = subprocess.run([IP, *argv], capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise NetnsCommandError(res.returncode, [IP, *argv], res.stdout, res.stderr)


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """Call fn in a fresh thread that has entered namespace ``netns``; return its result.

    setns(2) changes only the calling thread, and the thread dies right after, so the rest of
    the process never leaves its namespace. Sockets made by fn stay in ``netns``.
    """
    result: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns({netns}): {os.strerror(e)}")
                # Belt and braces: never run fn unless we are really in the namespace.
                if os.stat("/proc/thread-self/ns/net").st_ino != os.fstat(fd).st_ino:
                    raise OSError(errno.EINVAL, f"setns({netns}) did not take effect")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    t = threading.Thread(target=body, name=f"netns-{netns}", daemon=True)
    t.start()
    t.join()
    if failure:
        raise failure[0]
    return result[0]


# --------------------------------------------------------------------------- capture


@dataclass(frozen=True, slots=True)
class Frame:
    """One Ethernet frame seen by a capture."""

    data: bytes
    time: float  # kernel receive timestamp, seconds since the epoch
    outgoing: bool  # sent by the capturing host itself

    @property
    def dst_mac(self) -> str:
        return _mac(self.data[0:6])

    @property
    def src_mac(self) -> str:
        return _mac(self.data[6:12])

    @property
    def ethertype(self) -> int:
        return struct.unpack_from("!H", self.data, 12)[0]

    @property
    def payload(self) -> bytes:
        """What follows the Ethernet header (no VLAN tags on the test LAN)."""
        return self.data[14:]

    def ip(self) -> tuple[str, str, int, int, bytes] | None:
        """(src, dst, ttl or hop limit, upper-layer protocol, upper-layer bytes), or None."""
        p = self.payload
        if self.ethertype == 0x0800 and len(p) >= 20:
            ihl = (p[0] & 0x0F) * 4
            total = struct.unpack_from("!H", p, 2)[0]
            return (
                socket.inet_ntop(socket.AF_INET, p[12:16]),
                socket.inet_ntop(socket.AF_INET, p[16:20]),
                p[8],
                p[9],
                p[ihl:total],
            )
        if self.ethertype == 0x86DD and len(p) >= 40:
            plen = struct.unpack_from("!H", p, 4)[0]
            nh, off, end = p[6], 40, 40 + plen
            # Hop-by-hop, routing and destination options headers (MLD reports carry one).
            while nh in (0, 43, 60) and off + 2 <= end:
                nh, off = p[off], off + (p[off + 1] + 1) * 8
            return (
                socket.inet_ntop(socket.AF_INET6, p[8:24]),
                socket.inet_ntop(socket.AF_INET6, p[24:40]),
                p[7],
                nh,
                p[off:end],
            )
        return None


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


_PRIMITIVES: dict[str, Callable[[Frame], bool]] = {
    "arp": lambda f: f.ethertype == 0x0806,
    "ip": lambda f: f.ethertype == 0x0800,
    "ip6": lambda f: f.ethertype == 0x86DD,
    "vrrp": lambda f: _proto(f) == 112,
    "icmp": lambda f: f.ethertype == 0x0800 and _proto(f) == 1,
    "icmp6": lambda f: f.ethertype == 0x86DD and _proto(f) == 58,
    "udp": lambda f: _proto(f) == 17,
    "tcp": lambda f: _proto(f) == 6,
    "inbound": lambda f: not f.outgoing,
    "outbound": lambda f: f.outgoing,
}


def _proto(f: Frame) -> int | None:
    ip = f.ip()
    return None if ip is None else ip[3]


def compile_filter(expr: str) -> Callable[[Frame], bool]:
    """A tcpdump-like filter over a few primitives (``arp ip ip6 vrrp icmp icmp6 udp tcp
    inbound outbound``) with ``and``, ``or``, ``not`` and parentheses; "" matches everything.

    We capture with our own AF_PACKET socket (no tcpdump in CI), hence this small language.
    """
    tokens = expr.replace("(", " ( ").replace(")", " ) ").split()
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"capture filter {expr!r}: unexpected end")
        pos += 1
        return tokens[pos - 1]

    def disj() -> Callable[[Frame], bool]:
        terms = [conj()]
        while peek() == "or":
            take()
            terms.append(conj())
        return terms[0] if len(terms) == 1 else lambda f: any(t(f) for t in terms)

    def conj() -> Callable[[Frame], bool]:
        terms = [unary()]
        while peek() == "and":
            take()
            terms.append(unary())
        return terms[0] if len(terms) == 1 else lambda f: all(t(f) for t in terms)

    def unary() -> Callable[[Frame], bool]:
        tok = take()
        if tok == "not":
            inner = unary()
            return lambda f: not inner(f)
        if tok == "(":
            inner = disj()
            if take() != ")":
                raise ValueError(f"capture filter {expr!r}: missing ')'")
            return inner
        if tok not in _PRIMITIVES:
            raise ValueError(f"capture filter {expr!r}: unknown primitive {tok!r}")
        return _PRIMITIVES[tok]

    if not tokens:
        return lambda f: True
    pred = disj()
    if pos != len(tokens):
        raise ValueError(f"capture filter {expr!r}: unexpected {tokens[pos]!r}")
    return pred


class Capture:
    """Frames on one host's interface, from an AF_PACKET socket inside its namespace.

    The kernel queues frames in the socket (a 4 MiB buffer) until we read them, so no thread
    is needed: :meth:`frames`, :meth:`wait` and :meth:`stop` drain the queue when called.
    """

    def __init__(self, sock: socket.socket, expr: str) -> None:
        self._sock = sock
        self._match = compile_filter(expr)
        self._frames: list[Frame] = []

    def _drain(self) -> None:
        if self._sock.fileno() < 0:
            return
        while True:
            try:
                data, anc, _flags, addr = self._sock.recvmsg(65536, 64, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            stamp = time.time()
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= 16:
                    sec, nsec = struct.unpack_from("@qq", value)
                    stamp = sec + nsec / 1e9
            frame = Frame(data, stamp, addr[2] == _PACKET_OUTGOING)
            if self._match(frame):
                self._frames.append(frame)

    def frames(self) -> list[Frame]:
        """Every matching frame captured so far (the capture keeps running)."""
        self._drain()
        return list(self._frames)

    def wait(self, predicate: Callable[[Frame], bool], timeout: float = 2.0) -> Frame:
        """The first captured frame (old or new) satisfying predicate; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self._drain()
            for f in self._frames:
                if predicate(f):
                    return f
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no matching frame within {timeout}s ({len(self._frames)} frames captured)"
                )
            select.select([self._sock], [], [], min(left, 0.05))

    def stop(self) -> list[Frame]:
        """Stop capturing; return every matching frame."""
        self._drain()
        self.close()
        return list(self._frames)

    def close(self) -> None:
        # The socket pins its namespace: close it so that deleting the namespace frees it.
        self._sock.close()


# --------------------------------------------------------------------------- agent


class AgentError(Exception):
    """An operation failed inside the agent; ``kind`` is the Python exception type's name."""

    def __init__(self, kind: str, message: str, err: int | None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.errno = err


class Agent:
    """A Python process inside a host's namespace, driven by JSON lines (netns_agent.py)."""

    def __init__(self, host: Host) -> None:
        # Kept open for the agent's life (read on errors), closed by close().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = host.popen(
            PYTHON,
            "-m",
            "tests.support.netns_agent",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=ROOT,
            env=env,
        )
        self._buf = b""

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def call(self, op: str, /, **args: Any) -> Any:
        """Run one operation; its result, or AgentError if it raised in the agent.

        The answer is awaited for 15 s plus the operation's own ``timeout`` argument.
        """
        timeout = 15.0 + float(args.get("timeout", 0.0))
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}).encode() + b"\n")
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"agent: no answer to {op} in {timeout}s\n{self.stderr()}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ConnectionError(f"agent exited during {op}\n{self.stderr()}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        reply = json.loads(line)
        if not reply["ok"]:
            raise AgentError(reply["type"], reply["message"], reply.get("errno"))
        return reply["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()  # the agent exits at end of input
            try:
                self.proc.wait(2.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(2.0)
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()
        self._stderr.close()


# --------------------------------------------------------------------------- LAN


class Host:
    """One namespace on the LAN, with interface ``ifname`` plugged into the switch."""

    def __init__(
        self, lan: Lan, index: int, name: str, ifname: str, ip4: str, ip6: str | None, mac: str
    ) -> None:
        self.lan = lan
        self.index = index
        self.name = name
        self.ifname = ifname
        self.ip4 = ip4
        self.ip6 = ip6
        self.mac = mac
        self._procs: list[subprocess.Popen[Any]] = []
        self._captures: list[Capture] = []
        self._agents: list[Agent] = []

    def __repr__(self) -> str:
        return f"Host({self.name}, {self.ip4}, {self.mac})"

    def _argv(self, argv: tuple[Any, ...]) -> list[str]:
        if IP is None:
            raise FileNotFoundError("the ip command (iproute2) is not installed")
        return [IP, "netns", "exec", self.name, *map(str, argv)]

    def run(self, *argv: Any, **kw: Any) -> subprocess.CompletedProcess[Any]:
        """``ip netns exec NAME argv…``; by default checked, output captured as text."""
        check = kw.pop("check", True)
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 30)
        cmd = self._argv(argv)
        res = subprocess.run(cmd, **kw)
        if check and res.returncode != 0:
            raise NetnsCommandError(res.returncode, cmd, res.stdout, res.stderr)
        return res

    def popen(self, *argv: Any, **kw: Any) -> subprocess.Popen[Any]:
        """Start a long-running command in the namespace (`ip netns exec` execs into it, so
        the pid is the command's). The caller stops it; Lan.close() kills any left over."""
        p = subprocess.Popen(self._argv(argv), **kw)
        self._procs.append(p)
        return p

    def agent(self) -> Agent:
        """A new Python agent in this namespace (closed by Lan.close() if not before)."""
        a = Agent(self)
        self._agents.append(a)
        return a

    def addr_info(self) -> list[dict[str, Any]]:
        """The ``addr_info`` entries of ``ip -j addr show dev IFNAME`` (flags included)."""
        out = self.run("ip", "-j", "addr", "show", "dev", self.ifname).stdout
        data = json.loads(out or "[]")
        return [a for link in data for a in link.get("addr_info", [])]

    def addresses(self) -> list[str]:
        """Every address on the interface, as "address/prefixlen"."""
        return [f"{a['local']}/{a['prefixlen']}" for a in self.addr_info()]

    def link_local(self) -> str:
        """The interface's IPv6 link-local address."""
        for a in self.addr_info():
            if a.get("family") == "inet6" and a.get("scope") == "link":
                return str(a["local"])
        raise LookupError(f"{self.name}: no link-local address on {self.ifname}")

    def link(self, up: bool) -> None:
        self.run("ip", "link", "set", "dev", self.ifname, "up" if up else "down")

    def socket(self, family: int, type: int, proto: int = 0) -> socket.socket:
        """A socket that lives in this host's namespace (usable from any thread)."""
        return in_netns(self.name, lambda: socket.socket(family, type, proto))

    def capture(self, filter: str = "") -> Capture:
        """Start capturing frames on the host's interface (see compile_filter for the syntax)."""
        ifname = self.ifname

        def make() -> socket.socket:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
            try:
                s.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, 4 << 20)
                s.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                # Binding resolves the name in the socket's namespace: the host's interface.
                s.bind((ifname, _ETH_P_ALL))
            except BaseException:
                s.close()
                raise
            return s

        cap = Capture(in_netns(self.name, make), filter)
        self._captures.append(cap)
        return cap

    def ping(self, dst: str, timeout: float = 2.0) -> float:
        """One ICMP/ICMPv6 echo to dst from inside the namespace; the round trip in seconds.

        Raises TimeoutError without an answer. (Our own, since CI has no ping binary.)
        """
        v6 = ":" in dst
        family = socket.AF_INET6 if v6 else socket.AF_INET
        proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
        ident = secrets.randbits(16)
        req_type, rep_type = (128, 129) if v6 else (8, 0)
        body = secrets.token_bytes(16)
        msg = struct.pack("!BBHHH", req_type, 0, 0, ident, 1) + body
        if not v6:  # the kernel checksums ICMPv6 on raw sockets, not ICMPv4
            msg = msg[:2] + struct.pack("!H", _inet_checksum(msg)) + msg[4:]
        with self.socket(family, socket.SOCK_RAW, proto) as s:
            # Out through the LAN interface; this also scopes a link-local destination.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.ifname.encode())
            addr: tuple[Any, ...] = (dst, 0, 0, 0) if v6 else (dst, 0)
            start = time.monotonic()
            s.sendto(msg, addr)
            while (left := start + timeout - time.monotonic()) > 0:
                if not select.select([s], [], [], left)[0]:
                    break
                data = s.recv(2048)
                icmp = data if v6 else data[(data[0] & 0x0F) * 4 :]
                if len(icmp) >= 8 and icmp[0] == rep_type and icmp[8:] == body:
                    return time.monotonic() - start
        raise TimeoutError(f"{self.name}: no echo reply from {dst} within {timeout}s")

    def close(self) -> None:
        for a in self._agents:
            a.close()
        for c in self._captures:
            c.close()
        for p in self._procs:
            if p.poll() is None:
                p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(5.0)


def _inet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Lan:
    """``hosts`` namespaces, each with ``ifname`` on one bridge (in namespace ``switch``).

    Host ``hosts[i]`` is named ``lbt-h{i+1}-SUFFIX`` and gets address ``.(11+i)`` of ``subnet``
    and ``::(11+i)`` of ``subnet6`` (i.e. host N has .(10+N)), MAC ``02:22:00:00:00:(10+N)``.
    IPv6 duplicate address detection is off, so link-local addresses are usable at once.
    The bridge floods multicast (snooping off), as a plain switch without a querier would.
    """

    def __init__(
        self,
        hosts: int = 2,
        subnet: str = "192.168.22.0/24",
        ifname: str = "eth1",
        ipv6: bool = True,
        subnet6: str = "fd00:22::/64",
    ) -> None:
        if os.geteuid() != 0:
            raise PermissionError("a test LAN needs root (network namespaces)")
        if not 1 <= hosts <= 200:
            raise ValueError(f"hosts={hosts}: between 1 and 200")
        suffix = secrets.token_hex(3)
        self.switch = f"lbt-sw-{suffix}"
        self.hosts: list[Host] = []
        self._namespaces: list[str] = []
        net4 = ipaddress.IPv4Network(subnet)
        net6 = ipaddress.IPv6Network(subnet6)
        try:
            self._add_netns(self.switch)
            # The switch is layer 2 only: no IPv6 on its ports means no RS/MLD noise from it.
            self._sysctl(
                self.switch,
                {"net.ipv6.conf.all.disable_ipv6": 1, "net.ipv6.conf.default.disable_ipv6": 1},
            )
            _ip("-n", self.switch, "link", "set", "lo", "up")
            _ip(
                "-n", self.switch, "link", "add", "br0", "type", "bridge",
                "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0",
            )  # fmt: skip
            _ip("-n", self.switch, "link", "set", "br0", "up")
            for n in range(1, hosts + 1):
                self._add_host(n, suffix, ifname, net4, net6 if ipv6 else None)
        except BaseException:
            self.close()
            raise

    def _add_netns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._namespaces.append(name)

    def _sysctl(self, netns: str, values: dict[str, int]) -> None:
        # /proc/sys/net is per network namespace: written from a process inside it.
        script = "; ".join(f"echo {v} > /proc/sys/{k.replace('.', '/')}" for k, v in values.items())
        assert IP is not None
        subprocess.run(
            [IP, "netns", "exec", netns, "sh", "-ec", script], check=True, capture_output=True
        )

    def _add_host(
        self,
        n: int,
        suffix: str,
        ifname: str,
        net4: ipaddress.IPv4Network,
        net6: ipaddress.IPv6Network | None,
    ) -> None:
        name = f"lbt-h{n}-{suffix}"
        self._add_netns(name)
        if net6 is not None:
            self._sysctl(
                name, {"net.ipv6.conf.all.accept_dad": 0, "net.ipv6.conf.default.accept_dad": 0}
            )
        else:
            self._sysctl(
                name, {"net.ipv6.conf.all.disable_ipv6": 1, "net.ipv6.conf.default.disable_ipv6": 1}
            )
        mac = f"02:22:00:00:00:{10 + n:02x}"
        ip4 = str(net4.network_address + 10 + n)
        ip6 = str(net6.network_address + int(str(10 + n), 16)) if net6 is not None else None
        port = f"p{n}"
        # The peer is created directly inside the host namespace: nothing appears in root's.
        _ip("-n", self.switch, "link", "add", port, "type", "veth",
            "peer", "name", ifname, "netns", name)  # fmt: skip
        _ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "link", "set", ifname, "address", mac)
        _ip("-n", name, "addr", "add", f"{ip4}/{net4.prefixlen}", "dev", ifname)
        if net6 is not None:
            _ip("-n", name, "addr", "add", f"{ip6}/{net6.prefixlen}", "dev", ifname, "nodad")
        _ip("-n", name, "link", "set", ifname, "up")
        self.hosts.append(Host(self, n, name, ifname, ip4, ip6, mac))

    @property
    def namespaces(self) -> list[str]:
        return list(self._namespaces)

    def close(self) -> None:
        """Stop what runs in the hosts, then delete every namespace (veths go with them)."""
        for h in self.hosts:
            with contextlib.suppress(Exception):
                h.close()
        errors = []
        for name in reversed(self._namespaces):
            try:
                _ip("netns", "del", name)
            except Exception as exc:
                errors.append(f"{name}: {exc}")
        self._namespaces.clear()
        if errors:
            raise RuntimeError("could not delete namespaces: " + "; ".join(errors))

    def __enter__(self) -> Lan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def netns_list() -> list[str]:
    """Names from ``ip netns list`` (to check that nothing was left behind)."""
    if IP is None:
        return []
    out = subprocess.run([IP, "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


# --------------------------------------------------------------------------- fixtures


def _need_lan_prereqs() -> None:
    need_root()
    need_command("ip")


@pytest.fixture
def lan() -> Iterator[Lan]:
    """A two-host LAN, removed at teardown even when the test fails."""
    _need_lan_prereqs()
    with Lan(hosts=2) as made:
        yield made


@pytest.fixture
def make_lan() -> Iterator[Callable[..., Lan]]:
    """Factory: ``make_lan(hosts=3, ipv6=False)``; every LAN made is removed at teardown."""
    _need_lan_prereqs()
    made: list[Lan] = []

    def make(**kw: Any) -> Lan:
        lan_ = Lan(**kw)
        made.append(lan_)
        return lan_

    yield make
    errors = []
    for lan_ in made:
        try:
            lan_.close()
        except Exception as exc:
            errors.append(str(exc))
    assert not errors, "; ".join(errors)


__all__ = [
    "Agent",
    "AgentError",
    "Capture",
    "Frame",
    "Host",
    "Lan",
    "NetnsCommandError",
    "compile_filter",
    "in_netns",
    "lan",
    "make_lan",
    "netns_list",
]
