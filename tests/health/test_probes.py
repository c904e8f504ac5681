"""Each probe against real sockets and processes on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lb.config.model import HttpCheck, HttpCheckExpect
from lb.master.health.httpcheck import KeepalivedUrl, haproxy_request, keepalived_request
from lb.master.health.probes import run_check
from lb.master.health.probes.http import http_probe
from lb.master.health.probes.icmp import icmp_probe
from lb.master.health.probes.misc import misc_probe
from lb.master.health.probes.tcp import tcp_probe
from lb.master.health.schedule import Timing
from lb.master.health.spec import CheckSpec, HttpProbe, IcmpProbe, MiscProbe, Target, TcpProbe
from lb.stats.server_state import CheckStatus
from tests.support.clients import free_port
from tests.support.peers import need_command, need_root

LOCAL = Target(socket.AF_INET, "127.0.0.1", 0)


def at(port: int, host: str = "127.0.0.1") -> Target:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return Target(family, host, port)


def run(coro: Awaitable[object]) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@contextmanager
def listening(backlog: int = 16, host: str = "127.0.0.1") -> Iterator[socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(backlog)
    try:
        yield sock
    finally:
        sock.close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()


@contextmanager
def black_hole() -> Iterator[int]:
    """A port whose SYNs are dropped: a listener with its accept queue full, never accepting."""
    with listening(backlog=0) as sock:
        port = sock.getsockname()[1]
        fillers = []
        for _ in range(8):  # listen(0) queues one; a few more make sure the queue is full
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        time.sleep(0.05)
        try:
            yield port
        finally:
            for c in fillers:
                c.close()


# ------------------------------------------------------------------ TCP


def test_tcp_connect_passes() -> None:
    with listening() as sock:
        result = run(tcp_probe(at(sock.getsockname()[1]), 1.0))
    assert result.status is CheckStatus.L4OK and result.passed  # type: ignore[union-attr]


def test_tcp_refused_is_l4con() -> None:
    result = run(tcp_probe(at(closed_port()), 1.0))
    assert result.status is CheckStatus.L4CON  # type: ignore[union-attr]
    assert result.info == "Connection refused"  # type: ignore[union-attr]


def test_tcp_black_hole_is_l4tout_at_the_timeout() -> None:
    with black_hole() as port:
        t0 = time.monotonic()
        result = run(tcp_probe(at(port), 0.3))
        took = time.monotonic() - t0
    assert result.status is CheckStatus.L4TOUT  # type: ignore[union-attr]
    assert 0.25 < took < 1.5


def test_tcp_over_ipv6() -> None:
    with listening(host="::1") as sock:
        result = run(tcp_probe(at(sock.getsockname()[1], "::1"), 1.0))
    assert result.status is CheckStatus.L4OK  # type: ignore[union-attr]


# ------------------------------------------------------------------ HTTP

Answer = Callable[[bytes], Awaitable[bytes | None]]


class HttpServer:
    """An asyncio server on loopback: records each request, answers what ``answer`` says
    (None: never answer), then closes."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def __aenter__(self) -> HttpServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length) if length else b""
            self.requests.append(head + body)
            reply = await self.answer(head + body)
            if reply is None:
                await reader.read()  # hang until the checker gives up
                return
            writer.write(reply)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def replying(data: bytes) -> Answer:
    async def answer(_request: bytes) -> bytes | None:
        return data

    return answer


async def never(_request: bytes) -> bytes | None:
    return None


def http(port: int, check: HttpCheck | None = None, url: KeepalivedUrl | None = None) -> HttpProbe:
    if url is not None:
        return HttpProbe(at(port), keepalived_request(url.path, f"127.0.0.1:{port}"), url=url)
    check = check or HttpCheck(enabled=True)
    return HttpProbe(at(port), haproxy_request(check), expects=tuple(check.expects))


def probe_http(answer: Answer, **kw: object) -> tuple[object, list[bytes]]:
    async def go() -> tuple[object, list[bytes]]:
        async with HttpServer(answer) as server:
            result = await http_probe(http(server.port, **kw), 1.0, 0.5)  # type: ignore[arg-type]
            return result, server.requests

    return run(go())  # type: ignore[return-value]


def test_http_200_passes_with_its_code_and_the_request_haproxy_sends() -> None:
    result, requests = probe_http(replying(b"HTTP/1.0 200 OK\r\n\r\n"))
    assert (result.status, result.code) == (CheckStatus.L7OK, 200)  # type: ignore[attr-defined]
    assert requests == [b"OPTIONS / HTTP/1.0\r\n\r\n"]


def test_http_503_is_l7sts_with_its_code() -> None:
    result, _ = probe_http(
        replying(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
    )
    assert (result.status, result.code) == (CheckStatus.L7STS, 503)  # type: ignore[attr-defined]


def test_http_garbage_is_l7rsp() -> None:
    result, _ = probe_http(replying(b"SSH-2.0-OpenSSH_9.2\r\n"))
    assert result.status is CheckStatus.L7RSP  # type: ignore[attr-defined]


def test_http_close_without_answer_is_l7rsp() -> None:
    result, _ = probe_http(replying(b""))
    assert result.status is CheckStatus.L7RSP  # type: ignore[attr-defined]


def test_http_silence_is_l7tout_at_the_read_timeout() -> None:
    t0 = time.monotonic()
    result, _ = probe_http(never)
    assert result.status is CheckStatus.L7TOUT  # type: ignore[attr-defined]
    assert 0.4 < time.monotonic() - t0 < 1.5


def test_http_refused_and_black_holed() -> None:
    result = run(http_probe(http(closed_port()), 1.0, 0.5))
    assert result.status is CheckStatus.L4CON  # type: ignore[attr-defined]
    with black_hole() as port:
        result = run(http_probe(http(port), 0.3, 0.5))
    assert result.status is CheckStatus.L4TOUT  # type: ignore[attr-defined]


def test_http_expect_rules_and_send_options() -> None:
    check = HttpCheck(
        enabled=True,
        method="GET",
        uri="/health",
        version="HTTP/1.1",
        headers=[("Host", "app")],
        expects=[HttpCheckExpect(match="string", pattern="ready")],
    )
    page = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
    result, requests = probe_http(replying(page % (8, b"ready: 1")), check=check)
    assert result.status is CheckStatus.L7OK  # type: ignore[attr-defined]
    assert requests[0].startswith(b"GET /health HTTP/1.1\r\nhost: app\r\n")
    result, _ = probe_http(replying(page % (9, b"starting!")), check=check)
    assert result.status is CheckStatus.L7RSP  # type: ignore[attr-defined]


def test_keepalived_http_get_digest() -> None:
    body = b"<html>fine</html>"
    page = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    good = KeepalivedUrl("/status", digest=hashlib.md5(body).hexdigest())
    result, requests = probe_http(replying(page), url=good)
    assert result.status is CheckStatus.L7OK  # type: ignore[attr-defined]
    assert requests[0].startswith(b"GET /status HTTP/1.0\r\nHost: 127.0.0.1:")
    wrong = KeepalivedUrl("/status", digest="0" * 32)
    result, _ = probe_http(replying(page), url=wrong)
    assert result.status is CheckStatus.L7RSP  # type: ignore[attr-defined]
    result, _ = probe_http(replying(b"HTTP/1.1 500 Oops\r\n\r\n"), url=good)
    assert (result.status, result.code) == (CheckStatus.L7STS, 500)  # type: ignore[attr-defined]


def test_run_check_stops_at_the_first_failure() -> None:
    async def go() -> object:
        async with HttpServer(replying(b"HTTP/1.0 500 No\r\n\r\n")) as server:
            with listening() as sock:
                spec = CheckSpec(
                    (TcpProbe(at(sock.getsockname()[1])), http(server.port), TcpProbe(at(1))),
                    Timing(1000),
                )
                return await run_check(spec)

    result = run(go())
    assert result.status is CheckStatus.L7STS  # type: ignore[attr-defined]


# ------------------------------------------------------------------ MISC_CHECK


def test_misc_exit_status() -> None:
    true, false = need_command("true"), need_command("false")
    assert run(misc_probe(MiscProbe((true,), 2000))).status is CheckStatus.PROCOK  # type: ignore[attr-defined]
    result = run(misc_probe(MiscProbe((false,), 2000)))
    assert (result.status, result.code) == (CheckStatus.PROCERR, 1)  # type: ignore[attr-defined]
    result = run(misc_probe(MiscProbe(("/nonexistent/check",), 2000)))
    assert result.status is CheckStatus.PROCERR  # type: ignore[attr-defined]


def test_misc_runs_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    # ";" separates nothing without a shell: touch gets two file names
    argv = (need_command("touch"), f"{marker};", f"{tmp_path}/echo")
    assert run(misc_probe(MiscProbe(argv, 2000))).passed  # type: ignore[attr-defined]
    assert (tmp_path / "ran;").exists() and (tmp_path / "echo").exists()


def test_misc_timeout_kills_the_program(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(30)"
    t0 = time.monotonic()
    result = run(misc_probe(MiscProbe((sys.executable, "-c", script), 500)))
    assert result.status is CheckStatus.PROCTOUT  # type: ignore[attr-defined]
    assert time.monotonic() - t0 < 5
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# ------------------------------------------------------------------ ICMP


def test_icmp_echo_on_loopback() -> None:
    need_root()
    assert run(icmp_probe(at(0), 1.0)).status is CheckStatus.L4OK  # type: ignore[attr-defined]
    assert run(icmp_probe(at(0, "::1"), 1.0)).status is CheckStatus.L4OK  # type: ignore[attr-defined]
    spec = CheckSpec((IcmpProbe(at(0)),), Timing(1000))
    assert run(run_check(spec)).passed  # type: ignore[attr-defined]


ICMP_IN_NETNS = textwrap.dedent(
    """
    import asyncio, socket, sys
    from lb.master.health.probes import icmp
    from lb.master.health.spec import Target
    if sys.argv[1] == "raw":
        raw = lambda f: (socket.socket(f, socket.SOCK_RAW, icmp._PROTO[f]), True)
        icmp._open = raw
    async def main():
        for host, family in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
            r = await icmp.icmp_probe(Target(family, host, 0), 0.3)
            print(r.status.name)
    asyncio.run(main())
    """
)


@pytest.mark.parametrize(
    ("sysctls", "socket_kind", "expected"),
    [
        # ping sockets allowed: the unprivileged path
        (["net.ipv4.ping_group_range=0 0"], "dgram", ["L4OK", "L4OK"]),
        # nobody answers echo requests: the timeout, raw and unprivileged
        (
            ["net.ipv4.icmp_echo_ignore_all=1", "net.ipv6.icmp.echo_ignore_all=1"],
            "raw",
            ["L4TOUT", "L4TOUT"],
        ),
        (
            [
                "net.ipv4.ping_group_range=0 0",
                "net.ipv4.icmp_echo_ignore_all=1",
                "net.ipv6.icmp.echo_ignore_all=1",
            ],
            "dgram",
            ["L4TOUT", "L4TOUT"],
        ),
    ],
)
def test_icmp_in_a_private_network_namespace(
    sysctls: list[str], socket_kind: str, expected: list[str]
) -> None:
    """Loopback of a fresh network namespace, where echo replies can be turned off."""
    need_root()
    unshare = need_command("unshare")
    ip, sysctl = need_command("ip"), need_command("sysctl")
    setup = f"{ip} link set lo up"
    for s in sysctls:
        setup += f" && {sysctl} -qw '{s}'"
    setup += f' && exec {sys.executable} -c "$0" {socket_kind}'
    proc = subprocess.run(
        [unshare, "--net", "sh", "-c", setup, ICMP_IN_NETNS],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == expected
