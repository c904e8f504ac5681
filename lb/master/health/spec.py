"""What to check and how, per server, from the configuration. Pure (no I/O).

A ``ServerPlan`` is one server as the health checker sees it: its names, its
weight and flags, and a ``CheckSpec`` when it is checked. A ``CheckSpec`` is a
sequence of probes (all must pass: keepalived may stack checkers on one real
server), the timing, and rise/fall.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from lb.config.model import Config, HttpCheckExpect, Proxy, Server
from lb.master.health.httpcheck import KeepalivedUrl, haproxy_request
from lb.master.health.schedule import Timing
from lb.worker.proxy_protocol import build_v1, build_v2


@dataclass(frozen=True, slots=True)
class Target:
    family: int
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.family == socket.AF_INET6 else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class CheckTls:
    """check-ssl: the check's connection runs TLS with the server's settings."""

    verify: bool  # verify required: the chain against ca_file (and the names, with an SNI)
    ca_file: str = ""
    crt: str = ""
    ciphers: str = ""
    min_version: str = ""
    sni: str = ""  # check-sni ("" = none)


@dataclass(frozen=True, slots=True)
class TcpProbe:
    target: Target
    tls: CheckTls | None = None  # passes once the handshake is done (L6OK)


@dataclass(frozen=True, slots=True)
class HttpProbe:
    target: Target
    request: bytes
    no_body: bool = False  # a HEAD request: the answer ends with its head
    expects: tuple[HttpCheckExpect, ...] = ()  # HAProxy's rules (when url is None)
    url: KeepalivedUrl | None = None  # keepalived's HTTP_GET url block
    tls: CheckTls | None = None  # HTTPS
    preamble: bytes = b""  # sent in clear before the handshake (a PROXY header, with tls)


@dataclass(frozen=True, slots=True)
class IcmpProbe:
    target: Target  # the port is ignored


@dataclass(frozen=True, slots=True)
class MiscProbe:
    argv: tuple[str, ...]
    timeout_ms: int
    uid: int | None = None
    gid: int | None = None


Probe = TcpProbe | HttpProbe | IcmpProbe | MiscProbe


@dataclass(frozen=True, slots=True)
class CheckSpec:
    probes: tuple[Probe, ...]
    timing: Timing
    rise: int = 2
    fall: int = 3
    start_full: bool = False  # keepalived: a checked server starts fully up


@dataclass(frozen=True, slots=True)
class Notify:
    """A program run when the server goes up or down (keepalived's notify_up/notify_down)."""

    argv: tuple[str, ...]
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True, slots=True)
class ServerPlan:
    backend: str
    server: str
    weight: int = 1
    backup: bool = False
    disabled: bool = False  # "disabled": maintenance from the configuration
    slowstart: int = 0  # ms
    check: CheckSpec | None = None
    server_id: int = 0
    address: str = ""  # as shown by the runtime API
    port: int = 0
    notify_up: Notify | None = None
    notify_down: Notify | None = None

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.server}"


def haproxy_plans(
    config: Config, server_addrs: dict[str, tuple[int, str, int]]
) -> list[ServerPlan]:
    """Every server of every backend; ``server_addrs`` as the master resolved them."""
    plans: list[ServerPlan] = []
    for proxy in config.proxies:
        if not proxy.has_backend or proxy.disabled:
            continue
        for server in proxy.servers:
            family, host, port = server_addrs[f"{proxy.name}/{server.name}"]
            check = haproxy_check(proxy, server, Target(family, host, port))
            plans.append(
                ServerPlan(
                    backend=proxy.name,
                    server=server.name,
                    weight=server.weight,
                    backup=server.backup,
                    disabled=server.disabled,
                    slowstart=server.slowstart,
                    check=check,
                    server_id=server.id or 0,
                    address=host,
                    port=port,
                )
            )
    return plans


def haproxy_check(proxy: Proxy, server: Server, service: Target) -> CheckSpec | None:
    if not server.check:
        return None
    family, host = service.family, service.host
    if server.check_addr is not None:
        host = server.check_addr
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    target = Target(family, host, server.check_port or service.port)
    probe: Probe
    tls = check_tls(server)
    preamble = b""
    hc = proxy.http_check
    if hc.enabled:
        request = haproxy_request(hc)
        proxied = server.send_proxy or server.send_proxy_v2
        if proxied and server.check_port is None and server.check_addr is None:
            # HAProxy: checks of a send-proxy server carry a header too, unless they go to
            # another port or address; a check has no client to name (v2 LOCAL, v1 UNKNOWN)
            header = (
                build_v2(None, None, local=True) if server.send_proxy_v2 else build_v1(None, None)
            )
            if tls is None:
                request = header + request
            else:
                preamble = header
        probe = HttpProbe(
            target,
            request,
            no_body=hc.method.upper() == "HEAD",
            expects=tuple(hc.expects),
            tls=tls,
            preamble=preamble,
        )
    else:
        probe = TcpProbe(target, tls)
    timing = Timing(
        inter=server.inter,
        fastinter=server.fastinter,
        downinter=server.downinter,
        timeout_connect=proxy.timeouts.connect,
        timeout_check=proxy.timeouts.check,
    )
    return CheckSpec((probe,), timing, rise=server.rise, fall=server.fall)


def check_tls(server: Server) -> CheckTls | None:
    """HAProxy: checks of an ``ssl`` server use TLS unless 'port' or 'addr' sends them
    elsewhere; ``check-ssl`` forces it, ``no-check-ssl`` prevents it."""
    use = server.check_ssl
    if use is None:
        use = server.ssl and server.check_port is None and server.check_addr is None
    if not use:
        return None
    return CheckTls(
        verify=server.verify == "required",
        ca_file=server.ca_file,
        crt=server.crt,
        ciphers=server.ciphers,
        min_version=server.ssl_min_ver,
        sni=server.check_sni,
    )
