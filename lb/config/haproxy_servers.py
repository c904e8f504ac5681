"""Server lines and what decides where traffic goes: ``server`` / ``default-server``
options, ``balance``, ``hash-type``, health checks (``option httpchk``,
``http-check``) and ``cookie`` persistence.

Handlers take the same arguments as the others of ``haproxy``; they only use
the parser's reporter and the draft, so this module does not import the
parser (which imports it).
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import TYPE_CHECKING

from msgspec import structs

from lb.balance import make_balancer, parse_hash_type
from lb.config import keywords as kw
from lb.config.keywords import Status
from lb.config.model import CookiePersistence, HttpCheck, HttpCheckExpect, Proxy, Server, Source
from lb.config.report import NOT_YET, Reporter
from lb.config.units import parse_int, parse_time

if TYPE_CHECKING:
    from lb.config.haproxy import HaproxyParser, ProxyDraft

_MAX_INT = 2**31 - 1
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_METHOD_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION_RE = re.compile(r"HTTP/\d\.\d")
_STATUS_LIST_RE = re.compile(r"\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*")

# Server options that take a time (ms) and must be positive, as HAProxy requires.
_POSITIVE_TIMES = ("inter", "fastinter", "downinter")


def _int(report: Reporter, word: str, src: Source, what: str, lo: int, hi: int) -> int | None:
    try:
        return parse_int(word, lo, hi, what)
    except ValueError as e:
        report.alert(src, str(e))
        return None


def _time(report: Reporter, word: str, src: Source, what: str) -> int | None:
    try:
        return parse_time(word)
    except ValueError as e:
        report.alert(src, f"'{what}': {e}")
        return None


# --------------------------------------------------------------------------- server options


def server_options(
    report: Reporter, server: Server, words: list[str], src: Source, *, default: bool = False
) -> None:
    """Apply the options after ``server NAME ADDR`` (or ``default-server``) to ``server``.

    ``default`` is True for ``default-server``, which takes every option but ``id``.
    """
    who = "default-server" if default else f"server '{server.name}'"
    i = 0
    while i < len(words):
        opt = words[i]
        entry = kw.SERVER_OPTIONS.get(opt)
        if entry is None:
            report.alert(src, f"unknown server option '{opt}' ({who})")
            return
        if entry.nargs and i + entry.nargs >= len(words):
            report.alert(src, f"server option '{opt}' expects an argument")
            return
        value = words[i + 1] if entry.nargs else ""
        i += 1 + entry.nargs
        if entry.status is not Status.SUPPORTED:
            report.not_yet(src, opt, "server option")
            continue
        if default and opt == "id":
            report.alert(src, "'id' is not allowed on a 'default-server' line")
            continue
        _server_option(report, server, opt, value, src)


def _server_option(report: Reporter, server: Server, opt: str, value: str, src: Source) -> None:
    if opt == "maxqueue":
        number = _int(report, value, src, "server maxqueue", 0, _MAX_INT)
        if number is not None:
            server.maxqueue = number
    elif opt == "weight":
        number = _int(report, value, src, "server weight", 0, 256)
        if number is not None:
            server.weight = number
    elif opt in ("disabled", "enabled"):
        server.disabled = opt == "disabled"
    elif opt in ("backup", "no-backup"):
        server.backup = opt == "backup"
    elif opt in ("check", "no-check"):
        server.check = opt == "check"
    elif opt == "maxconn":
        number = _int(report, value, src, "server maxconn", 0, _MAX_INT)
        if number is not None:
            server.maxconn = number
    elif opt in ("rise", "fall"):
        number = _int(report, value, src, f"server {opt}", 1, _MAX_INT)
        if number is not None:
            setattr(server, opt, number)
    elif opt in _POSITIVE_TIMES or opt == "slowstart":
        ms = _time(report, value, src, opt)
        if ms is None:
            return
        if opt in _POSITIVE_TIMES and ms <= 0:
            report.alert(src, f"invalid value '{value}' for server option '{opt}' (must be > 0)")
            return
        setattr(server, opt, ms)
    elif opt == "id":
        number = _int(report, value, src, "server id", 1, _MAX_INT)
        if number is not None:
            server.id = number
    elif opt == "port":
        number = _int(report, value, src, "server check port", 1, 65535)
        if number is not None:
            server.check_port = number
    elif opt == "addr":
        try:
            server.check_addr = str(ipaddress.ip_address(value.strip("[]")))
        except ValueError:
            report.alert(src, f"server option 'addr' expects an IP address, got '{value}'")
    elif opt == "cookie":
        server.cookie = value
    elif opt in ("send-proxy", "no-send-proxy"):
        server.send_proxy = opt == "send-proxy"
    elif opt in ("send-proxy-v2", "no-send-proxy-v2"):
        server.send_proxy_v2 = opt == "send-proxy-v2"
    elif opt in _TLS_OPTIONS:
        _server_tls_option(report, server, opt, value, src)


_TLS_OPTIONS = frozenset(
    {"ssl", "no-ssl", "verify", "ca-file", "crt", "sni", "alpn", "ciphers", "ssl-min-ver",
     "check-ssl", "no-check-ssl", "check-sni"}
)  # fmt: skip


def _server_tls_option(report: Reporter, server: Server, opt: str, value: str, src: Source) -> None:
    """TLS to the server; files are read when the section ends (check_server_tls)."""
    from lb.worker import tls as tlsmod
    from lb.worker import tls_client

    if opt in ("ssl", "no-ssl"):
        server.ssl = opt == "ssl"
    elif opt in ("check-ssl", "no-check-ssl"):
        server.check_ssl = opt == "check-ssl"
    elif opt == "check-sni":
        server.check_sni = value
    elif opt == "verify":
        if value not in ("none", "required"):
            report.alert(
                src,
                f"'verify' : unknown verify method '{value}', only 'none' and 'required' "
                "are supported",
            )
            return
        server.verify = value
    elif opt in ("ca-file", "crt"):
        setattr(server, opt.replace("-", "_"), os.path.abspath(value))
    elif opt == "sni":
        problem = tls_client.check_sni(value)
        if problem is None:
            server.sni = value
        elif problem[0] == "not-yet":
            report.not_yet(src, f"sni {value}", problem[1])
        else:
            report.alert(src, f"server option 'sni': {problem[1]}")
    elif opt == "alpn":
        protos = [p for p in value.split(",") if p]
        for proto in protos:
            if proto not in tls_client.SERVER_ALPN_HTTP:
                report.not_yet(src, f"alpn {proto}", "lb speaks HTTP/1.x to servers")
                return
        server.alpn = protos
    elif opt == "ciphers":
        server.ciphers = value
    elif opt == "ssl-min-ver":
        if value not in tlsmod.TLS_VERSIONS:
            report.alert(
                src, f"server option 'ssl-min-ver': '{value}' (lb offers TLSv1.2 or TLSv1.3)"
            )
            return
        server.ssl_min_ver = value


def new_server(template: Server | None, name: str, host: str, port: int, src: Source) -> Server:
    """A server starting from the section's ``default-server`` settings, if any."""
    if template is None:
        return Server(name=name, host=host, port=port, source=src)
    return structs.replace(template, name=name, host=host, port=port, source=src)


def default_server(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    template = draft.default_server
    if template is None:
        template = Server(name="", host="", port=0, source=src)
    else:
        template = structs.replace(template)  # servers already declared keep the old one
    server_options(parser.report, template, args, src, default=True)
    draft.default_server = template


# --------------------------------------------------------------------------- balance


def balance(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    report = parser.report
    if not args:
        report.alert(src, "'balance' expects an argument")
        return
    algo = args[0].split("(", 1)[0]
    status = kw.BALANCE_ALGORITHMS.get(algo)
    if status is None:
        report.alert(src, f"unknown balance algorithm '{args[0]}'")
        return
    if status is Status.NOT_YET:
        report.not_yet(src, f"balance {algo}")
    else:
        try:
            # The balancer's own checks, over no server: the messages are the operator's.
            make_balancer(args[0], args[1:], [], [])
        except ValueError as e:
            message = str(e)
            if NOT_YET in message:
                report.not_yet(src, " ".join(["balance", *args]), message)
            else:
                report.alert(src, message)
            return
    draft.proxy.balance, draft.proxy.balance_args = args[0], args[1:]


def hash_type(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if not args:
        parser.report.alert(src, "'hash-type' expects a method: map-based or consistent")
        return
    try:
        parse_hash_type(args)
    except ValueError as e:
        parser.report.alert(src, str(e))
        return
    draft.proxy.hash_type = list(args)


# --------------------------------------------------------------------------- HTTP checks


def option_httpchk(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    """``option httpchk [[METHOD] URI [VERSION [HOST]]]``; one word alone is the URI."""
    report = parser.report
    check = draft.proxy.http_check
    if prefix:
        if args:
            report.alert(src, f"'{prefix} option httpchk' takes no argument")
            return
        if prefix == "no":
            check.enabled = False  # the http-check rules stay, unused
        else:
            base = draft.base.proxy.http_check if draft.base is not None else HttpCheck()
            check.enabled = base.enabled
            check.method, check.uri, check.version = base.method, base.uri, base.version
        return
    if len(args) > 4:
        report.alert(src, f"'option httpchk' takes at most 4 arguments, got '{args[4]}'")
        return
    method, uri, version, host = "OPTIONS", "/", "HTTP/1.0", None
    if len(args) == 1:
        uri = args[0]
    elif args:
        method, uri = args[0], args[1]
        if len(args) > 2:
            version = args[2]
        if len(args) > 3:
            host = args[3]
    headers: list[tuple[str, str]] = []
    # The old way of adding headers: "HTTP/1.1\r\nHost:\ www" after the version.
    version, *extra = version.split("\r\n")
    for line in extra:
        name, colon, value = line.partition(":")
        if not line:
            continue
        if not colon or not _HEADER_NAME_RE.fullmatch(name):
            report.alert(src, f"'option httpchk': '{line}' after the version is not a header")
            return
        headers.append((name, value.strip()))
    if host is not None:
        headers.append(("Host", host))
    if not _check_request_line(report, src, "option httpchk", method, uri, version):
        return
    check.enabled = True
    check.method, check.uri, check.version = method, uri, version
    if headers:  # headers from this line replace the earlier ones; "http-check send" adds
        check.headers = headers


def _check_request_line(
    report: Reporter, src: Source, where: str, method: str, uri: str, version: str
) -> bool:
    if not _METHOD_RE.fullmatch(method):
        report.alert(src, f"'{where}': invalid method '{method}'")
        return False
    if not uri or any(c in uri for c in " \r\n\0"):
        report.alert(src, f"'{where}': invalid URI '{uri}'")
        return False
    if not _VERSION_RE.fullmatch(version):
        report.alert(src, f"'{where}': invalid HTTP version '{version}' (HTTP/1.0, HTTP/1.1, …)")
        return False
    return True


_HTTP_CHECK_NOT_YET = frozenset(
    {"connect", "comment", "disable-on-404", "send-state", "set-var", "unset-var"}
)


def http_check(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    report = parser.report
    if not args:
        report.alert(src, "'http-check' expects 'send' or 'expect'")
        return
    verb, rest = args[0], args[1:]
    if verb in _HTTP_CHECK_NOT_YET:
        report.not_yet(src, f"http-check {verb}")
    elif verb == "send":
        _http_check_send(report, draft.proxy.http_check, rest, src)
    elif verb == "expect":
        expect = _http_check_expect(report, rest, src)
        if expect is not None:
            draft.proxy.http_check.expects.append(expect)
    else:
        report.alert(src, f"unknown 'http-check' action '{verb}' (send, expect)")


def _http_check_send(report: Reporter, check: HttpCheck, words: list[str], src: Source) -> None:
    method, uri, version = check.method, check.uri, check.version
    headers: list[tuple[str, str]] = []
    body = ""
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("uri-lf", "body-lf"):
            report.not_yet(src, f"http-check send {word}", "log-format in health checks")
            return
        arity = 2 if word == "hdr" else 1
        if word not in ("meth", "uri", "ver", "hdr", "body", "comment"):
            report.alert(
                src, f"'http-check send': unknown argument '{word}' (meth, uri, ver, hdr, body)"
            )
            return
        if i + arity >= len(words):
            report.alert(src, f"'http-check send {word}' expects {arity} value(s)")
            return
        value = words[i + 1]
        if word == "meth":
            method = value
        elif word == "uri":
            uri = value
        elif word == "ver":
            version = value
        elif word == "hdr":
            if not _HEADER_NAME_RE.fullmatch(value):
                report.alert(src, f"'http-check send hdr': '{value}' is not a header name")
                return
            if "%[" in words[i + 2]:
                report.not_yet(src, "http-check send hdr", "log-format values in health checks")
                return
            headers.append((value, words[i + 2]))
        elif word == "body":
            body = value
        i += 1 + arity
    if not _check_request_line(report, src, "http-check send", method, uri, version):
        return
    # As HAProxy: the body's length is computed, never taken from the configuration.
    headers = [h for h in headers if h[0].lower() not in ("content-length", "transfer-encoding")]
    check.method, check.uri, check.version = method, uri, version
    check.headers = check.headers + headers
    check.body = body


_EXPECT_OPTIONS = {
    "min-recv": 1,
    "comment": 1,
    "ok-status": 1,
    "error-status": 1,
    "tout-status": 1,
    "on-success": 1,
    "on-error": 1,
    "status-code": 1,
}


def _http_check_expect(report: Reporter, words: list[str], src: Source) -> HttpCheckExpect | None:
    i = 0
    while i < len(words) and words[i] in _EXPECT_OPTIONS:
        if words[i] != "comment":
            report.not_yet(src, f"http-check expect {words[i]}")
            return None
        i += 2
    rest = words[i:]
    negate = False
    if rest[:1] == ["!"]:
        negate, rest = True, rest[1:]
    elif rest and rest[0].startswith("!"):
        negate, rest = True, [rest[0][1:], *rest[1:]]
    if not rest:
        report.alert(src, "'http-check expect' expects a match and a pattern")
        return None
    match = rest[0]
    if match in ("hdr", "fhdr", "string-lf"):
        report.not_yet(src, f"http-check expect {match}")
        return None
    if match not in ("status", "rstatus", "string", "rstring"):
        report.alert(
            src,
            f"'http-check expect': unknown match '{match}' (status, rstatus, string, rstring)",
        )
        return None
    if len(rest) != 2:
        what = "a pattern" if len(rest) < 2 else f"one pattern, got '{rest[2]}' too"
        report.alert(src, f"'http-check expect {match}' expects {what}")
        return None
    pattern = rest[1]
    if match == "status" and not _STATUS_LIST_RE.fullmatch(pattern):
        report.alert(
            src, f"'http-check expect status': '{pattern}' is not a list of codes or ranges"
        )
        return None
    if match in ("rstatus", "rstring"):
        try:
            re.compile(pattern)
        except re.error as e:
            report.alert(src, f"'http-check expect {match}': invalid regex '{pattern}': {e}")
            return None
    return HttpCheckExpect(match=match, pattern=pattern, negate=negate)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- cookie


def cookie(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    report = parser.report
    if not args:
        report.alert(src, "'cookie' expects a cookie name")
        return
    ck = CookiePersistence(name=args[0])
    words = iter(args[1:])
    modes: list[str] = []
    for word in words:
        if word in ("insert", "rewrite", "prefix"):
            modes.append(word)
            ck.mode = word  # type: ignore[assignment]
        elif word in ("indirect", "nocache", "postonly", "preserve", "httponly", "secure"):
            setattr(ck, word, True)
        elif word in ("domain", "maxidle", "maxlife", "attr"):
            value = next(words, None)
            if value is None:
                report.alert(src, f"'cookie {word}' expects a value")
                return
            if word == "domain":
                ck.domains.append(value)
            elif word == "attr":
                ck.attrs.append(value)
            else:
                ms = _time(report, value, src, f"cookie {word}")
                if ms is None:
                    return
                setattr(ck, word, ms)
        elif word == "dynamic":
            report.not_yet(src, "cookie dynamic")
            return
        else:
            report.alert(src, f"'cookie': unknown option '{word}'")
            return
    if len(modes) > 1:
        report.alert(src, f"'cookie': '{modes[0]}' and '{modes[1]}' cannot be used together")
        return
    if ck.preserve and ck.mode != "insert":
        report.alert(src, "'cookie': 'preserve' requires 'insert'")
        return
    if (ck.maxidle is not None or ck.maxlife is not None) and ck.mode != "insert":
        report.alert(src, "'cookie': 'maxidle' and 'maxlife' require 'insert'")
        return
    draft.proxy.cookie = ck


# --------------------------------------------------------------------------- cross-checks

_L7_HASHES = ("uri", "url_param", "hdr")


def check_backend_servers(p: Proxy, report: Reporter) -> None:
    """Once the section is complete: ids, and what needs HTTP in a tcp backend (as HAProxy)."""
    _assign_ids(p, report)
    for server in p.servers:
        if server.ssl or server.check_ssl:
            check_server_tls(p, server, report)
    if not p.http_check.enabled and (p.http_check.expects or _sends(p.http_check)):
        report.warning(
            p.source,
            f"{p.kind} '{p.name}' uses http-check rules without 'option httpchk', "
            "so the rules are ignored",
        )
    if p.mode != "tcp":
        return
    if p.cookie is not None:
        report.warning(
            p.source, f"cookie will be ignored for {p.kind} '{p.name}' (needs 'mode http')"
        )
        p.cookie = None
    for server in p.servers:
        if server.cookie is not None:
            report.warning(
                server.source,
                f"{p.kind} '{p.name}': ignoring cookie for server '{server.name}' "
                "as HTTP mode is disabled",
            )
            server.cookie = None
    if p.balance.split("(", 1)[0] in _L7_HASHES:
        report.warning(
            p.source,
            f"Layer 7 hash not possible for {p.kind} '{p.name}' (needs 'mode http'). "
            "Falling back to round robin",
        )
        p.balance, p.balance_args = "roundrobin", []


def _sends(check: HttpCheck) -> bool:
    default = HttpCheck()
    return (check.method, check.uri, check.version, check.headers, check.body) != (
        default.method,
        default.uri,
        default.version,
        default.headers,
        default.body,
    )


def _assign_ids(p: Proxy, report: Reporter) -> None:
    """Explicit ids must be unique; the others take the lowest free ids, in order (as HAProxy)."""
    taken: dict[int, Server] = {}
    for server in p.servers:
        if server.id is None:
            continue
        other = taken.get(server.id)
        if other is not None:
            report.alert(
                server.source,
                f"'server {p.name}/{server.name}' : 'id' : custom id {server.id} already used "
                f"at {other.source} ('server {other.name}')",
            )
            continue
        taken[server.id] = server
    next_id = 1
    for server in p.servers:
        if server.id is not None:
            continue
        while next_id in taken:
            next_id += 1
        server.id = next_id
        taken[next_id] = server


def check_server_tls(p: Proxy, server: Server, report: Reporter) -> None:
    """A TLS server's files, read now (``lb -c`` names the line).

    ``verify`` is settled once the global section is known (``settle_server_verify``);
    here only what the server line itself says is checked.
    """
    from lb.worker import tls as tlsmod
    from lb.worker import tls_client

    settings = tls_client.ClientTlsSettings(
        verify=bool(server.ca_file),
        ca_file=server.ca_file,
        crt=server.crt,
        alpn=tuple(server.alpn),
        ciphers=server.ciphers,
        min_version=server.ssl_min_ver,
    )
    try:
        tls_client.check_client_settings(settings)
    except tlsmod.TlsConfigError as e:
        report.alert(server.source, f"'server {p.name}/{server.name}' : {e}")


def settle_server_verify(p: Proxy, global_verify: str, report: Reporter) -> None:
    """After the last file: each TLS server's ``verify`` (its own, else ssl-server-verify),
    and HAProxy's refusal of ``verify required`` without a CA file."""
    for server in p.servers:
        if not (server.ssl or server.check_ssl):
            continue
        if not server.verify:
            server.verify = global_verify
        if server.sni:
            _compile_sni(p, server, report)
        if server.verify == "required" and not server.ca_file:
            report.alert(
                server.source,
                f"'server {p.name}/{server.name}' : verify is enabled by default but no CA "
                "file specified. If you're running on a LAN where you're certain to trust "
                "the server's certificate, please set an explicit 'verify none' statement "
                "on the 'server' line, or use 'ssl-server-verify none' in the global "
                "section to disable server-side verifications by default.",
            )


def _compile_sni(p: Proxy, server: Server, report: Reporter) -> None:
    """The whole expression (converters too) compiled once now, as the workers will."""
    from lb.acl.errors import NotYet, RuleError
    from lb.config.model import Config
    from lb.worker import tls_client

    try:
        tls_client.compile_sni(server.sni, p, Config(proxies=[p]), server.source)
    except NotYet as e:
        report.not_yet(server.source, e.thing, e.hint)
        server.sni = ""
    except RuleError as e:
        report.alert(server.source, f"server '{server.name}': 'sni {server.sni}': {e}")
        server.sni = ""
