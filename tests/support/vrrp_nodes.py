"""VRRP nodes on a test LAN: lb or keepalived in a host's namespace, and what watches them.

- :func:`instance` / :func:`keepalived_conf` write keepalived-syntax configurations;
  :func:`seed` reads one of the shared seed files, with textual replacements.
- :class:`LbNode` runs ``python -m lb -f keepalived.conf -f api.cfg`` in a namespace (the
  second file holds only the runtime API socket), :class:`KeepalivedNode` runs Debian's
  keepalived in the foreground with its pid files in the node's own directory. Both are
  stopped by pid, never by name.
- :class:`VipWatcher` timestamps address changes in a namespace (an rtnetlink socket made
  inside it, read by a thread, stamped with ``time.monotonic()``), so failover times are
  measured from the moment a test sends its signal.
- :func:`send_vrrp` sends a VRRP payload from a host (a raw socket, TTL of your choice).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import api_call
from tests.support.netns import Frame, Host, Lan
from tests.support.peers import need_command, need_root
from tests.support.procs import ProcRef, wait_gone

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT.parent / "shared/examples"
_VENV_PY = ROOT / ".venv/bin/python"
PYTHON = str(_VENV_PY) if _VENV_PY.exists() else "python3"

VIP = "192.168.22.249"
VIP2 = "192.168.22.147"
GROUP = "224.0.0.18"


# --------------------------------------------------------------------------- configuration


def instance(
    name: str = "VI_1",
    *,
    state: str = "BACKUP",
    priority: int = 100,
    vrid: int = 77,
    vips: Sequence[str] = (f"{VIP}/24",),
    version: int | None = None,
    advert_int: float = 1,
    auth_pass: str | None = None,
    nopreempt: bool = False,
    track_script: Sequence[str] = (),
    extra: Sequence[str] = (),
    interface: str = "eth1",
) -> str:
    """One ``vrrp_instance`` block (keepalived syntax, valid for lb and keepalived)."""
    lines = [
        f"vrrp_instance {name} {{",
        f"    state {state}",
        f"    interface {interface}",
        f"    virtual_router_id {vrid}",
        f"    priority {priority}",
        f"    advert_int {advert_int:g}",
    ]
    if version is not None:
        lines.append(f"    version {version}")
    if auth_pass is not None:
        lines += [
            "    authentication {",
            "        auth_type PASS",
            f"        auth_pass {auth_pass}",
        ]
        lines.append("    }")
    if nopreempt:
        lines.append("    nopreempt")
    lines += ["    virtual_ipaddress {", *(f"        {v} dev {interface}" for v in vips), "    }"]
    if track_script:
        lines += ["    track_script {", *(f"        {t}" for t in track_script), "    }"]
    lines += [f"    {x}" for x in extra]
    lines.append("}")
    return "\n".join(lines) + "\n"


def script_block(name: str, script: str, *, interval: int = 1, weight: int = 0) -> str:
    return (
        f'vrrp_script {name} {{\n    script "{script}"\n    interval {interval}\n'
        f"    weight {weight}\n    fall 1\n    rise 1\n}}\n"
    )


def keepalived_conf(
    *blocks: str, router_id: str = "lbtest", global_extra: Sequence[str] = ()
) -> str:
    head = ["global_defs {", f"    router_id {router_id}", *(f"    {x}" for x in global_extra)]
    # keepalived: no script security warnings about root, no dbus/snmp; harmless for lb.
    return "\n".join([*head, "}", ""]) + "".join(blocks)


def seed(name: str, replace: Iterable[tuple[str, str]] = ()) -> str:
    """A seed file from /work/shared/examples, with (old, new) text replacements (each must hit)."""
    text = (EXAMPLES / name).read_text()
    for old, new in replace:
        if old not in text:
            raise AssertionError(f"{name}: {old!r} not found")
        text = text.replace(old, new)
    return text


# --------------------------------------------------------------------------- show vrrp


@dataclass
class VrrpView:
    """One instance as ``show vrrp`` describes it."""

    name: str
    fields: dict[str, str] = field(default_factory=dict)
    transitions: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.fields.get("state", "")

    @property
    def priority(self) -> int:
        return int(self.fields["priority"].split()[0])

    @property
    def drops(self) -> dict[str, int]:
        raw = self.fields.get("drops", "-")
        if raw == "-":
            return {}
        return {k: int(v) for k, v in (item.split("=") for item in raw.split())}

    def counter(self, key: str) -> int:
        return int(self.fields[key])


def parse_show_vrrp(text: str) -> dict[str, VrrpView]:
    views: dict[str, VrrpView] = {}
    current: VrrpView | None = None
    for line in text.splitlines():
        if line.startswith("instance "):
            current = VrrpView(line.split(None, 1)[1].strip())
            views[current.name] = current
        elif current is not None and line.startswith("  ") and ":" in line:
            key, value = line.strip().split(":", 1)
            if key == "transition":
                current.transitions.append(value.strip())
            else:
                current.fields[key] = value.strip()
    return views


# --------------------------------------------------------------------------- nodes


class Node:
    """Something that speaks VRRP in a host's namespace."""

    kind = "?"

    def __init__(self, host: Host, workdir: Path | None = None) -> None:
        self.host = host
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="lbv-", dir="/tmp"))
        self._own_dir = workdir is None
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "keepalived.conf"
        self.log = self.dir / "out.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.refs: list[ProcRef] = []

    def __repr__(self) -> str:
        return f"{self.kind}@{self.host.ip4}"

    def write(self, conf: str) -> None:
        self.conf.write_text(conf)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _spawn(self, *argv: str, env: dict[str, str] | None = None) -> None:
        assert not self.running(), f"{self} already runs"
        with open(self.log, "ab") as out:
            out.write(f"---- start {time.time():.3f}\n".encode())
            out.flush()
            self.proc = self.host.popen(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
            )
        ref = ProcRef.of(self.proc.pid)
        self.refs = [ref] if ref is not None else []

    def main_pid(self) -> int:
        """The process that takes SIGTERM for the whole daemon."""
        assert self.proc is not None
        return self.proc.pid

    def signal(self, sig: int) -> float:
        """Send sig to the daemon's main process; the monotonic time just before sending."""
        assert self.proc is not None
        t0 = time.monotonic()
        os.kill(self.proc.pid, sig)
        return t0

    def hard_kill(self) -> float:
        """SIGKILL every process of the node; the time just before the first kill."""
        raise NotImplementedError

    def wait_exit(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self} still runs {timeout}s later") from None
        left = wait_gone(self.refs, 5.0)
        assert not left, f"{self}: processes {left} outlived their master"
        return rc

    def stop(self) -> None:
        """Teardown: SIGTERM, then SIGKILL, every process we know of (by pid)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.main_pid(), signal.SIGTERM)
            try:
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5.0)
        for r in wait_gone(self.refs, 3.0):
            r.kill(signal.SIGKILL)
        wait_gone(self.refs, 3.0)

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class LbNode(Node):
    kind = "lb"

    def __init__(self, host: Host, workdir: Path | None = None) -> None:
        super().__init__(host, workdir)
        self.sock = str(self.dir / "api.sock")
        self.api_conf = self.dir / "api.cfg"
        self.pid = 0  # the lb master (pid 1 of the node's PID namespace)

    def start(
        self, conf: str | None = None, *, extra: Sequence[str] = (), workers: int = 0
    ) -> None:
        """Start lb with ``conf`` (keepalived syntax) and any HAProxy-syntax ``extra`` texts.

        Without ``extra`` a file with only the runtime API socket goes beside the keepalived
        file. Waits until the runtime API answers.
        """
        if conf is not None:
            self.write(conf)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sock)
        files: list[str] = ["-f", str(self.conf)]
        if extra:
            for i, text in enumerate(extra):
                p = self.dir / f"haproxy{i}.cfg"
                p.write_text(text)
                files += ["-f", str(p)]
        else:
            self.api_conf.write_text(f"global\n    stats socket {self.sock} mode 600 level admin\n")
            files += ["-f", str(self.api_conf)]
        if workers:
            files += ["-n", str(workers)]
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        # A PID namespace of its own, as a machine has: ``killall -0 haproxy`` in the seeds
        # must see this node's processes, not the haproxy of whatever else runs on the box.
        # lb is pid 1 there; unshare (our child) kills it if it dies, and exits with its code.
        unshare = need_command("unshare")
        self._spawn(
            unshare, "--pid", "--mount-proc", "--kill-child", PYTHON, "-m", "lb", *files, env=env
        )
        self.pid = self._child_of_unshare()
        ref = ProcRef.of(self.pid)
        if ref is not None:
            self.refs.append(ref)
        self.wait_api()

    def _child_of_unshare(self) -> int:
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                kids = path.read_text().split()
                if kids:
                    return int(kids[0])
            if self.proc.poll() is not None:
                break
            time.sleep(0.005)
        raise AssertionError(f"{self}: lb did not start under unshare:\n{self.output()[-3000:]}")

    def main_pid(self) -> int:
        return self.pid

    def signal(self, sig: int) -> float:
        t0 = time.monotonic()
        os.kill(self.pid, sig)
        return t0

    def wait_api(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"{self} exited at start:\n{self.output()[-3000:]}")
            try:
                if "instance" in self.api("show vrrp", 1.0):
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"{self}: no runtime API after {timeout}s:\n{self.output()[-3000:]}")

    def api(self, command: str, timeout: float = 3.0) -> str:
        return api_call(self.sock, command, timeout)

    def show(self) -> dict[str, VrrpView]:
        return parse_show_vrrp(self.api("show vrrp"))

    def state(self, name: str = "VI_1") -> str:
        return self.show()[name].state

    def hard_kill(self) -> float:
        # every process of this lb (workers too): a machine that dies takes all of them
        from tests.support.procs import descendants

        assert self.proc is not None
        refs = [r for r in (ProcRef.of(p) for p in descendants(self.pid)) if r is not None]
        self.refs = list({*self.refs, *refs})
        t0 = time.monotonic()
        os.kill(self.pid, signal.SIGKILL)  # pid 1 of its PID namespace: everything in it dies
        for r in refs:
            r.kill(signal.SIGKILL)
        self.proc.wait(5.0)
        return t0


class KeepalivedNode(Node):
    kind = "keepalived"

    def __init__(self, host: Host, workdir: Path | None = None) -> None:
        super().__init__(host, workdir)
        self.binary = need_command("keepalived")
        self.pidfile = self.dir / "keepalived.pid"
        self.vrrp_pidfile = self.dir / "vrrp.pid"

    def start(self, conf: str | None = None, *, ready_timeout: float = 10.0) -> None:
        """keepalived in the foreground (-n), VRRP only (-P), no respawn (-R), own pid files."""
        if conf is not None:
            self.write(conf)
        for p in (self.pidfile, self.vrrp_pidfile):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        self._spawn(
            self.binary, "-n", "-l", "-D", "-P", "-R", "-G",
            "-f", str(self.conf),
            "-p", str(self.pidfile),
            "-r", str(self.vrrp_pidfile),
            "-c", str(self.dir / "checkers.pid"),
            "-b", str(self.dir / "bfd.pid"),
        )  # fmt: skip
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"{self} exited at start:\n{self.output()[-3000:]}")
            pid = self.vrrp_pid()
            if pid is not None:
                ref = ProcRef.of(pid)
                if ref is not None:
                    self.refs.append(ref)
                    # its VRRP socket is open once it logs the instance's first state
                    if "Entering BACKUP STATE" in self.output().rsplit("---- start", 1)[-1] or (
                        "Entering MASTER STATE" in self.output().rsplit("---- start", 1)[-1]
                    ):
                        return
            time.sleep(0.02)
        raise AssertionError(f"{self} not ready after {ready_timeout}s:\n{self.output()[-3000:]}")

    def vrrp_pid(self) -> int | None:
        try:
            text = self.vrrp_pidfile.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def hard_kill(self) -> float:
        # The VRRP child first: killing the parent first would have it (or PR_SET_PDEATHSIG)
        # stop the child cleanly, with a priority-0 advert.
        assert self.proc is not None
        t0 = time.monotonic()
        for r in self.refs[1:]:
            r.kill(signal.SIGKILL)
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5.0)
        return t0

    def states(self) -> list[str]:
        """keepalived's "(VI_1) Entering X STATE" log lines of the current run, in order."""
        run = self.output().rsplit("---- start", 1)[-1]
        return re.findall(r"\((\S+)\) Entering (\w+) STATE", run)


# --------------------------------------------------------------------------- addresses

_RTMGRP_IPV4_IFADDR = 0x10
_RTM_NEWADDR, _RTM_DELADDR = 20, 21
_IFA_ADDRESS, _IFA_LOCAL = 1, 2


@dataclass(frozen=True)
class AddrEvent:
    time: float  # time.monotonic() when the watcher read it
    added: bool
    address: str


class VipWatcher:
    """IPv4 address additions/removals in one namespace, stamped on arrival (monotonic)."""

    def __init__(self, host: Host) -> None:
        self.host = host

        def make() -> socket.socket:
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
            s.bind((0, _RTMGRP_IPV4_IFADDR))
            return s

        from tests.support.netns import in_netns

        self._sock = in_netns(host.name, make)
        self._rd, self._wr = os.pipe()
        self.events: list[AddrEvent] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"vipwatch-{host.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            ready = select.select([self._sock, self._rd], [], [])[0]
            now = time.monotonic()
            if self._rd in ready:
                return
            try:
                data = self._sock.recv(65536)
            except OSError:
                return
            found = list(_parse_addr_msgs(data))
            with self._cond:
                self.events += [AddrEvent(now, added, addr) for added, addr in found]
                self._cond.notify_all()

    def wait(self, address: str, added: bool, after: float, timeout: float) -> float:
        """The time of the first event (address, added) stamped at or after ``after``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events:
                    if e.address == address and e.added == added and e.time >= after:
                        return e.time
                left = deadline - time.monotonic()
                if left <= 0:
                    verb = "added" if added else "removed"
                    raise AssertionError(
                        f"{self.host.name}: {address} not {verb} within {timeout}s "
                        f"(events: {self.events[-6:]})"
                    )
                self._cond.wait(left)

    def close(self) -> None:
        if self._wr >= 0:
            os.write(self._wr, b"x")
            self._thread.join(2.0)
            os.close(self._wr)
            os.close(self._rd)
            self._wr = -1
            self._sock.close()


def _parse_addr_msgs(data: bytes) -> Iterable[tuple[bool, str]]:
    off = 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16:
            return
        if kind in (_RTM_NEWADDR, _RTM_DELADDR):
            body = off + 16
            family = data[body]
            attr = body + 8  # struct ifaddrmsg
            local = address = None
            while attr + 4 <= off + length:
                alen, atype = struct.unpack_from("=HH", data, attr)
                if alen < 4:
                    break
                value = data[attr + 4 : attr + alen]
                if family == socket.AF_INET and len(value) == 4:
                    if atype == _IFA_LOCAL:
                        local = socket.inet_ntoa(value)
                    elif atype == _IFA_ADDRESS:
                        address = socket.inet_ntoa(value)
                attr += (alen + 3) & ~3
            found = local or address
            if found:
                yield kind == _RTM_NEWADDR, found
        off += (length + 3) & ~3


def has_vip(host: Host, vip: str = VIP) -> bool:
    return any(a.split("/")[0] == vip for a in host.addresses())


def holders(hosts: Sequence[Host], vip: str = VIP) -> list[Host]:
    return [h for h in hosts if has_vip(h, vip)]


def drop_vip(host: Host, vip: str = VIP, prefix: int = 24) -> None:
    """What a dead machine's addresses become: gone (a kill -9 leaves them configured)."""
    if has_vip(host, vip):
        host.run("ip", "addr", "del", f"{vip}/{prefix}", "dev", host.ifname)


# Set by the ``nodes`` fixture: what a failed wait adds to its message (show vrrp, logs).
_DIAGNOSE: list[Callable[[], str]] = []


def wait_for(pred: Callable[[], Any], timeout: float, what: str, poll: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            extra = "\n".join(d() for d in _DIAGNOSE)
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{extra}")
        time.sleep(poll)


# --------------------------------------------------------------------------- packets


def send_vrrp(host: Host, payload: bytes, *, ttl: int = 255, dst: str = GROUP) -> None:
    """Send one VRRP payload (IP protocol 112) from host to dst with the given TTL."""
    with host.socket(socket.AF_INET, socket.SOCK_RAW, 112) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, host.ifname.encode())
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        s.sendto(payload, (dst, 0))


def garps(frames: Iterable[Frame], vip: str, mac: str | None = None) -> list[Frame]:
    """Gratuitous ARPs for vip (sender IP = target IP = vip), from mac if given."""
    packed = socket.inet_aton(vip)
    out = []
    for f in frames:
        p = f.payload
        if f.ethertype != 0x0806 or len(p) < 28:
            continue
        sha, spa, tpa = p[8:14], p[14:18], p[24:28]
        if spa == packed and tpa == packed and (mac is None or _mac(sha) == mac):
            out.append(f)
    return out


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


# --------------------------------------------------------------------------- fixtures


class Nodes:
    """Makes nodes and watchers on one LAN; :meth:`close` stops and removes all of them."""

    def __init__(self, lan: Lan) -> None:
        self.lan = lan
        self.made: list[Node] = []
        self.watchers: list[VipWatcher] = []

    @property
    def hosts(self) -> list[Host]:
        return self.lan.hosts

    def lb(self, i: int) -> LbNode:
        node = LbNode(self.lan.hosts[i])
        self.made.append(node)
        return node

    def keepalived(self, i: int) -> KeepalivedNode:
        node = KeepalivedNode(self.lan.hosts[i])
        self.made.append(node)
        return node

    def watch(self, i: int) -> VipWatcher:
        w = VipWatcher(self.lan.hosts[i])
        self.watchers.append(w)
        return w

    def logs(self) -> str:
        out = []
        for n in self.made:
            out.append(f"==== {n} ({n.dir})")
            if isinstance(n, LbNode) and n.running():
                with contextlib.suppress(OSError):
                    out.append(n.api("show vrrp"))
            out.append(n.output()[-2500:])
        out.append("addresses: " + " | ".join(f"{h.name} {h.addresses()}" for h in self.hosts))
        return "\n".join(out)

    def close(self) -> list[str]:
        problems = []
        for w in self.watchers:
            w.close()
        for n in self.made:
            n.stop()
            if isinstance(n, LbNode) and "Traceback (most recent call last)" in n.output():
                problems.append(f"a Python traceback in {n}'s log:\n{n.output()[-3000:]}")
            n.cleanup()
        return problems


@contextlib.contextmanager
def lan_nodes(hosts: int, ipv6: bool) -> Iterator[Nodes]:
    """A LAN of ``hosts`` namespaces on one bridge and the nodes run there; at the end every
    node is stopped and the LAN removed, and what went wrong while stopping fails the test."""
    need_root()
    need_command("ip")
    with Lan(hosts=hosts, ipv6=ipv6) as lan:
        made = Nodes(lan)
        _DIAGNOSE.append(made.logs)
        try:
            yield made
        finally:
            _DIAGNOSE.remove(made.logs)
            problems = made.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def nodes() -> Iterator[Nodes]:
    """A 3-host LAN (IPv4 only, eth1 in 192.168.22.0/24, as the seeds expect) and its nodes."""
    with lan_nodes(3, ipv6=False) as made:
        yield made
