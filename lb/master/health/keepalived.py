"""keepalived's real_server checkers as check specs: TCP_CHECK, HTTP_GET, MISC_CHECK, PING_CHECK.

keepalived's meaning, mapped onto the rise/fall machine:

- a real server starts up (``alpha``: down) and one passed check brings it up
  (rise 1);
- a failed check of a live server is retried ``retry`` times,
  ``delay_before_retry`` apart (3 s for HTTP_GET, 1 s for the others), before
  it goes down: fall = retry + 1 (retry defaults to 1, 0 for MISC_CHECK);
- checks run every ``delay_loop``; ``connect_timeout`` (5 s) bounds each check;
- a setting on the virtual_server is the default for its real servers, one on
  the real_server the default for its checkers;
- several checkers on one real server must all pass; the first one's timing
  is used for all.

Each virtual_server that lb proxies (lb.config.keepalived_vs) is a backend
whose servers get these specs instead of HAProxy's check options.

Everything here is pure; a value lb cannot use raises ``SpecError`` with the
line it comes from. What lb recognises but does not do goes to ``not_yet``
and is left out.
"""

from __future__ import annotations

import ipaddress
import shlex
import socket
from collections.abc import Callable, Iterable
from dataclasses import replace

from lb.config import keepalived_keywords as kk
from lb.config.keepalived_vs import server_name
from lb.config.model import Config, KeepalivedBlock, RealServer, Source, VirtualServer
from lb.config.units import parse_int, parse_seconds
from lb.master.health.httpcheck import KeepalivedUrl, keepalived_request
from lb.master.health.schedule import Timing
from lb.master.health.spec import (
    CheckSpec,
    HttpProbe,
    IcmpProbe,
    MiscProbe,
    Notify,
    Probe,
    ServerPlan,
    Target,
    TcpProbe,
)

DEFAULT_CONNECT_TIMEOUT = 5000  # ms
SUPPORTED = tuple(kk.CHECKERS)

# (user, group) → (uid, gid); the master passes lb.vrrp.scripts.script_account
AccountOf = Callable[[str | None, str | None], tuple[int | None, int | None]]
# (where, what): something lb recognises but does not do, left out of the spec
NotYet = Callable[[Source, str], None]
Options = dict[str, KeepalivedBlock]


class SpecError(ValueError):
    def __init__(self, source: Source, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


def _ignore(source: Source, what: str) -> None:
    pass


def _family(host: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET


# --------------------------------------------------------------------------- plans


def keepalived_plans(
    config: Config, plans: Iterable[ServerPlan], account_of: AccountOf
) -> list[ServerPlan]:
    """``plans`` (haproxy_plans'), with each virtual_server proxy's servers checked and
    notified as keepalived would. Raises SpecError (lb -c reported it already)."""
    real: dict[str, tuple[VirtualServer, RealServer]] = {}
    for proxy in config.proxies:
        vs = proxy.virtual_server
        if vs is not None:
            for rs in vs.real_servers:
                real[f"{proxy.name}/{server_name(vs, rs)}"] = (vs, rs)
    out = []
    for plan in plans:
        found = real.get(plan.key)
        if found is not None:
            vs, rs = found
            plan = replace(
                plan,
                check=real_server_check(vs, rs, account_of),
                notify_up=_notify(rs.notify_up, rs.source, account_of),
                notify_down=_notify(rs.notify_down, rs.source, account_of),
            )
        out.append(plan)
    return out


def check_real_servers(
    config: Config, account_of: AccountOf, alert: NotYet, not_yet: NotYet
) -> None:
    """For the loader (lb -c): build every spec as ``keepalived_plans`` will, report what
    is wrong, and copy rise, fall and intervals onto the proxies' servers, where the
    stats and the runtime API read them."""
    for proxy in config.proxies:
        vs = proxy.virtual_server
        if vs is None:
            continue
        servers = {s.name: s for s in proxy.servers}
        for rs in vs.real_servers:
            try:
                spec = real_server_check(vs, rs, account_of, not_yet)
                _notify(rs.notify_up, rs.source, account_of)
                _notify(rs.notify_down, rs.source, account_of)
            except SpecError as e:
                alert(e.source, e.message)
                continue
            server = servers[server_name(vs, rs)]
            server.check = spec is not None
            if spec is not None:
                timing = spec.timing
                server.rise, server.fall = spec.rise, spec.fall
                server.inter, server.fastinter, server.downinter = (
                    timing.inter,
                    timing.fastinter,
                    timing.downinter,
                )


def _notify(words: list[str], source: Source, account_of: AccountOf) -> Notify | None:
    """``notify_up|notify_down COMMAND [USER [GROUP]]``: the command split as a shell
    would, then run without one (keepalived passes no argument)."""
    if not words:
        return None
    argv = tuple(shlex.split(words[0]))
    if not argv:
        raise SpecError(source, "empty notify command")
    user = words[1] if len(words) > 1 else None
    group = words[2] if len(words) > 2 else None
    try:
        uid, gid = account_of(user, group)
    except KeyError as e:
        raise SpecError(source, f"unknown user or group {e}") from None
    return Notify(argv, uid, gid)


# --------------------------------------------------------------------------- one real server


def real_server_check(
    vs: VirtualServer, rs: RealServer, account_of: AccountOf, not_yet: NotYet = _ignore
) -> CheckSpec | None:
    if not rs.checks:
        return None
    inherited = {b.keyword: b for b in (*vs.check_defaults, *rs.check_defaults)}
    port = rs.port or vs.port
    probes: list[Probe] = []
    first: tuple[Timing, int, bool] | None = None
    for block in rs.checks:
        table = kk.CHECKERS.get(block.keyword)
        if table is None:
            not_yet(block.source, block.keyword)
            continue
        options = {**inherited, **_options(block, table, not_yet)}
        connect_ip = _value(options, "connect_ip", rs.host)
        target = Target(
            _family(connect_ip), connect_ip, _int(options, "connect_port", port, 1, 65535)
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
            first = (timing, retry + 1, _alpha(options))
        if block.keyword == "TCP_CHECK":
            probes.append(TcpProbe(target))
        elif block.keyword == "PING_CHECK":
            probes.append(IcmpProbe(target))
        elif block.keyword == "HTTP_GET":
            probes.extend(_http_get(block, target, options, not_yet))
        else:
            probes.append(_misc(block, options, delay_loop, account_of))
    if first is None:  # only checkers lb does not run: unchecked, as in HAProxy without check
        return None
    timing, fall, alpha = first
    return CheckSpec(tuple(probes), timing, rise=1, fall=fall, start_full=not alpha)


def _options(block: KeepalivedBlock, table: dict[str, kk.KaKeyword], not_yet: NotYet) -> Options:
    """The checker's options by keyword (``url`` blocks apart); unknown ones are errors."""
    out: Options = {}
    for child in block.children:
        entry = table.get(child.keyword)
        if entry is None:
            raise SpecError(
                child.source, f"unknown keyword '{child.keyword}' in '{block.keyword}' block"
            )
        if not entry.modelled:
            not_yet(child.source, child.keyword)
        elif child.keyword != "url":
            out[child.keyword] = child
    return out


def _alpha(options: Options) -> bool:
    node = options.get("alpha")
    if node is None:
        return False
    if not node.args:
        return True
    word = node.args[0].lower()
    if word not in ("true", "yes", "on", "false", "no", "off"):
        raise SpecError(node.source, f"'alpha' expects true or false, got '{node.args[0]}'")
    return word in ("true", "yes", "on")


def _value(options: Options, key: str, default: str) -> str:
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


def _int(options: Options, key: str, default: int, lo: int, hi: int) -> int:
    node = options.get(key)
    if node is None:
        return default
    try:
        return parse_int(_value(options, key, ""), lo, hi, key)
    except ValueError as e:
        raise SpecError(node.source, str(e)) from None


def _ms(options: Options, key: str, default: int) -> int:
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
    block: KeepalivedBlock, target: Target, options: Options, not_yet: NotYet
) -> list[HttpProbe]:
    protocol = _value(options, "http_protocol", "1.0")
    if protocol not in ("1.0", "1.0C", "1.1"):
        raise SpecError(options["http_protocol"].source, "'http_protocol' is 1.0, 1.0C or 1.1")
    default_host = _value(options, "virtualhost", str(target))
    probes = []
    for url in (c for c in block.children if c.keyword == "url"):
        fields = _options(url, kk.CHECK_URL, not_yet)
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


def _misc(
    block: KeepalivedBlock, options: Options, delay_loop: int, account_of: AccountOf
) -> MiscProbe:
    node = options.get("misc_path")
    if node is None or not node.args:
        raise SpecError(block.source, "'MISC_CHECK' needs a 'misc_path'")
    # One quoted word or several: the command line, split as a shell would, run without one.
    argv = tuple(shlex.split(" ".join(node.args)))
    timeout = _ms(options, "misc_timeout", delay_loop)
    user_node = options.get("user")
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
