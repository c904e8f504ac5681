"""The HAProxy-syntax parser: lines → ``Global`` and ``Proxy`` objects.

One ``HaproxyParser`` reads every HAProxy-syntax file of a load, in order (a
``defaults`` section carries over from one file to the next, as in HAProxy),
then ``finish()`` completes what needs every file (``log global``, errorfile
sizes against ``tune.bufsize``); the loader then runs ``haproxy_validate``.

What each keyword is (supported, not yet, rejected, allowed where) comes from
``keywords``; this module only holds the code of the supported ones.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from msgspec import structs

from lb.config import haproxy_compression, haproxy_stats
from lb.config import haproxy_servers as servers
from lb.config import keywords as kw
from lb.config.addresses import (
    Address,
    AddressError,
    AddressNotYet,
    parse_address,
    parse_log_address,
    parse_network,
)
from lb.config.haproxy_lexer import iter_lines, lex_line
from lb.config.keywords import Keyword, Status
from lb.config.model import (
    AclLine,
    Bind,
    Capture,
    ForwardFor,
    Global,
    HttpConnectionMode,
    HttpOptions,
    LogOptions,
    LogTarget,
    Proxy,
    RuleLine,
    Server,
    Source,
    StatsSocket,
    Timeouts,
    UseBackend,
    Userlist,
    UserlistGroup,
    UserlistUser,
    UseServer,
)
from lb.config.report import Reporter
from lb.config.units import parse_int, parse_size, parse_time
from lb.sticktable import config as sticktable_config

_NAME_RE = re.compile(r"[A-Za-z0-9_.:-]+")
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)
_STATUS_LINE_RE = re.compile(rb"HTTP/1\.[01] [2-5][0-9][0-9](?: [^\r\n]*)?\r?\n")
_ERRORFILE_READ_MAX = 2**28  # beyond the largest tune.bufsize: too big anyway
_MAX_INT = 2**31 - 1

# Fields a proxy inherits from its defaults section, by capability (as HAProxy
# presets a new proxy: the frontend side only takes client-side settings).
_FRONTEND_TIMEOUTS = ("client", "client_fin", "http_request", "http_keep_alive")
_BACKEND_TIMEOUTS = (
    "connect",
    "server",
    "queue",
    "check",
    "tunnel",
    "server_fin",
    "http_request",
    "http_keep_alive",
)


@dataclass
class ProxyDraft:
    """A proxy (or defaults section) being parsed, with what validation needs later."""

    proxy: Proxy
    section: str  # "defaults", "frontend", "listen", "backend"
    default_backend_source: Source | None = None
    uses_stats: bool = False  # a listen serving the stats page needs no server
    server_names: set[str] = field(default_factory=set)
    default_server: Server | None = None  # the settings of the last default-server line
    base: ProxyDraft | None = None  # the defaults section it started from ("default option")
    # "log" lines in order; a Source stands for "log global" at that line, expanded
    # into the global targets by HaproxyParser.finish().
    log_entries: list[LogTarget | Source] = field(default_factory=list)


Handler = Callable[["HaproxyParser", ProxyDraft, str, list[str], Source], None]
GlobalHandler = Callable[["HaproxyParser", list[str], Source], None]


class HaproxyParser:
    def __init__(self, reporter: Reporter, environ: Mapping[str, str]) -> None:
        self.report = reporter
        self.environ = environ
        self.global_ = Global()
        self.drafts: list[ProxyDraft] = []  # proxies, file order
        self._defaults: dict[str, ProxyDraft] = {}  # named defaults sections
        self._last_defaults: ProxyDraft | None = None
        self._section: str | None = None  # None = before any section
        self._current: ProxyDraft | None = None
        self.errorfile_sizes: list[tuple[Source, str, int]] = []  # (line, file, size)
        self.userlists: list[Userlist] = []
        self._userlist: Userlist | None = None  # the userlist section being read

    # ------------------------------------------------------------------ driving

    def feed(self, path: str, text: str) -> None:
        """Parse one file. Sections never span files."""
        self._section, self._current = None, None
        for lineno, line in iter_lines(text):
            src = Source(path, lineno)
            lexed = lex_line(line, self.environ)
            for warning in lexed.warnings:
                self.report.warning(src, warning)
            if lexed.error:
                self.report.alert(src, lexed.error)
                continue
            if lexed.words:
                self._line(lexed.words, src)
        self._close_section()

    def _line(self, words: list[str], src: Source) -> None:
        word = words[0]
        if word in kw.SECTIONS:
            self._open_section(words, src)
        elif word.startswith("."):
            self.report.not_yet(src, word, "conditional blocks and directives")
        elif self._section is None:
            self.report.alert(src, f"unknown keyword '{word}' out of section")
        elif self._section == "global":
            self._global_line(words, src)
        elif self._section == "userlist":
            if self._userlist is not None:
                _userlist_line(self, self._userlist, words, src)
        elif self._current is not None:
            self._proxy_line(self._current, words, src)
        # else: inside a section lb skips (reported once at its first line)

    # ------------------------------------------------------------------ sections

    def _open_section(self, words: list[str], src: Source) -> None:
        self._close_section()
        name = words[0]
        entry = kw.SECTIONS[name]
        self._section = name
        if entry.status is Status.NOT_YET:
            self.report.not_yet(src, name, "section")
            return
        if name == "global":
            if len(words) > 1:
                self.report.alert(src, f"unexpected argument '{words[1]}' after 'global'")
            return
        if name == "userlist":
            self._userlist = _new_userlist(self, words[1:], src)
            return
        self._current = self._new_draft(name, words[1:], src)

    def _close_section(self) -> None:
        cur = self._current
        if cur is not None and cur.section == "defaults":
            self._last_defaults = cur
        self._current = None
        if self._userlist is not None:
            _check_userlist(self, self._userlist)
            self._userlist = None

    def _new_draft(self, section: str, args: list[str], src: Source) -> ProxyDraft | None:
        name = ""
        from_name: str | None = None
        rest = list(args)
        if rest and rest[0] != "from":
            name = rest.pop(0)
        if rest[:1] == ["from"]:
            if len(rest) < 2:
                self.report.alert(
                    src, f"'from' expects the name of a defaults section in '{section}'"
                )
                rest = []
            else:
                from_name, rest = rest[1], rest[2:]
        if rest:
            self.report.alert(
                src,
                f"unexpected argument '{rest[0]}' in '{section}' line"
                + ("" if section == "defaults" else "; addresses go on a 'bind' line"),
            )
        if not name and section != "defaults":
            self.report.alert(src, f"'{section}' expects a name")
            return None
        if name and not _NAME_RE.fullmatch(name):
            bad = next(c for c in name if not _NAME_RE.fullmatch(c))
            self.report.alert(src, f"character '{bad}' is not permitted in {section} name '{name}'")

        # A proxy starts from the last defaults section; a defaults section starts
        # afresh (HAProxy resets every setting there) unless it says "from".
        base = None if section == "defaults" else self._last_defaults
        if from_name is not None:
            base = self._defaults.get(from_name)
            if base is None:
                self.report.alert(src, f"unable to find defaults section '{from_name}'")

        kind = "backend" if section == "defaults" else section
        draft = ProxyDraft(Proxy(name=name, kind=kind, source=src), section, base=base)  # type: ignore[arg-type]
        if base is not None:
            _inherit(draft, base)
        if section == "defaults":
            if name:
                self._defaults[name] = draft
        else:
            self.drafts.append(draft)
        return draft

    # ------------------------------------------------------------------ global

    def _global_line(self, words: list[str], src: Source) -> None:
        name, args = words[0], words[1:]
        if name == "stats" and args:
            name, args = f"stats {args[0]}", args[1:]
        entry = kw.GLOBAL_KEYWORDS.get(name)
        if entry is None:
            entry = next((e for p, e in kw.GLOBAL_PREFIXES.items() if name.startswith(p)), None)
            if entry is not None:
                self.report.not_yet(src, name)
                return
            self.report.alert(src, f"unknown keyword '{name}' in 'global' section")
            return
        if self.report_status(entry, name, src):
            return
        _GLOBAL_HANDLERS[name](self, args, src)

    def report_status(self, entry: Keyword, name: str, src: Source) -> bool:
        """Report what the keyword's status calls for; True when there is nothing to parse."""
        if entry.status is Status.REJECTED:
            self.report.alert(src, f"'{name}' is not accepted: {entry.note}")
            return True
        if entry.status is Status.IGNORED:
            self.report.warning(src, f"'{name}' is accepted but ignored: {entry.note}")
            return True
        if entry.status is Status.NOT_YET:
            self.report.not_yet(src, name)
            return True
        return False

    # ------------------------------------------------------------------ proxies

    def _proxy_line(self, draft: ProxyDraft, words: list[str], src: Source) -> None:
        section = draft.section
        prefix = ""
        if words[0] in ("no", "default") and words[1:2] == ["option"]:
            prefix, words = words[0], words[1:]
        elif words[0] == "no" and words[1:2] == ["log"]:
            prefix, words = "no", words[1:]
        first = words[0]
        entry: Keyword | None
        if first in kw.PROXY_FAMILIES:
            if len(words) < 2:
                self.report.alert(src, f"'{first}' expects an argument")
                return
            name = f"{first} {words[1]}"
            args = words[2:]
            table = {"option": kw.OPTIONS, "timeout": kw.TIMEOUTS, "stats": kw.STATS_KEYWORDS}
            entry = table[first].get(name)
            if entry is None:
                self.report.alert(src, f"unknown {first} '{words[1]}' in '{section}' section")
                return
        else:
            name, args = first, words[1:]
            entry = kw.PROXY_KEYWORDS.get(name)
            if entry is None:
                self.report.alert(src, f"unknown keyword '{name}' in '{section}' section")
                return
        shown = f"{prefix} {name}" if prefix else name
        if section not in entry.sections:
            self.report.alert(src, f"'{shown}' is not allowed in a '{section}' section")
            return
        if first == "stats":
            draft.uses_stats = True
        if first == "timeout":
            # Stored even when lb does not act on it yet: the value is checked now.
            _timeout(self, draft, name, args, src)
            if entry.status is Status.NOT_YET:
                self.report.not_yet(src, name, entry.note)
            return
        if self.report_status(entry, shown, src):
            return
        _PROXY_HANDLERS[name](self, draft, prefix, args, src)

    # ------------------------------------------------------------------ results

    def finish(self) -> None:
        """After the last file: expand ``log global`` and size-check the errorfiles."""
        for draft in self.drafts:
            targets: list[LogTarget] = []
            expanded = False  # as in HAProxy, a global target is never added twice
            for entry in draft.log_entries:
                if not isinstance(entry, Source):
                    targets.append(entry)
                elif not expanded:
                    targets.extend(structs.replace(t) for t in self.global_.logs)
                    expanded = True
            draft.proxy.logs.targets = targets
            if draft.section != "defaults":
                servers.settle_server_verify(
                    draft.proxy, self.global_.ssl_server_verify, self.report
                )
        bufsize = self.global_.tune_bufsize
        for src, path, size in self.errorfile_sizes:
            if size > bufsize:
                self.report.alert(
                    src,
                    f"errorfile: '{path}' is {size} bytes, larger than tune.bufsize ({bufsize})",
                )

    def proxies(self) -> list[Proxy]:
        return [d.proxy for d in self.drafts]


def _inherit(draft: ProxyDraft, base: ProxyDraft) -> None:
    """Preset ``draft`` from a defaults section, side by side with HAProxy's rules."""
    p, d = draft.proxy, base.proxy
    p.mode = d.mode
    p.disabled = d.disabled
    fe = draft.section in ("frontend", "listen", "defaults")
    be = draft.section in ("backend", "listen", "defaults")
    timeouts = Timeouts()
    if fe:
        p.maxconn = d.maxconn
        p.default_backend = d.default_backend
        p.tcp_inspect_delay = d.tcp_inspect_delay
        draft.default_backend_source = base.default_backend_source
        for f in _FRONTEND_TIMEOUTS:
            setattr(timeouts, f, getattr(d.timeouts, f))
    if be:
        p.balance, p.balance_args = d.balance, list(d.balance_args)
        p.retries, p.redispatch = d.retries, d.redispatch
        p.hash_type, p.allbackups = list(d.hash_type), d.allbackups
        p.http_check = structs.replace(
            d.http_check, headers=list(d.http_check.headers), expects=list(d.http_check.expects)
        )
        p.cookie = structs.replace(d.cookie) if d.cookie is not None else None
        if base.default_server is not None:
            draft.default_server = structs.replace(base.default_server)
        for f in _BACKEND_TIMEOUTS:
            setattr(timeouts, f, getattr(d.timeouts, f))
    p.timeouts = timeouts
    # Both sides: log targets, the connection mode, forwardfor and errorfiles.
    draft.log_entries = list(base.log_entries)
    ff = d.http.forwardfor
    http = HttpOptions(
        connection_mode=d.http.connection_mode,
        forwardfor=structs.replace(ff) if ff is not None else None,
        errorfiles=dict(d.http.errorfiles),
        compression=haproxy_compression.inherit(d.http.compression),
    )
    logs = LogOptions()
    if fe:  # how traffic logs look: the frontend writes them
        dl = d.logs
        logs = LogOptions(
            httplog=dl.httplog,
            tcplog=dl.tcplog,
            dontlognull=dl.dontlognull,
            logasap=dl.logasap,
            log_format=dl.log_format,
        )
    if be:
        http.reuse, http.abortonclose = d.http.reuse, d.http.abortonclose
    p.http, p.logs = http, logs
    p.stats = haproxy_stats.inherit(d.stats)


# ---------------------------------------------------------------------- helpers


def _arity(
    parser: HaproxyParser, name: str, args: list[str], src: Source, lo: int, hi: int
) -> bool:
    """Check the number of arguments; report and return False when it is wrong."""
    if len(args) < lo:
        what = "an argument" if lo == 1 else f"{lo} arguments"
        parser.report.alert(src, f"'{name}' expects {what}")
        return False
    if len(args) > hi:
        parser.report.alert(src, f"'{name}' takes no more than {hi} argument(s), got '{args[hi]}'")
        return False
    return True


def _number(
    parser: HaproxyParser, word: str, src: Source, what: str, lo: int = 0, hi: int = _MAX_INT
) -> int | None:
    try:
        return parse_int(word, lo, hi, what)
    except ValueError as e:
        parser.report.alert(src, str(e))
        return None


def _time(parser: HaproxyParser, word: str, src: Source, what: str) -> int | None:
    try:
        return parse_time(word)
    except ValueError as e:
        parser.report.alert(src, f"'{what}': {e}")
        return None


# ---------------------------------------------------------------------- global handlers


def _g_flag(attr: str) -> GlobalHandler:
    def handle(parser: HaproxyParser, args: list[str], src: Source) -> None:
        if _arity(parser, attr, args, src, 0, 0):
            setattr(parser.global_, attr, True)

    return handle


def _g_string(attr: str, keyword: str) -> GlobalHandler:
    def handle(parser: HaproxyParser, args: list[str], src: Source) -> None:
        if _arity(parser, keyword, args, src, 1, 1):
            setattr(parser.global_, attr, args[0])

    return handle


def _g_account(attr: str, keyword: str) -> GlobalHandler:
    """``user`` / ``group``: the workers switch to it, so it must exist (as HAProxy checks)."""
    lookup = pwd.getpwnam if keyword == "user" else grp.getgrnam

    def handle(parser: HaproxyParser, args: list[str], src: Source) -> None:
        if not _arity(parser, keyword, args, src, 1, 1):
            return
        try:
            lookup(args[0])
        except KeyError:
            parser.report.alert(src, f"'{keyword}': no {keyword} named '{args[0]}' on this system")
            return
        setattr(parser.global_, attr, args[0])

    return handle


def _g_text(attr: str, keyword: str) -> GlobalHandler:
    def handle(parser: HaproxyParser, args: list[str], src: Source) -> None:
        if _arity(parser, keyword, args, src, 1, 1_000):
            setattr(parser.global_, attr, " ".join(args))

    return handle


def _g_int(attr: str, keyword: str, lo: int, hi: int = _MAX_INT) -> GlobalHandler:
    def handle(parser: HaproxyParser, args: list[str], src: Source) -> None:
        if _arity(parser, keyword, args, src, 1, 1):
            value = _number(parser, args[0], src, f"'{keyword}' value", lo, hi)
            if value is not None:
                setattr(parser.global_, attr, value)

    return handle


def _g_hard_stop_after(parser: HaproxyParser, args: list[str], src: Source) -> None:
    if _arity(parser, "hard-stop-after", args, src, 1, 1):
        value = _time(parser, args[0], src, "hard-stop-after")
        if value is not None:
            parser.global_.hard_stop_after = value


def _g_ssl_server_verify(parser: HaproxyParser, args: list[str], src: Source) -> None:
    if _arity(parser, "ssl-server-verify", args, src, 1, 1):
        if args[0] not in ("none", "required"):
            parser.report.alert(
                src, f"'ssl-server-verify' expects 'none' or 'required', got '{args[0]}'"
            )
            return
        parser.global_.ssl_server_verify = args[0]


def _g_stats_socket(parser: HaproxyParser, args: list[str], src: Source) -> None:
    if not _arity(parser, "stats socket", args, src, 1, 1_000):
        return
    sock = StatsSocket(path=args[0], source=src)
    ok = True
    i = 1
    while i < len(args):
        opt = args[i]
        value = args[i + 1] if i + 1 < len(args) else None
        if opt in ("mode", "level", "uid", "gid", "user", "group"):
            if value is None:
                parser.report.alert(src, f"'stats socket' option '{opt}' expects an argument")
                return
            ok = _stats_socket_option(parser, sock, opt, value, src) and ok
            i += 2
            continue
        known = kw.BIND_OPTIONS.get(opt)
        if known is None:
            parser.report.alert(src, f"unknown 'stats socket' option '{opt}'")
            return
        parser.report.not_yet(src, opt, "stats socket option")
        i += 1 + known.nargs
    if ok:
        parser.global_.stats_sockets.append(sock)


def _stats_socket_option(
    parser: HaproxyParser, sock: StatsSocket, opt: str, value: str, src: Source
) -> bool:
    report = parser.report
    if opt == "mode":
        try:
            sock.mode = int(value, 8)
        except ValueError:
            sock.mode = None
        if sock.mode is None or not 0 <= sock.mode <= 0o7777:
            report.alert(src, f"'stats socket' mode '{value}' is not an octal file mode")
            return False
    elif opt == "level":
        if value not in ("user", "operator", "admin"):
            report.alert(src, f"'stats socket' level '{value}' must be user, operator or admin")
            return False
        sock.level = value  # type: ignore[assignment]
    elif opt in ("uid", "gid"):
        number = _number(parser, value, src, f"'stats socket' {opt}")
        if number is None:
            return False
        setattr(sock, opt, number)
    elif opt == "user":
        try:
            sock.uid = pwd.getpwnam(value).pw_uid
        except KeyError:
            report.alert(src, f"'stats socket': unknown user '{value}'")
            return False
    else:
        try:
            sock.gid = grp.getgrnam(value).gr_gid
        except KeyError:
            report.alert(src, f"'stats socket': unknown group '{value}'")
            return False
    return True


def _g_size(attr: str, keyword: str, lo: int, hi: int) -> GlobalHandler:
    def handle(parser: HaproxyParser, args: list[str], src: Source) -> None:
        if not _arity(parser, keyword, args, src, 1, 1):
            return
        try:
            value = parse_size(args[0])
        except ValueError as e:
            parser.report.alert(src, f"'{keyword}': {e}")
            return
        if not lo <= value <= hi:
            parser.report.alert(src, f"'{keyword}' value '{args[0]}' is out of range {lo}..{hi}")
            return
        setattr(parser.global_, attr, value)

    return handle


def _g_log(parser: HaproxyParser, args: list[str], src: Source) -> None:
    if args[:1] == ["global"]:
        parser.report.alert(
            src, "'log global' is for proxies; the 'global' section declares the targets"
        )
        return
    target = _log_target(parser, args, src)
    if target is not None:
        parser.global_.logs.append(target)


def _log_target(parser: HaproxyParser, args: list[str], src: Source) -> LogTarget | None:
    """``ADDRESS [len N] [format F] FACILITY [LEVEL [MINLEVEL]]``, in HAProxy's order."""
    report = parser.report
    if not args:
        report.alert(src, "'log' expects an address and a facility")
        return None
    try:
        address = parse_log_address(args[0])
    except AddressNotYet as e:
        report.not_yet(src, e.what, f"{e.hint} in log address '{args[0]}'")
        return None
    except AddressError as e:
        report.alert(src, f"'log': {e}")
        return None
    rest = args[1:]
    length = 1024
    if rest[:1] == ["len"]:
        if len(rest) < 2:
            report.alert(src, "'log len' expects a length")
            return None
        number = _number(parser, rest[1], src, "log length", 80, 65535)
        if number is None:
            return None
        length, rest = number, rest[2:]
    fmt = "local"  # HAProxy's default: rfc3164's shape without a host name
    if rest[:1] == ["format"]:
        if len(rest) < 2:
            report.alert(src, "'log format' expects a format name")
            return None
        fmt, rest = rest[1], rest[2:]
        if fmt in kw.LOG_FORMATS_NOT_YET:
            report.not_yet(src, f"format {fmt}", "log format")
            return None
        if fmt not in kw.LOG_FORMATS:
            names = ", ".join(kw.LOG_FORMATS + kw.LOG_FORMATS_NOT_YET)
            report.alert(src, f"'log': unknown log format '{fmt}' (expected one of {names})")
            return None
    if rest[:1] == ["sample"]:
        report.not_yet(src, "sample", "log option")
        return None
    if not rest:
        report.alert(src, f"'log {args[0]}' expects a facility")
        return None
    facility, levels = rest[0], rest[1:]
    if facility not in kw.LOG_FACILITIES:
        report.alert(src, f"'log': unknown log facility '{facility}'")
        return None
    if len(levels) > 2:
        report.alert(src, f"'log': unexpected argument '{levels[2]}' after the levels")
        return None
    for level in levels:
        if level not in kw.LOG_LEVELS:
            names = ", ".join(kw.LOG_LEVELS)
            report.alert(src, f"'log': unknown log level '{level}' (expected one of {names})")
            return None
    return LogTarget(
        address=address,
        facility=facility,
        source=src,
        level=levels[0] if levels else None,
        min_level=levels[1] if len(levels) > 1 else None,
        format=fmt,  # type: ignore[arg-type]
        length=length,
    )


_GLOBAL_HANDLERS: dict[str, GlobalHandler] = {
    "daemon": _g_flag("daemon"),
    "pidfile": _g_string("pidfile", "pidfile"),
    "user": _g_account("user", "user"),
    "group": _g_account("group", "group"),
    "uid": _g_int("uid", "uid", 0),
    "gid": _g_int("gid", "gid", 0),
    "chroot": _g_string("chroot", "chroot"),
    "maxconn": _g_int("maxconn", "maxconn", 1),
    "ulimit-n": _g_int("ulimit_n", "ulimit-n", 1),
    "nbthread": _g_int("nbthread", "nbthread", 1, 4096),
    "hard-stop-after": _g_hard_stop_after,
    "node": _g_string("node", "node"),
    "description": _g_text("description", "description"),
    "stats socket": _g_stats_socket,
    "log": _g_log,
    "tune.bufsize": _g_size("tune_bufsize", "tune.bufsize", 1024, 2**28 - 1),
    "tune.http.maxhdr": _g_int("tune_http_maxhdr", "tune.http.maxhdr", 1, 32767),
    "ssl-server-verify": _g_ssl_server_verify,
}


# ---------------------------------------------------------------------- proxy handlers


def _mode(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if not _arity(parser, "mode", args, src, 1, 1):
        return
    entry = kw.MODES.get(f"mode {args[0]}")
    if entry is None:
        parser.report.alert(src, f"unknown mode '{args[0]}' (expected tcp or http)")
        return
    if not parser.report_status(entry, entry.name, src):
        draft.proxy.mode = args[0]  # type: ignore[assignment]


def _bind(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if not _arity(parser, "bind", args, src, 1, 1_000):
        return
    opts = _bind_options(parser, args[1:], src)
    for text in args[0].split(","):
        if not text:
            parser.report.alert(src, f"empty address in 'bind {args[0]}'")
            continue
        addr = _address_with_port(parser, text, src, "bind", "'bind'")
        if addr is None:
            continue
        draft.proxy.binds.append(Bind(host=addr.host, port=addr.port, source=src, **opts))


def _address_with_port(
    parser: HaproxyParser, text: str, src: Source, kind: str, who: str
) -> Address | None:
    """``text`` as HOST:PORT for a bind (``kind`` "bind") or a server line; None once the
    problem has been reported. ``who`` names the line in messages ("'bind'", "server 's1'")."""
    try:
        addr = parse_address(text)
    except AddressNotYet as e:
        parser.report.not_yet(src, e.what, f"{e.hint} in {kind} address '{text}'")
        return None
    except AddressError as e:
        parser.report.alert(src, f"{who}: {e}")
        return None
    if addr.port is None:
        owner = "" if kind == "bind" else f" ({who})"
        parser.report.alert(src, f"missing port in {kind} address '{text}'{owner}")
        return None
    return addr


def _bind_options(parser: HaproxyParser, words: list[str], src: Source) -> dict[str, object]:
    opts: dict[str, object] = {}
    tls: dict[str, list[str]] = {}  # TLS options as written, checked together at the end
    i = 0
    while i < len(words):
        name = words[i]
        entry = kw.BIND_OPTIONS.get(name)
        if entry is None:
            parser.report.alert(src, f"unknown bind option '{name}'")
            break  # its argument count is unknown: the rest cannot be read reliably
        if i + entry.nargs >= len(words) and entry.nargs:
            parser.report.alert(src, f"bind option '{name}' expects an argument")
            break
        value = words[i + 1] if entry.nargs else ""
        i += 1 + entry.nargs
        if entry.status is not Status.SUPPORTED:
            parser.report.not_yet(src, name, "bind option")
        elif name in ("v4v6", "v6only"):
            opts[name] = True
        elif name == "accept-proxy":
            opts["accept_proxy"] = True
        elif name == "name":
            opts["name"] = value
        elif name == "backlog":
            backlog = _number(parser, value, src, "bind backlog", 1)
            if backlog is not None:
                opts["backlog"] = backlog
        else:  # TLS: ssl, crt, alpn, ssl-min-ver, ciphers
            tls[name] = [*tls.get(name, []), value]
    if tls:
        _bind_tls(parser, tls, opts, src)
    return opts


def _bind_tls(
    parser: HaproxyParser, tls: dict[str, list[str]], opts: dict[str, object], src: Source
) -> None:
    """The TLS options of a bind line, checked now: certificates are read and loaded."""
    from lb.worker import tls as tlsmod  # (ssl is only imported when a bind uses it)

    if "ssl" not in tls:
        parser.report.alert(src, f"bind option '{next(iter(tls))}' needs 'ssl' on the line")
        return
    if opts.get("accept_proxy"):
        parser.report.not_yet(src, "ssl", "TLS with accept-proxy")
        return
    if "crt" not in tls:
        parser.report.alert(src, "bind option 'ssl' needs a certificate ('crt FILE|DIR')")
        return
    settings = tlsmod.TlsSettings(crt_files=[])
    for version in tls.get("ssl-min-ver", [])[-1:]:
        if version not in tlsmod.TLS_VERSIONS:
            parser.report.alert(
                src, f"bind option 'ssl-min-ver': '{version}' (lb offers TLSv1.2 or TLSv1.3)"
            )
            return
        settings.min_version = version
    for text in tls.get("alpn", [])[-1:]:
        protos = [p for p in text.split(",") if p]
        for proto in protos:
            if proto not in tlsmod.ALPN_SUPPORTED:
                parser.report.not_yet(src, f"alpn {proto}", "lb speaks HTTP/1.x to clients")
                return
        settings.alpn = protos
    for ciphers in tls.get("ciphers", [])[-1:]:
        settings.ciphers = ciphers
    ok = True
    for path in tls["crt"]:
        try:
            settings.crt_files += tlsmod.crt_files(os.path.abspath(path))
        except tlsmod.TlsConfigError as e:
            parser.report.alert(src, f"bind option 'crt': {e}")
            ok = False
    try:
        ctx = tlsmod.new_context(settings)
        for path in settings.crt_files if ok else []:
            tlsmod.load_certificate(ctx, path)
    except tlsmod.TlsConfigError as e:
        parser.report.alert(src, f"bind option 'ssl': {e}")
        ok = False
    if ok:
        opts.update(
            ssl=True,
            crt_files=settings.crt_files,
            alpn=settings.alpn,
            ssl_min_ver=settings.min_version,
            ciphers=settings.ciphers,
        )


def _server(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if len(args) < 2:
        named = f" '{args[0]}'" if args else ""
        parser.report.alert(src, f"server{named} has no address ('server NAME ADDRESS:PORT')")
        return
    name, address = args[0], args[1]
    if not _NAME_RE.fullmatch(name):
        parser.report.alert(src, f"invalid server name '{name}'")
    if name in draft.server_names:
        parser.report.alert(
            src, f"duplicate server name '{name}' in {draft.section} '{draft.proxy.name}'"
        )
    draft.server_names.add(name)
    addr = _address_with_port(parser, address, src, "server", f"server '{name}'")
    if addr is None:
        return
    if not addr.host:
        parser.report.alert(src, f"server '{name}' needs an address, got '{address}'")
        return
    server = servers.new_server(draft.default_server, name, addr.host, addr.port, src)  # type: ignore[arg-type]
    servers.server_options(parser.report, server, args[2:], src)
    draft.proxy.servers.append(server)


def _use_backend(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if not args:
        parser.report.alert(src, "'use_backend' expects a backend name")
        return
    condition = args[1:]
    if condition and condition[0] not in ("if", "unless"):
        parser.report.alert(src, f"'use_backend': expected 'if' or 'unless', got '{condition[0]}'")
        return
    if condition[:1] and len(condition) == 1:
        parser.report.alert(src, f"'use_backend': missing condition after '{condition[0]}'")
        return
    draft.proxy.use_backends.append(UseBackend(backend=args[0], source=src, condition=condition))


# ---------------------------------------------------------------------- ACLs and rules
# Kept as words with their line: lb.acl compiles them (the loader runs it, so that a
# wrong rule is an error with its file:line like any other).


def _rules_here(parser: HaproxyParser, draft: ProxyDraft, keyword: str, src: Source) -> bool:
    """HAProxy 2.6 takes ACLs and rules in named defaults sections only (for the
    proxies that name them with "from"); lb does not do that yet."""
    if draft.section != "defaults":
        return True
    if draft.proxy.name:
        parser.report.not_yet(src, keyword, "ACLs and rules in a defaults section")
    else:
        parser.report.alert(src, f"'{keyword}' is not allowed in an anonymous 'defaults' section")
    return False


def _acl(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if not _rules_here(parser, draft, "acl", src):
        return
    if len(args) < 2:
        parser.report.alert(src, "'acl' expects a name and a criterion")
        return
    if not _NAME_RE.fullmatch(args[0]):
        bad = next(c for c in args[0] if not _NAME_RE.fullmatch(c))
        parser.report.alert(src, f"character '{bad}' is not permitted in ACL name '{args[0]}'")
        return
    draft.proxy.acls.append(AclLine(name=args[0], words=args[1:], source=src))


def _http_rule(keyword: str) -> Handler:
    table = kw.HTTP_REQUEST_ACTIONS if keyword == "http-request" else kw.HTTP_RESPONSE_ACTIONS

    def handle(
        parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
    ) -> None:
        if not _rules_here(parser, draft, keyword, src):
            return
        if not args:
            parser.report.alert(src, f"'{keyword}' expects an action")
            return
        action = args[0].split("(", 1)[0]
        status = table.get(action)
        if status is None:
            parser.report.alert(src, f"unknown '{keyword}' action '{args[0]}'")
            return
        if status is Status.NOT_YET:
            parser.report.not_yet(src, f"{keyword} {action}")
            return
        rules = draft.proxy.http_request if keyword == "http-request" else draft.proxy.http_response
        rules.append(RuleLine(words=args, source=src))

    return handle


def _redirect(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if _arity(parser, "redirect", args, src, 2, 1_000):
        draft.proxy.redirects.append(RuleLine(words=args, source=src))


def _use_server(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if len(args) < 3 or args[1] not in ("if", "unless"):
        parser.report.alert(
            src, "'use-server' expects a server name, then 'if' or 'unless' and a condition"
        )
        return
    draft.proxy.use_servers.append(UseServer(server=args[0], source=src, condition=args[1:]))


# ---------------------------------------------------------------------- userlist sections


def _new_userlist(parser: HaproxyParser, args: list[str], src: Source) -> Userlist | None:
    if len(args) != 1:
        parser.report.alert(src, "'userlist' expects a name")
        return None
    for other in parser.userlists:
        if other.name == args[0]:
            parser.report.alert(
                src, f"userlist '{args[0]}' has the same name as the one at {other.source}"
            )
            return None
    userlist = Userlist(name=args[0], source=src)
    parser.userlists.append(userlist)
    return userlist


def _userlist_line(
    parser: HaproxyParser, userlist: Userlist, words: list[str], src: Source
) -> None:
    keyword, args = words[0], words[1:]
    if keyword not in kw.USERLIST_KEYWORDS:
        parser.report.alert(src, f"unknown keyword '{keyword}' in 'userlist' section")
        return
    if not args:
        parser.report.alert(src, f"'{keyword}' expects a name")
        return
    name, rest = args[0], args[1:]
    known = userlist.users if keyword == "user" else userlist.groups
    if any(e.name == name for e in known):
        parser.report.warning(
            src, f"ignoring duplicated {keyword} '{name}' in userlist '{userlist.name}'"
        )
        return
    if keyword == "group":
        group = UserlistGroup(name=name, source=src)
        if rest:
            if rest[0] != "users" or len(rest) != 2:
                parser.report.alert(src, f"'group {name}' expects only 'users' U1,U2…")
                return
            group.users = [u for u in rest[1].split(",") if u]
        userlist.groups.append(group)
        return
    user = UserlistUser(name=name, source=src)
    i = 0
    while i < len(rest):
        opt = rest[i]
        if opt not in ("password", "insecure-password", "groups") or i + 1 >= len(rest):
            parser.report.alert(
                src,
                f"'user {name}' expects 'password', 'insecure-password' or 'groups' "
                f"and a value, got '{opt}'",
            )
            return
        value = rest[i + 1]
        if opt == "password":
            user.password, user.insecure_password = value, None
        elif opt == "insecure-password":
            user.insecure_password, user.password = value, None
        else:
            user.groups = [g for g in value.split(",") if g]
        i += 2
    userlist.users.append(user)


def _check_userlist(parser: HaproxyParser, userlist: Userlist) -> None:
    """Groups named by users and users named by groups must exist (checked once the
    section is read: either may come first)."""
    groups = {g.name for g in userlist.groups}
    users = {u.name for u in userlist.users}
    for u in userlist.users:
        for g in u.groups:
            if g not in groups:
                parser.report.alert(
                    u.source, f"userlist '{userlist.name}': no group '{g}' for user '{u.name}'"
                )
    for grp_ in userlist.groups:
        for name in grp_.users:
            if name not in users:
                parser.report.alert(
                    grp_.source,
                    f"userlist '{userlist.name}': no user '{name}' in group '{grp_.name}'",
                )


def _default_backend(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if _arity(parser, "default_backend", args, src, 1, 1):
        draft.proxy.default_backend = args[0]
        draft.default_backend_source = src


def _int_field(attr: str, keyword: str, lo: int = 0) -> Handler:
    def handle(
        parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
    ) -> None:
        if _arity(parser, keyword, args, src, 1, 1):
            value = _number(parser, args[0], src, f"'{keyword}' value", lo)
            if value is not None:
                setattr(draft.proxy, attr, value)

    return handle


def _disabled(flag: bool) -> Handler:
    def handle(
        parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
    ) -> None:
        if _arity(parser, "disabled" if flag else "enabled", args, src, 0, 0):
            draft.proxy.disabled = flag

    return handle


def _description(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if _arity(parser, "description", args, src, 1, 1_000):
        draft.proxy.description = " ".join(args)


def _flag_option(option: str, part: str, attr: str) -> Handler:
    """``option X`` sets, ``no option X`` clears, ``default option X`` takes back the
    value of the defaults section the proxy started from (off when there is none)."""

    def holder(proxy: Proxy) -> object:
        return getattr(proxy, part) if part else proxy

    def handle(
        parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
    ) -> None:
        if not _arity(parser, f"option {option}", args, src, 0, 0):
            return
        value = prefix == ""
        if prefix == "default":
            base = draft.base
            value = bool(getattr(holder(base.proxy), attr)) if base is not None else False
        setattr(holder(draft.proxy), attr, value)

    return handle


def _no_negation(parser: HaproxyParser, prefix: str, option: str, src: Source) -> bool:
    """HAProxy has no 'no'/'default' form of some options; True when one was used."""
    if prefix:
        parser.report.alert(src, f"'{prefix} option {option}': negation/default is not supported")
    return bool(prefix)


_MODE_OPTIONS: dict[HttpConnectionMode, str] = {
    "keep-alive": "http-keep-alive",
    "server-close": "http-server-close",
    "close": "httpclose",
}


def _connection_mode(mode: HttpConnectionMode) -> Handler:
    """The three connection modes override each other; ``no option X`` goes back to
    keep-alive only when X is the current mode (so that it cancels a defaults line)."""
    option = _MODE_OPTIONS[mode]

    def handle(
        parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
    ) -> None:
        if prefix == "default":
            _no_negation(parser, prefix, option, src)
            return
        if not _arity(parser, f"option {option}", args, src, 0, 0):
            return
        http = draft.proxy.http
        if prefix == "":
            http.connection_mode = mode
        elif http.connection_mode == mode:
            http.connection_mode = "keep-alive"

    return handle


def _set_log_style(logs: LogOptions, *, httplog: bool, tcplog: bool, fmt: str | None) -> None:
    """httplog, tcplog and log-format replace one another: at most one is set."""
    logs.httplog, logs.tcplog, logs.log_format = httplog, tcplog, fmt


def _httplog(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if _no_negation(parser, prefix, "httplog", src):
        return
    if not _arity(parser, "option httplog", args, src, 0, 1):
        return
    if args:
        if args[0] != "clf":
            parser.report.alert(src, f"'option httplog' only supports 'clf', got '{args[0]}'")
        else:
            parser.report.not_yet(src, "option httplog clf")
        return
    _set_log_style(draft.proxy.logs, httplog=True, tcplog=False, fmt=None)


def _tcplog(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if _no_negation(parser, prefix, "tcplog", src):
        return
    if _arity(parser, "option tcplog", args, src, 0, 0):
        _set_log_style(draft.proxy.logs, httplog=False, tcplog=True, fmt=None)


def _log_format(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if not args or args[0] == "":
        parser.report.alert(src, "'log-format' expects an argument")
    elif len(args) > 1:
        parser.report.alert(
            src,
            f"'log-format' expects only one argument, got '{args[1]}' too; "
            "escape or quote the spaces",
        )
    else:
        _set_log_style(draft.proxy.logs, httplog=False, tcplog=False, fmt=args[0])


def _log(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if prefix == "no":
        if _arity(parser, "no log", args, src, 0, 0):
            draft.log_entries.clear()
        return
    if args[:1] == ["global"]:
        if _arity(parser, "log global", args[1:], src, 0, 0):
            draft.log_entries.append(src)
        return
    target = _log_target(parser, args, src)
    if target is not None:
        draft.log_entries.append(target)


def _forwardfor(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if _no_negation(parser, prefix, "forwardfor", src):
        return
    ff = ForwardFor()  # each line starts afresh, as in HAProxy
    i = 0
    while i < len(args):
        word = args[i]
        if word == "if-none":
            ff.if_none = True
            i += 1
            continue
        if word not in ("except", "header"):
            parser.report.alert(
                src,
                f"'option forwardfor' only supports 'except', 'header' and 'if-none', got '{word}'",
            )
            return
        value = args[i + 1] if i + 1 < len(args) else ""
        i += 2
        if word == "except":
            try:
                parse_network(value)
            except ValueError as e:
                what = str(e) if value else "expects ADDRESS[/MASK]"
                parser.report.alert(src, f"'option forwardfor except': {what}")
                return
            ff.except_net = value
        else:
            if not _HEADER_NAME_RE.fullmatch(value):
                what = f"'{value}' is not a header name" if value else "expects a header name"
                parser.report.alert(src, f"'option forwardfor header': {what}")
                return
            ff.header = value
    draft.proxy.http.forwardfor = ff


def _http_reuse(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if not _arity(parser, "http-reuse", args, src, 1, 1):
        return
    if args[0] not in ("never", "safe", "aggressive", "always"):
        parser.report.alert(
            src,
            f"'http-reuse' expects never, safe, aggressive or always, got '{args[0]}'",
        )
        return
    draft.proxy.http.reuse = args[0]  # type: ignore[assignment]


def _errorfile(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if not _arity(parser, "errorfile", args, src, 2, 2):
        return
    code_text, path = args
    codes = kw.ERRORFILE_CODES
    if not code_text.isdigit() or int(code_text) not in codes:
        names = ", ".join(str(c) for c in codes)
        parser.report.alert(
            src, f"errorfile: status code '{code_text}' cannot be replaced (one of {names})"
        )
        return
    try:
        with open(path, "rb") as f:
            data = f.read(_ERRORFILE_READ_MAX)
    except OSError as e:
        parser.report.alert(src, f"errorfile: cannot read '{path}': {e.strerror or e}")
        return
    problem = _errorfile_problem(data)
    if problem is not None:
        parser.report.alert(src, f"errorfile: '{path}' {problem}")
        return
    parser.errorfile_sizes.append((src, path, len(data)))
    draft.proxy.http.errorfiles[int(code_text)] = os.path.abspath(path)


def _errorfile_problem(data: bytes) -> str | None:
    """What makes ``data`` unusable as an errorfile: a whole HTTP/1 response, or nothing."""
    if not data:
        return None  # an empty file: lb closes the connection without answering
    if _STATUS_LINE_RE.match(data) is None:
        return (
            "does not start with an HTTP/1.0 or HTTP/1.1 status line "
            "(an errorfile is a whole HTTP response: status line, headers, blank line, body)"
        )
    ends = [i for i in (data.find(b"\n\r\n"), data.find(b"\n\n")) if i >= 0]
    if not ends:
        return "has no blank line after its headers"
    for n, line in enumerate(data[: min(ends)].split(b"\n")[1:], 2):
        name, colon, _ = line.partition(b":")
        if not colon or not _HEADER_NAME_RE.fullmatch(name.decode("latin-1")):
            return f"has an invalid header on its line {n}"
    return None


def _capture(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    kind = args[0] if args else ""
    if kind == "cookie":
        parser.report.not_yet(src, "capture cookie")
        return
    if kind not in ("request", "response"):
        parser.report.alert(src, "'capture' expects 'request', 'response' or 'cookie'")
        return
    rest = args[1:]
    usage = f"'capture {kind}' expects 'header' NAME 'len' LENGTH"
    if len(rest) < 4 or rest[0] != "header" or rest[2] != "len":
        parser.report.alert(src, usage)
        return
    if len(rest) > 4:
        parser.report.alert(src, f"{usage}, got '{rest[4]}' after it")
        return
    name = rest[1]
    if not _HEADER_NAME_RE.fullmatch(name):
        parser.report.alert(src, f"'capture {kind}': '{name}' is not a header name")
        return
    length = _number(parser, rest[3], src, "capture length", 1)
    if length is None:
        return
    capture = Capture(header=name, length=length, source=src)
    http = draft.proxy.http
    (http.request_captures if kind == "request" else http.response_captures).append(capture)


def _timeout(
    parser: HaproxyParser, draft: ProxyDraft, name: str, args: list[str], src: Source
) -> None:
    if not _arity(parser, name, args, src, 1, 1):
        return
    value = _time(parser, args[0], src, name)
    attr = kw.TIMEOUT_FIELDS.get(name.split(" ", 1)[1])
    if value is not None and attr is not None:
        draft.proxy.timeouts = structs.replace(draft.proxy.timeouts, **{attr: value})


_PROXY_HANDLERS: dict[str, Handler] = {
    "mode": _mode,
    "bind": _bind,
    "server": _server,
    "default-server": servers.default_server,
    "balance": servers.balance,
    "hash-type": servers.hash_type,
    "cookie": servers.cookie,
    "http-check": servers.http_check,
    "option httpchk": servers.option_httpchk,
    "option allbackups": _flag_option("allbackups", "", "allbackups"),
    "use_backend": _use_backend,
    "use-server": _use_server,
    "acl": _acl,
    "http-request": _http_rule("http-request"),
    "http-response": _http_rule("http-response"),
    "redirect": _redirect,
    "default_backend": _default_backend,
    "maxconn": _int_field("maxconn", "maxconn"),
    "retries": _int_field("retries", "retries"),
    "disabled": _disabled(True),
    "enabled": _disabled(False),
    "description": _description,
    "option redispatch": _flag_option("redispatch", "", "redispatch"),
    "option abortonclose": _flag_option("abortonclose", "http", "abortonclose"),
    "option dontlognull": _flag_option("dontlognull", "logs", "dontlognull"),
    "option logasap": _flag_option("logasap", "logs", "logasap"),
    "option http-keep-alive": _connection_mode("keep-alive"),
    "option http-server-close": _connection_mode("server-close"),
    "option httpclose": _connection_mode("close"),
    "option httplog": _httplog,
    "option tcplog": _tcplog,
    "option forwardfor": _forwardfor,
    "http-reuse": _http_reuse,
    "errorfile": _errorfile,
    "capture": _capture,
    "compression": haproxy_compression.compression,
    "log": _log,
    "log-format": _log_format,
    **haproxy_stats.HANDLERS,
    **sticktable_config.HANDLERS,
}
