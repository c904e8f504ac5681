"""keepalived's real_server checkers as check specs: TCP_CHECK, HTTP_GET, MISC_CHECK, PING_CHECK.

keepalived's meaning, mapped onto the rise/fall machine:

- a real server starts up (``alpha``: down) and one passed check brings it up
  (rise 1);
- a failed check of a live server is retried ``retry`` times,
  ``delay_before_retry`` apart (3 s for HTTP_GET, 1 s for the others), before
  it goes down: fall = retry + 1 (retry defaults to 1, 0 for MISC_CHECK);
- checks run every ``delay_loop`` (the checker's, else the virtual server's);
  ``connect_timeout`` (5 s) bounds each check;
- several checkers on one real server must all pass; the first one's timing
  is used for all.

Everything here is pure; a value lb cannot use raises ``SpecError`` with the
line it comes from.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import socket
from collections.abc import Callable

from lb.config.model import Keepalived, KeepalivedBlock, RealServer, Source, VirtualServer
from lb.config.units import parse_int, parse_seconds
from lb.master.health.httpcheck import KeepalivedUrl, keepalived_request
from lb.master.health.schedule import Timing
from lb.master.health.spec import (
    CheckSpec,
    HttpProbe,
    IcmpProbe,
    MiscProbe,
    Probe,
    ServerPlan,
    Target,
    TcpProbe,
)

DEFAULT_CONNECT_TIMEOUT = 5000  # ms
SUPPORTED = ("TCP_CHECK", "HTTP_GET", "MISC_CHECK", "PING_CHECK")
_MD5_HEX = re.compile(r"[0-9a-fA-F]{32}")

# (user, group) → (uid, gid); the checker passes lb.vrrp.scripts.script_account
AccountOf = Callable[[str | None, str | None], tuple[int | None, int | None]]


class SpecError(ValueError):
    def __init__(self, source: Source, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


def _family(host: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET


def _name(host: str, port: int) -> str:
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}" if port else host


def keepalived_plans(model: Keepalived, account_of: AccountOf) -> list[ServerPlan]:
    """One plan per real server, named "VIP:PORT" / "RIP:PORT"."""
    plans: list[ServerPlan] = []
    for vs in model.virtual_servers:
        backend = _name(vs.host, vs.port)
        for rs in vs.real_servers:
            plans.append(
                ServerPlan(
                    backend=backend,
                    server=_name(rs.host, rs.port),
                    weight=rs.weight,
                    check=real_server_check(vs, rs, account_of),
                    address=rs.host,
                    port=rs.port,
                )
            )
    return plans


def real_server_check(vs: VirtualServer, rs: RealServer, account_of: AccountOf) -> CheckSpec | None:
    if not rs.checks:
        return None
    probes: list[Probe] = []
    first: tuple[Timing, int, bool] | None = None
    for block in rs.checks:
        if block.keyword not in SUPPORTED:
            raise SpecError(block.source, f"'{block.keyword}' is not supported yet")
        options = _options(block)
        target = Target(
            _family(_value(options, "connect_ip", rs.host)),
            _value(options, "connect_ip", rs.host),
            _int(options, "connect_port", rs.port, 1, 65535),
        )
        connect_timeout = _ms(options, "connect_timeout", DEFAULT_CONNECT_TIMEOUT)
        delay_loop = _ms(options, "delay_loop", vs.delay_loop)
        retry_default = 0 if block.keyword == "MISC_CHECK" else 1
        retry = _int(
            options, "retry", _int(options, "nb_get_retry", retry_default, 0, 1000), 0, 1000
        )
        retry_delay = _ms(
            options, "delay_before_retry", 3000 if block.keyword == "HTTP_GET" else 1000
        )
        timing = Timing(
            inter=delay_loop,
            fastinter=retry_delay,
            downinter=delay_loop,
            timeout_connect=connect_timeout,
            timeout_check=connect_timeout,
        )
        if first is None:
            first = (timing, retry + 1, "alpha" in options)
        if block.keyword == "TCP_CHECK":
            probes.append(TcpProbe(target))
        elif block.keyword == "PING_CHECK":
            probes.append(IcmpProbe(target))
        elif block.keyword == "HTTP_GET":
            probes.extend(_http_get(block, target, options))
        else:
            probes.append(_misc(block, delay_loop, account_of))
    assert first is not None
    timing, fall, alpha = first
    return CheckSpec(tuple(probes), timing, rise=1, fall=fall, start_full=not alpha)


def _options(block: KeepalivedBlock) -> dict[str, KeepalivedBlock]:
    return {child.keyword: child for child in block.children if child.keyword != "url"}


def _value(options: dict[str, KeepalivedBlock], key: str, default: str) -> str:
    node = options.get(key)
    if node is None:
        return default
    if len(node.args) != 1:
        raise SpecError(node.source, f"'{key}' expects one value")
    if key == "connect_ip":
        try:
            ipaddress.ip_address(node.args[0])
        except ValueError:
            raise SpecError(node.source, f"'{key}' expects an IP address") from None
    return node.args[0]


def _int(options: dict[str, KeepalivedBlock], key: str, default: int, lo: int, hi: int) -> int:
    node = options.get(key)
    if node is None:
        return default
    try:
        return parse_int(_value(options, key, ""), lo, hi, key)
    except ValueError as e:
        raise SpecError(node.source, str(e)) from None


def _ms(options: dict[str, KeepalivedBlock], key: str, default: int) -> int:
    node = options.get(key)
    if node is None:
        return default
    try:
        ms = parse_seconds(_value(options, key, ""), key)
    except ValueError as e:
        raise SpecError(node.source, str(e)) from None
    if ms <= 0:
        raise SpecError(node.source, f"'{key}' must be more than 0")
    return ms


def _http_get(
    block: KeepalivedBlock, target: Target, options: dict[str, KeepalivedBlock]
) -> list[HttpProbe]:
    protocol = _value(options, "http_protocol", "1.0")
    if protocol not in ("1.0", "1.0C", "1.1"):
        raise SpecError(options["http_protocol"].source, "'http_protocol' is 1.0, 1.0C or 1.1")
    default_host = _value(options, "virtualhost", str(target))
    probes = []
    for url in (c for c in block.children if c.keyword == "url"):
        fields = {c.keyword: c for c in url.children}
        path = _value(fields, "path", "")
        if not path:
            raise SpecError(url.source, "'url' needs a 'path'")
        codes = ((200, 299),)
        if "status_code" in fields:
            codes = tuple(
                _status_range(fields["status_code"], w) for w in fields["status_code"].args
            )
        digest = _value(fields, "digest", "") or None
        if digest is not None and (
            len(digest) != 32 or not all(c in "0123456789abcdefABCDEF" for c in digest)
        ):
            raise SpecError(fields["digest"].source, "'digest' is an MD5 sum: 32 hex digits")
        host = _value(fields, "virtualhost", default_host)
        spec = KeepalivedUrl(
            path=path,
            status_codes=codes,
            digest=digest,
            regex=_value(fields, "regex", "") or None,
            regex_no_match="regex_no_match" in fields,
            virtualhost=host,
        )
        probes.append(HttpProbe(target, keepalived_request(path, host, protocol), url=spec))
    if not probes:
        raise SpecError(block.source, "'HTTP_GET' needs at least one 'url' block")
    return probes


def _status_range(node: KeepalivedBlock, word: str) -> tuple[int, int]:
    low, _, high = word.partition("-")
    try:
        lo = parse_int(low, 100, 599, "status_code")
        hi = parse_int(high, 100, 599, "status_code") if high else lo
    except ValueError as e:
        raise SpecError(node.source, str(e)) from None
    if hi < lo:
        raise SpecError(node.source, f"status_code range '{word}' is empty")
    return lo, hi


def _misc(block: KeepalivedBlock, delay_loop: int, account_of: AccountOf) -> MiscProbe:
    fields = {c.keyword: c for c in block.children}
    node = fields.get("misc_path")
    if node is None or not node.args:
        raise SpecError(block.source, "'MISC_CHECK' needs a 'misc_path'")
    if "misc_dynamic" in fields:
        raise SpecError(fields["misc_dynamic"].source, "'misc_dynamic' is not supported yet")
    # One quoted word or several: the command line, split as a shell would, run without one.
    argv = tuple(shlex.split(" ".join(node.args)))
    timeout = _ms(fields, "misc_timeout", delay_loop)
    user_node = fields.get("user")
    user = group = None
    if user_node is not None:
        if not 1 <= len(user_node.args) <= 2:
            raise SpecError(user_node.source, "'user' expects USER [GROUP]")
        user = user_node.args[0]
        group = user_node.args[1] if len(user_node.args) > 1 else None
    try:
        uid, gid = account_of(user, group)
    except KeyError as e:
        raise SpecError((user_node or block).source, f"unknown user or group {e}") from None
    return MiscProbe(argv, timeout, uid, gid)
