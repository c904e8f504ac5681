"""Traffic logs with IPv6: a UDP syslog target on ``[::1]`` (written the ways HAProxy
accepts), the ``option httplog`` / ``option tcplog`` line naming an IPv6 client (and an
IPv4 client of a dual-stack bind as ``::ffff:a.b.c.d``), and the address variables of a
``log-format`` — ``%ci %cp %fi %fp %bi %bp %si %sp`` — checked against what the client and
the server saw, with HAProxy run on the same file as the reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from lb.accesslog.logger import AccessLogger
from lb.config.model import LogOptions
from tests.ipv6.conftest import (
    LO4,
    LO6,
    Backend6,
    HttpBackend6,
    StartProxy,
    Syslog6,
    free_port6,
    open_client,
)
from tests.support.clients import recv_line

TARGETS = ["[::1]:{p}", "ipv6@::1:{p}", "udp6@[::1]:{p}"]
FORMAT = "ci=%ci cp=%cp fi=%fi fp=%fp bi=%bi bp=%bp si=%si sp=%sp"


def _message(line: str) -> str:
    """The syslog line without its ``<PRI>date tag[pid]: `` header."""
    return line.split("]: ", 1)[1].rstrip("\n")


def _get(client: str, port: int) -> int:
    """One HTTP request; returns the client's source port."""
    with open_client(client, port) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        cport = int(s.getsockname()[1])
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    return cport


@pytest.mark.parametrize("target", TARGETS)
def test_httplog_to_an_ipv6_syslog(
    proxy_kind: str,
    start_proxy6: StartProxy,
    http_backend6: Callable[..., HttpBackend6],
    syslog6: Syslog6,
    target: str,
) -> None:
    s1 = http_backend6("s1")
    port = free_port6()
    proxy = start_proxy6(
        proxy_kind,
        mode="http",
        binds=[f":::{port} v4v6"],
        servers=[f"s1 [::1]:{s1.port}"],
        global_lines=[f"log {target.format(p=syslog6.port)} local0"],
        defaults_lines=["log global", "option httplog"],
    )
    ports = [_get(LO6, port), _get(LO4, port)]
    lines = [_message(x) for x in syslog6.wait(2)]
    assert len(lines) == 2, proxy.stderr()
    assert lines[0].startswith(f"::1:{ports[0]} ["), lines
    assert lines[1].startswith(f"::ffff:127.0.0.1:{ports[1]} ["), lines
    for line in lines:
        assert " fe be/s1 " in line and " 200 " in line and '"GET /x HTTP/1.1"' in line


@pytest.mark.parametrize("mode", ["http", "tcp"])
def test_log_format_address_variables(
    mode: str,
    proxy_kind: str,
    start_proxy6: StartProxy,
    backend6: Callable[..., Backend6],
    http_backend6: Callable[..., HttpBackend6],
    syslog6: Syslog6,
) -> None:
    server: HttpBackend6 | Backend6 = (
        http_backend6("s1") if mode == "http" else backend6("hello", "s1")
    )
    port = free_port6()
    proxy = start_proxy6(
        proxy_kind,
        mode=mode,
        binds=[f":::{port} v4v6"],
        servers=[f"s1 [::1]:{server.port}"],
        global_lines=[f"log [::1]:{syslog6.port} local0"],
        defaults_lines=["log global", f'log-format "{FORMAT}"'],
    )
    cports = []
    for client in (LO6, LO4):
        if mode == "http":
            cports.append(_get(client, port))
        else:
            with open_client(client, port) as s:
                cports.append(int(s.getsockname()[1]))
                assert recv_line(s) == b"s1\n"
    lines = [_message(x) for x in syslog6.wait(2)]
    assert len(lines) == 2, proxy.stderr()
    peers = (
        [e["peer"] for e in server.events("open")]
        if mode == "http"
        else [e["peer"] for e in server.opens()]
    )
    # %bp is lb's source port towards the server: the one the server saw
    bports = [int(p.rsplit(":", 1)[1]) for p in peers]
    want = [
        f"ci=::1 cp={cports[0]} fi=::1 fp={port} bi=::1 bp={bports[0]} si=::1 sp={server.port}",
        f"ci=::ffff:127.0.0.1 cp={cports[1]} fi=::ffff:127.0.0.1 fp={port} "
        f"bi=::1 bp={bports[1]} si=::1 sp={server.port}",
    ]
    assert sorted(lines) == sorted(want)


def test_tcplog_of_an_ipv6_client(
    start_proxy6: StartProxy, backend6: Callable[..., Backend6], syslog6: Syslog6
) -> None:
    hello = backend6("hello", "s1")
    port = free_port6()
    start_proxy6(
        "lb",
        mode="tcp",
        binds=[f"[::1]:{port}"],
        servers=[f"s1 [::1]:{hello.port}"],
        global_lines=[f"log [::1]:{syslog6.port} local0"],
        defaults_lines=["log global", "option tcplog"],
    )
    with open_client(LO6, port) as s:
        cport = s.getsockname()[1]
        assert recv_line(s) == b"s1\n"
    (line,) = [_message(x) for x in syslog6.wait(1)]
    assert re.match(rf"::1:{cport} \[[^]]+\] fe be/s1 ", line), line


@pytest.mark.parametrize(
    ("fmt", "wanted"),
    [
        ("%ci %bi", True),
        ("%ci %{+Q}bp", True),
        ("%b/%s %si:%sp", False),  # the backend's name is not its source address
        ("%ci:%cp %bc", False),
    ],
)
def test_only_formats_showing_the_backend_source_pay_for_it(fmt: str, wanted: bool) -> None:
    """%bi/%bp cost a getsockname() per line: lb asks for it only when the format shows it."""
    logger = AccessLogger([], LogOptions(log_format=fmt))
    assert logger.backend_source is wanted
