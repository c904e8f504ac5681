"""LogSender: real sockets, pipes and stdout; a dead or slow log server never blocks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lb.accesslog import LogSender, ProcessInfo, SyslogError
from lb.accesslog.sender import SYSLOG_PORT, parse_address
from lb.accesslog.syslog import LEVELS
from lb.config.model import LogTarget, Source

SRC = Source("test.cfg", 1)
PROC = ProcessInfo(tag="lbtest", pid=4242, hostname="h")
REPO = Path(__file__).resolve().parents[2]


def target(address: str, **kw: object) -> LogTarget:
    kw.setdefault("facility", "local2")
    return LogTarget(address=address, source=SRC, **kw)  # type: ignore[arg-type]


def free_udp_port(family: int = socket.AF_INET, host: str = "127.0.0.1") -> int:
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def udp_listener(family: int = socket.AF_INET, host: str = "127.0.0.1") -> socket.socket:
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(2.0)
    return s


def test_udp_delivers_framed_lines() -> None:
    with udp_listener() as rx:
        port = rx.getsockname()[1]
        sender = LogSender(target(f"127.0.0.1:{port}", format="rfc3164"), PROC)
        try:
            assert sender.send("hello", LEVELS["info"])
            data = rx.recv(4096)
        finally:
            sender.close()
    assert data.startswith(b"<150>") and data.endswith(b" localhost lbtest[4242]: hello\n")
    assert sender.sent == 1 and sender.dropped == 0


def test_udp_ipv6() -> None:
    try:
        rx = udp_listener(socket.AF_INET6, "::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    with rx:
        sender = LogSender(target(f"[::1]:{rx.getsockname()[1]}", format="raw"), PROC)
        try:
            sender.send("v6 line")
            assert rx.recv(4096) == b"v6 line\n"
        finally:
            sender.close()


def test_udp_without_listener_drops_without_raising_or_blocking() -> None:
    port = free_udp_port()
    sender = LogSender(target(f"127.0.0.1:{port}"), PROC)
    try:
        start = time.monotonic()
        results = [sender.send(f"line {i}") for i in range(2000)]
        elapsed = time.monotonic() - start
    finally:
        sender.close()
    assert elapsed < 2.0
    assert sender.sent + sender.dropped == 2000
    # the ICMP port-unreachable comes back as ECONNREFUSED on the connected socket
    assert sender.dropped > 0 and not all(results)
    assert sender.last_error is not None


def test_unix_datagram(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as rx:
        rx.bind(path)
        rx.settimeout(2.0)
        sender = LogSender(target(path, format="local"), PROC)
        try:
            assert sender.send("via unix", LEVELS["info"])
            assert rx.recv(4096).endswith(b" lbtest[4242]: via unix\n")
        finally:
            sender.close()


def test_unix_datagram_missing_then_appearing(tmp_path: Path) -> None:
    path = str(tmp_path / "dev-log")
    sender = LogSender(target(path, format="raw"), PROC)
    try:
        assert not sender.send("lost")  # nobody there: dropped, no exception
        assert sender.dropped == 1
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as rx:
            rx.bind(path)  # syslogd (re)starts: the next line gets through
            rx.settimeout(2.0)
            assert sender.send("found")
            assert rx.recv(4096) == b"found\n"
    finally:
        sender.close()


def test_unix_datagram_full_queue_drops_fast(tmp_path: Path) -> None:
    path = str(tmp_path / "slow.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as rx:
        rx.bind(path)  # never read: the queue fills up
        sender = LogSender(target(path, format="raw"), PROC)
        try:
            start = time.monotonic()
            for i in range(5000):
                sender.send(f"line {i} " + "x" * 200)
            assert time.monotonic() - start < 2.0
        finally:
            sender.close()
    assert sender.dropped > 0 and sender.last_error is not None


def test_level_filter_and_min_level_cap() -> None:
    with udp_listener() as rx:
        port = rx.getsockname()[1]
        t = target(f"127.0.0.1:{port}", format="priority", level="notice", min_level="err")
        sender = LogSender(t, PROC)
        try:
            assert not sender.send("info is filtered", LEVELS["info"])
            assert sender.send("warning", LEVELS["warning"])
            assert sender.send("emerg capped to err", LEVELS["emerg"])
            got = [rx.recv(4096), rx.recv(4096)]
        finally:
            sender.close()
    assert got == [b"<148>warning\n", b"<147>emerg capped to err\n"]
    assert sender.dropped == 0  # filtered is not dropped


def _run_child(body: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", _child_code(body)], cwd=REPO, capture_output=True, timeout=30
    )


def test_stdout_and_stderr() -> None:
    res = _run_child(
        """
        out, err = make("stdout"), make("stderr", "short")
        out.send("to stdout"); err.send("to stderr", 3)
        out.close(); err.close()
        """
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"to stdout\n"
    assert res.stderr == b"<3>to stderr\n"


def test_stdout_full_pipe_never_blocks_nor_changes_shared_flags() -> None:
    # The parent never reads until the child is done: the 64 KiB pipe fills up.
    body = """
        before = fcntl.fcntl(1, fcntl.F_GETFL)
        s = make("stdout")
        for i in range(20000):
            s.send("line %05d " % i + "x" * 100)
        after = fcntl.fcntl(1, fcntl.F_GETFL)
        print(s.sent, s.dropped, int(before == after), file=sys.stderr)
        """
    r, w = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _child_code(body)],
            cwd=REPO,
            stdout=w,
            stderr=subprocess.PIPE,
        )
        os.close(w)
        w = -1
        try:
            _, err = proc.communicate(timeout=30)  # would hang forever on a blocking write
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        data = b""
        while chunk := os.read(r, 1 << 16):
            data += chunk
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    sent, dropped, same_flags = (int(x) for x in err.split())
    assert proc.returncode == 0
    assert dropped > 0 and sent + dropped == 20000
    assert same_flags == 1
    lines = data.split(b"\n")
    assert lines[-1] == b""
    assert all(len(line) == 111 for line in lines[:-1])  # whole lines only, never half
    assert len(lines) - 1 == sent


def _child_code(body: str) -> str:
    head = textwrap.dedent(
        """
        import fcntl, os, sys
        from lb.accesslog import LogSender, ProcessInfo
        from lb.config.model import LogTarget, Source
        def make(addr, fmt="raw"):
            t = LogTarget(address=addr, facility="daemon", source=Source("c", 1), format=fmt)
            return LogSender(t, ProcessInfo(tag="t", pid=1, hostname="h"))
        """
    )
    return head + textwrap.dedent(body)


ADDRESSES = [
    ("127.0.0.1:514", ("udp", ("127.0.0.1", 514))),
    ("127.0.0.1", ("udp", ("127.0.0.1", SYSLOG_PORT))),
    ("udp@127.0.0.1:1514", ("udp", ("127.0.0.1", 1514))),
    ("ipv4@127.0.0.1:1514", ("udp", ("127.0.0.1", 1514))),
    ("[::1]:1514", ("udp", ("::1", 1514))),
    ("[::1]", ("udp", ("::1", SYSLOG_PORT))),
    ("::1", ("udp", ("::1", SYSLOG_PORT))),
    ("/dev/log", ("unix", "/dev/log")),
    ("unix@/run/x.sock", ("unix", "/run/x.sock")),
    ("stdout", ("fd", 1)),
    ("stderr", ("fd", 2)),
    ("fd@3", ("fd", 3)),
]


@pytest.mark.parametrize(("address", "expected"), ADDRESSES)
def test_parse_address(address: str, expected: tuple[str, object]) -> None:
    ep = parse_address(address)
    kind, where = expected
    assert ep.kind == kind
    if kind == "fd":
        assert ep.fd == where
    elif kind == "unix":
        assert ep.sockaddr == where
    else:
        assert ep.sockaddr[:2] == where  # type: ignore[index]


@pytest.mark.parametrize(
    "address", ["tcp@127.0.0.1:514", "ring@buf", "127.0.0.1:99999", "127.0.0.1:x", "fd@x", ":514"]
)
def test_parse_address_errors(address: str) -> None:
    with pytest.raises(SyslogError):
        parse_address(address)


def test_closed_sender_drops_quietly() -> None:
    sender = LogSender(target(f"127.0.0.1:{free_udp_port()}"), PROC)
    sender.close()
    assert not sender.send("after close")
    assert sender.dropped == 1
    sender.close()  # twice is fine


def test_bad_fd_target_is_a_config_error() -> None:
    with pytest.raises(SyslogError, match="fd@987"):
        LogSender(target("fd@987"), PROC)
