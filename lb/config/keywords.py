"""What lb knows of HAProxy's configuration language, as data.

One table per family (global keywords, proxy keywords, ``option``, ``timeout``,
``stats``, bind options, server options, balance algorithms, sections). The
parser looks words up here; the reference in ``docs/configuration.md`` is
rendered from the same tables (``python -m lb.config.reference``), so the two
cannot drift apart.

Sections where a proxy keyword is allowed are written like the matrix in
HAProxy's manual: four characters for defaults, frontend, listen, backend, each
either the initial or ``-``. ``"DFLB"`` = everywhere, ``"-FL-"`` = frontend side.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# --------------------------------------------------------------------------- statuses


class Status(Enum):
    SUPPORTED = "supported"
    IGNORED = "accepted, ignored"  # valid, has no meaning in lb: a warning says so
    NOT_YET = "not supported yet"  # valid HAProxy that lb does not do yet: alert (or warning)
    REJECTED = "rejected"  # never accepted: removed from HAProxy or contrary to lb's design


S, IGN, N, R = Status.SUPPORTED, Status.IGNORED, Status.NOT_YET, Status.REJECTED


def words(text: str) -> frozenset[str]:
    """A set of names written as one space-separated string (tables stay readable)."""
    return frozenset(text.split())


ProxySection = str  # "defaults" | "frontend" | "listen" | "backend"
PROXY_SECTIONS: tuple[ProxySection, ...] = ("defaults", "frontend", "listen", "backend")


def _sections(matrix: str) -> frozenset[ProxySection]:
    assert len(matrix) == 4, matrix
    return frozenset(s for s, flag in zip(PROXY_SECTIONS, matrix, strict=True) if flag != "-")


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str  # as written, families included: "option httplog", "timeout connect"
    status: Status
    sections: frozenset[ProxySection] = frozenset()  # empty for global keywords
    note: str = ""  # why rejected / ignored, or what the doc should say


@dataclass(frozen=True, slots=True)
class OptionWord:
    """A word that may follow ``bind ADDR`` or ``server NAME ADDR``."""

    name: str
    nargs: int  # how many words it consumes after itself
    status: Status
    note: str = ""


def _table(entries: list[Keyword]) -> dict[str, Keyword]:
    table: dict[str, Keyword] = {}
    for kw in entries:
        assert kw.name not in table, f"duplicate keyword {kw.name}"
        table[kw.name] = kw
    return table


def _px(name: str, matrix: str, status: Status = N, note: str = "") -> Keyword:
    return Keyword(name, status, _sections(matrix), note)


def _gl(name: str, status: Status = N, note: str = "") -> Keyword:
    return Keyword(name, status, frozenset(), note)


# --------------------------------------------------------------------------- sections

# Sections that hold proxies, parsed fully.
PROXY_SECTION_KEYWORDS = frozenset({"defaults", "frontend", "listen", "backend"})

# Every top-level section keyword HAProxy has; the value says what lb does with it.
SECTIONS: dict[str, Keyword] = _table(
    [
        _gl("global", S),
        _gl("defaults", S, "named (`defaults NAME`) and unnamed; `from NAME` picks one"),
        _gl("frontend", S),
        _gl("backend", S),
        _gl("listen", S),
        _gl(
            "userlist",
            S,
            "`user NAME [password HASH] [insecure-password PASS] [groups G,…]`, "
            "`group NAME [users U,…]`; HASH is anything crypt(3) checks",
        ),
        _gl("peers", N),
        _gl("resolvers", N),
        _gl("mailers", N),
        _gl("program", N),
        _gl("http-errors", N),
        _gl("cache", N),
        _gl("ring", N),
        _gl("log-forward", N),
        _gl("fcgi-app", N),
        _gl("crt-store", N),
        _gl("traces", N),
    ]
)

# --------------------------------------------------------------------------- global

GLOBAL_KEYWORDS: dict[str, Keyword] = _table(
    [
        _gl("daemon", S),
        _gl("pidfile", S),
        _gl("user", S, "the name is kept; the master resolves it when dropping privileges"),
        _gl("group", S, "the name is kept; the master resolves it when dropping privileges"),
        _gl("uid", S),
        _gl("gid", S),
        _gl("chroot", S),
        _gl("maxconn", S, "holds for the whole daemon, across worker processes"),
        _gl("ulimit-n", S),
        _gl("nbthread", S, "in lb: the number of worker processes"),
        _gl("hard-stop-after", S),
        _gl("node", S),
        _gl("description", S),
        _gl("stats socket", S, "options: mode, level, uid, gid, user, group"),
        _gl(
            "log",
            S,
            "`log ADDRESS [len N] [format F] FACILITY [LEVEL [MINLEVEL]]`; "
            "see [`log` targets](#log-targets)",
        ),
        _gl(
            "tune.bufsize",
            S,
            "a size (k, m suffixes), 1024 bytes to under 256 MiB: the longest head",
        ),
        _gl("tune.http.maxhdr", S, "1..32767: the most header lines in a head"),
        _gl("master-worker", IGN, "lb always runs as a master and workers"),
        _gl(
            "nbproc",
            R,
            "removed from HAProxy 2.5; lb runs one worker process per thread: use 'nbthread'",
        ),
        _gl("stats timeout"),
        _gl("stats maxconn"),
        _gl("stats bind-process", R, "removed from HAProxy 2.5 with nbproc"),
        _gl("log-send-hostname"),
        _gl("log-tag"),
        _gl("ca-base"),
        _gl("crt-base"),
        _gl("key-base"),
        _gl("cpu-map"),
        _gl("cpu-policy"),
        _gl("setenv"),
        _gl("presetenv"),
        _gl("resetenv"),
        _gl("unsetenv"),
        _gl("set-var"),
        _gl("set-dumpable"),
        _gl("spread-checks"),
        _gl("max-spread-checks"),
        _gl("maxconnrate"),
        _gl("maxsessrate"),
        _gl("maxsslconn"),
        _gl("maxsslrate"),
        _gl("maxpipes"),
        _gl("maxcomprate"),
        _gl("maxcompcpuusage"),
        _gl("maxzlibmem"),
        _gl("noepoll"),
        _gl("nopoll"),
        _gl("noevports"),
        _gl("nokqueue"),
        _gl("nosplice"),
        _gl("noreuseport"),
        _gl("nogetaddrinfo"),
        _gl("busy-polling"),
        _gl("quiet"),
        _gl("debug"),
        _gl("zero-warning"),
        _gl("strict-limits"),
        _gl("expose-experimental-directives"),
        _gl("external-check"),
        _gl("insecure-fork-wanted"),
        _gl("insecure-setuid-wanted"),
        _gl("localpeer"),
        _gl("lua-load"),
        _gl("lua-load-per-thread"),
        _gl("lua-prepend-path"),
        _gl("mworker-max-reloads"),
        _gl("numa-cpu-mapping"),
        _gl("pp2-never-send-local"),
        _gl("server-state-base"),
        _gl("server-state-file"),
        _gl("unix-bind"),
        _gl("h1-case-adjust"),
        _gl("h1-case-adjust-file"),
        _gl("h2-workaround-bogus-websocket-clients"),
        _gl("grace"),
        _gl("ssl-engine"),
        _gl("ssl-mode-async"),
        _gl(
            "ssl-server-verify",
            S,
            "none or required (the default): what 'verify' is on server lines that do not say",
        ),
        _gl("ssl-load-extra-files"),
        _gl("ssl-load-extra-del-ext"),
        _gl("ssl-skip-self-issued-ca"),
        _gl("ssl-dh-param-file"),
        _gl("ssl-propquery"),
        _gl("ssl-provider"),
        _gl("ssl-provider-path"),
        _gl("ssl-security-level"),
        _gl("ssl-default-bind-ciphers"),
        _gl("ssl-default-bind-ciphersuites"),
        _gl("ssl-default-bind-client-sigalgs"),
        _gl("ssl-default-bind-curves"),
        _gl("ssl-default-bind-options"),
        _gl("ssl-default-bind-sigalgs"),
        _gl("ssl-default-server-ciphers"),
        _gl("ssl-default-server-ciphersuites"),
        _gl("ssl-default-server-client-sigalgs"),
        _gl("ssl-default-server-curves"),
        _gl("ssl-default-server-options"),
        _gl("ssl-default-server-sigalgs"),
        _gl("issuers-chain-path"),
        _gl("default-path"),
        _gl("fd-hard-limit"),
        _gl("cluster-secret"),
        _gl("thread-groups"),
        _gl("thread-group"),
        _gl("uid-range"),
        _gl("limited-quic"),
        _gl("no-quic"),
        _gl("noktls"),
        _gl("anonkey"),
        _gl("dns-accept-family"),
        _gl("harden.reject-privileged-ports.tcp"),
        _gl("harden.reject-privileged-ports.quic"),
        _gl("httpclient.resolvers.disabled"),
        _gl("httpclient.resolvers.id"),
        _gl("httpclient.resolvers.prefer"),
        _gl("httpclient.retries"),
        _gl("httpclient.ssl.ca-file"),
        _gl("httpclient.ssl.verify"),
        _gl("httpclient.timeout.connect"),
        _gl("profiling.tasks"),
        _gl("profiling.memory"),
        _gl("stress-level"),
        _gl("warn-blocked-traffic-after"),
    ]
)

# Global keywords recognised by prefix: the tuning knobs and device-detection
# modules are families of dozens of names; none is implemented yet.
GLOBAL_PREFIXES: dict[str, Keyword] = {
    "tune.": _gl("tune.*"),
    "51degrees-": _gl("51degrees-*"),
    "deviceatlas-": _gl("deviceatlas-*"),
    "wurfl-": _gl("wurfl-*"),
    "ocsp-update.": _gl("ocsp-update.*"),
    "quic-": _gl("quic-*"),
}

# --------------------------------------------------------------------------- proxies

# Status codes ``errorfile`` accepts (HAProxy's list).
ERRORFILE_CODES: tuple[int, ...] = (
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
)  # fmt: skip

# --------------------------------------------------------------------------- rule actions

# http-request / http-response actions (the word before any parenthesis: "set-var"
# for "set-var(txn.x)"), HAProxy 2.6's list; lb.acl implements the supported ones.
_REQUEST_SUPPORTED = (
    "allow deny tarpit auth redirect return set-header add-header del-header replace-header "
    "replace-value set-path set-pathq set-query set-uri set-method replace-path replace-pathq "
    "replace-uri set-var set-var-fmt unset-var use-service track-sc0 track-sc1 track-sc2 "
    "sc-inc-gpc0 sc-inc-gpc1 sc-set-gpt0"
)
_RESPONSE_SUPPORTED = (
    "allow deny return redirect set-header add-header del-header replace-header replace-value "
    "set-status set-var set-var-fmt unset-var"
)
HTTP_REQUEST_ACTIONS: dict[str, Status] = {
    **{a: S for a in _REQUEST_SUPPORTED.split()},
    **{
        a: N
        for a in sorted(
            words(
                "add-acl cache-use capture del-acl del-map disable-l7-retry do-resolve "
                "early-hint normalize-uri ot-group reject sc-inc-gpc "
                "sc-set-gpt send-spoe-group set-dst set-dst-port set-log-level "
                "set-map set-mark set-nice set-priority-class set-priority-offset set-src "
                "set-src-port set-timeout set-tos silent-drop strict-mode track-sc "
                "wait-for-body wait-for-handshake"
            )
        )
    },
}
HTTP_RESPONSE_ACTIONS: dict[str, Status] = {
    **{a: S for a in _RESPONSE_SUPPORTED.split()},
    **{
        a: N
        for a in sorted(
            words(
                "add-acl cache-store capture del-acl del-map ot-group sc-inc-gpc sc-inc-gpc0 "
                "sc-inc-gpc1 sc-set-gpt sc-set-gpt0 send-spoe-group set-log-level set-map "
                "set-mark set-nice set-tos silent-drop strict-mode track-sc track-sc0 track-sc1 "
                "track-sc2 wait-for-body"
            )
        )
    },
}

# Keywords of a userlist section.
USERLIST_KEYWORDS = frozenset({"user", "group"})

PROXY_KEYWORDS: dict[str, Keyword] = _table(
    [
        _px("mode", "DFLB", S, "tcp or http; 'mode health' is rejected"),
        _px("bind", "-FL-", S, "addresses and options: name, v4v6, v6only, backlog"),
        _px("maxconn", "DFL-", S),
        _px("default_backend", "DFL-", S),
        _px(
            "use_backend",
            "-FL-",
            S,
            "`use_backend NAME [if COND]` (or `unless`); NAME may be a log-format string "
            "(`be_%[req.hdr(host),lower,map(hosts.map)]`): a name that is no backend means "
            "default_backend",
        ),
        _px(
            "server",
            "--LB",
            S,
            "options: weight, disabled, enabled, maxconn, check, no-check, inter, fastinter, "
            "downinter, rise, fall, backup, no-backup, slowstart, id, port, addr, cookie; "
            "see [server options](#server-options)",
        ),
        _px(
            "balance",
            "D-LB",
            S,
            "roundrobin, static-rr, leastconn, first, source, uri [len N] [depth N] [whole] "
            "[path-only], url_param NAME, hdr(NAME) [use_domain_only], random[(DRAWS)]; "
            "the order and the leastconn counts hold across worker processes",
        ),
        _px("retries", "D-LB", S),
        _px("disabled", "DFLB", S),
        _px("enabled", "DFLB", S),
        _px("description", "-FLB", S),
        _px("default-server", "D-LB", S, "every server option but 'id'"),
        _px(
            "hash-type",
            "D-LB",
            S,
            "map-based or consistent, then sdbm, djb2, wt6 or crc32, then avalanche",
        ),
        _px("hash-balance-factor", "D-LB"),
        _px(
            "acl",
            "DFLB",
            S,
            "`acl NAME CRITERION [-i] [-f FILE] [-m METHOD] [-n] [--] [OPERATOR] VALUE…`: "
            "request line, header, address, proxy, server, auth and TLS (ssl_fc, ssl_fc_sni) "
            "fetches, every matching "
            "method, converters lower, upper, base64, hex, length, url_dec, field, word, "
            "regsub, map*; a fetch or converter lb lacks is not supported yet, by name; "
            "not supported yet in a named defaults section",
        ),
        _px("backlog", "DFL-"),
        _px(
            "capture",
            "-FL-",
            S,
            "`capture request header NAME len N`, `capture response header NAME len N`; "
            "'capture cookie' is not supported yet",
        ),
        _px("clitcpka-cnt", "DFL-"),
        _px("clitcpka-idle", "DFL-"),
        _px("clitcpka-intvl", "DFL-"),
        _px("srvtcpka-cnt", "D-LB"),
        _px("srvtcpka-idle", "D-LB"),
        _px("srvtcpka-intvl", "D-LB"),
        _px(
            "compression",
            "DFLB",
            S,
            "`compression algo ALG…` (identity, gzip, deflate, raw-deflate, br), "
            "`compression type MIME…` (prefixes, case-insensitive), `compression offload` "
            "(ignored with a warning in defaults); backend settings win over the frontend's; "
            "algo-res and type-res are taken as algo and type; algo-req, type-req, direction, "
            "minsize-req and minsize-res are not supported yet; see docs/http.md",
        ),
        _px(
            "cookie",
            "D-LB",
            S,
            "NAME [insert|rewrite|prefix] [indirect] [nocache] [postonly] [preserve] [httponly] "
            "[secure] [domain D]* [maxidle T] [maxlife T] [attr A]*; 'dynamic' is not supported "
            "yet; persistence applies in mode http",
        ),
        _px("declare", "-FL-"),
        _px("dispatch", "--LB"),
        _px("email-alert", "DFLB"),
        _px(
            "errorfile",
            "DFLB",
            S,
            "`errorfile CODE FILE`: CODE one of "
            + ", ".join(str(c) for c in ERRORFILE_CODES)
            + "; FILE a whole HTTP/1 response (status line, headers, blank line, body) or empty"
            " (close without answering), checked when the configuration is loaded",
        ),
        _px("errorfiles", "DFLB"),
        _px("errorloc", "DFLB"),
        _px("errorloc302", "DFLB"),
        _px("errorloc303", "DFLB"),
        _px("error-log-format", "DFL-"),
        _px("external-check", "D-LB"),
        _px("filter", "-FLB"),
        _px("force-persist", "--LB"),
        _px("fullconn", "D-LB"),
        _px("guid", "-FLB"),
        _px("http-after-response", "DFLB"),
        _px(
            "http-check",
            "D-LB",
            S,
            "'send' (meth, uri, ver, hdr, body) and 'expect [!] status|rstatus|string|rstring'; "
            "connect, disable-on-404, send-state, set-var are not supported yet",
        ),
        _px("http-error", "DFLB"),
        _px(
            "http-request",
            "DFLB",
            S,
            "actions: "
            + ", ".join(f"`{a}`" for a, st in HTTP_REQUEST_ACTIONS.items() if st is S)
            + "; the others are not supported yet",
        ),
        _px(
            "http-response",
            "DFLB",
            S,
            "actions: "
            + ", ".join(f"`{a}`" for a, st in HTTP_RESPONSE_ACTIONS.items() if st is S)
            + "; the others are not supported yet",
        ),
        _px("http-reuse", "D-LB", S, "never, safe (the default), aggressive, always"),
        _px("http-send-name-header", "D-LB"),
        _px("id", "-FLB"),
        _px("ignore-persist", "--LB"),
        _px("load-server-state-from-file", "D-LB"),
        _px(
            "log",
            "DFLB",
            S,
            "as in `global`; `log global` = the global targets; `no log` drops inherited ones",
        ),
        _px(
            "log-format",
            "DFL-",
            S,
            "one word (escape or quote spaces); its %-variables are checked by the logger",
        ),
        _px("log-format-sd", "DFL-"),
        _px("log-tag", "DFLB"),
        _px("max-keep-alive-queue", "D-LB"),
        _px("max-session-srv-conns", "DFL-"),
        _px("monitor", "-FL-"),
        _px("monitor-uri", "DFL-"),
        _px("persist", "D-LB"),
        _px("rate-limit", "DFL-"),
        _px("redirect", "-FLB", S, "`location`, `prefix`, `scheme`; `code`; the options"),
        _px("retry-on", "D-LB"),
        _px("server-state-file-name", "D-LB"),
        _px("server-template", "--LB"),
        _px("source", "D-LB"),
        _px(
            "stick",
            "--LB",
            S,
            "`on|match|store-request PATTERN [table T] [if|unless COND]`: persistence through "
            "a stick table shared by every worker (docs/sticktables.md); `store-response` "
            "is not supported yet",
        ),
        _px(
            "stick-table",
            "-FLB",
            S,
            "`type ip|ipv6|integer|string [len N] size N [expire T] [nopurge] [store …]`: "
            "one table per proxy, in shared memory (every worker sees it), kept across "
            "reloads while its definition is unchanged (docs/sticktables.md); `binary`, "
            "`peers`, `srvkey`, `write-to`, and the bytes_*, http_fail_*, gpc/gpt array "
            "data are not supported yet",
        ),
        _px("tcp-check", "D-LB"),
        _px(
            "tcp-request",
            "DFLB",
            S,
            "`connection accept|reject|track-sc0/1/2 KEY [table T]|sc-inc-gpc0(N)|"
            "sc-inc-gpc1(N)|sc-set-gpt0(N) V [if|unless COND]`, before any byte is read "
            "(docs/sticktables.md); `inspect-delay T` and `content` with the same actions, "
            "mode tcp frontends, on the client's first bytes peeked (req.len, req.payload, "
            "req.ssl_sni, req.ssl_hello_type…; docs/tcp.md); `content` in mode http or in a "
            "backend, and `session`, are not supported yet",
        ),
        _px("tcp-response", "D-LB"),
        _px("transparent", "D-LB"),
        _px("unique-id-format", "DFL-"),
        _px("unique-id-header", "DFL-"),
        _px("use-fcgi-app", "--LB"),
        _px("use-server", "--LB", S, "`use-server NAME if COND` (or `unless`); NAME: a log-format"),
        _px("contimeout", "D-LB", R, "removed from HAProxy; use 'timeout connect'"),
        _px("clitimeout", "DFL-", R, "removed from HAProxy; use 'timeout client'"),
        _px("srvtimeout", "D-LB", R, "removed from HAProxy; use 'timeout server'"),
        _px("redispatch", "D-LB", R, "removed from HAProxy; use 'option redispatch'"),
        _px("block", "-FLB", R, "removed from HAProxy 2.1; use 'http-request deny'"),
        _px("monitor-net", "DFL-", R, "removed from HAProxy 2.4; use 'tcp-request connection'"),
        *(
            _px(name, "-FLB", R, "removed from HAProxy 2.1; use 'http-request'/'http-response'")
            for name in words(
                "reqadd reqallow reqdel reqdeny reqiallow reqidel reqideny reqipass reqirep "
                "reqisetbe reqitarpit reqpass reqrep reqsetbe reqtarpit "
                "rspadd rspdel rspdeny rspidel rspideny rspirep rsprep"
            )
        ),
    ]
)

# Keywords that are a family: the second word names the real keyword.
PROXY_FAMILIES = frozenset({"option", "timeout", "stats"})

# --------------------------------------------------------------------------- option X

OPTIONS: dict[str, Keyword] = _table(
    [
        _px("option redispatch", "D-LB", S, "and 'no option redispatch'"),
        *(
            _px(f"option {name}", "DFLB", IGN, "lb always splices in tcp mode; ignored")
            for name in ("splice-auto", "splice-request", "splice-response")
        ),
        _px("option abortonclose", "D-LB", S, "and 'no option abortonclose'"),
        _px("option accept-invalid-http-request", "DFL-"),
        _px("option accept-invalid-http-response", "D-LB"),
        _px("option accept-unsafe-violations-in-http-request", "DFL-"),
        _px("option accept-unsafe-violations-in-http-response", "D-LB"),
        _px("option allbackups", "D-LB", S, "and 'no option allbackups'"),
        _px("option checkcache", "D-LB"),
        _px("option clitcpka", "DFL-"),
        _px("option contstats", "DFL-"),
        _px("option disable-h2-upgrade", "DFL-"),
        _px("option dontlog-normal", "DFL-"),
        _px("option dontlognull", "DFL-", S, "and 'no option dontlognull'"),
        _px("option external-check", "D-LB"),
        _px(
            "option forwardfor",
            "DFLB",
            S,
            "`[except NET] [header NAME] [if-none]`; NET an IPv4 or IPv6 address[/mask]",
        ),
        _px("option h1-case-adjust-bogus-client", "DFL-"),
        _px("option h1-case-adjust-bogus-server", "D-LB"),
        _px("option http-buffer-request", "DFLB"),
        _px("option http-drop-request-trailers", "D-LB"),
        _px("option http-drop-response-trailers", "DFL-"),
        _px("option http-ignore-probes", "DFL-"),
        _px(
            "option http-keep-alive",
            "DFLB",
            S,
            "the default; 'no option' of the current connection mode restores it",
        ),
        _px("option http-no-delay", "DFLB"),
        _px("option http-pretend-keepalive", "D-LB"),
        _px("option http-restrict-req-hdr-names", "DFLB"),
        _px(
            "option http-server-close",
            "DFLB",
            S,
            "the last of http-keep-alive, http-server-close, httpclose wins",
        ),
        _px("option http-use-proxy-header", "DFL-"),
        _px(
            "option httpchk",
            "D-LB",
            S,
            "`[[METHOD] URI [VERSION [HOST]]]`, default `OPTIONS / HTTP/1.0`; "
            "a 2xx or 3xx answer passes unless 'http-check expect' says otherwise",
        ),
        _px(
            "option httpclose",
            "DFLB",
            S,
            "the last of http-keep-alive, http-server-close, httpclose wins",
        ),
        _px(
            "option httplog",
            "DFL-",
            S,
            "'option httplog clf' is not supported yet; falls back to tcplog in mode tcp",
        ),
        _px("option httpslog", "DFL-"),
        _px("option idle-close-on-response", "DFL-"),
        _px("option independent-streams", "DFLB"),
        _px("option ldap-check", "D-LB"),
        _px("option log-health-checks", "D-LB"),
        _px("option log-separate-errors", "DFL-"),
        _px("option logasap", "DFL-", S, "and 'no option logasap'"),
        _px("option mysql-check", "D-LB"),
        _px("option nolinger", "DFLB"),
        _px("option originalto", "DFLB"),
        _px("option persist", "D-LB"),
        _px("option pgsql-check", "D-LB"),
        _px("option prefer-last-server", "D-LB"),
        _px("option redis-check", "D-LB"),
        _px("option smtpchk", "D-LB"),
        _px("option socket-stats", "DFL-"),
        _px("option spop-check", "---B"),
        _px("option srvtcpka", "D-LB"),
        _px("option ssl-hello-chk", "D-LB"),
        _px("option tcp-check", "D-LB"),
        _px("option tcp-smart-accept", "DFL-"),
        _px("option tcp-smart-connect", "D-LB"),
        _px("option tcpka", "DFLB"),
        _px("option tcplog", "DFL-", S),
        _px("option transparent", "D-LB"),
        _px("option forceclose", "DFLB", R, "removed from HAProxy 2.0; use 'option httpclose'"),
        _px("option http-tunnel", "DFLB", R, "removed from HAProxy 2.1"),
        _px("option http_proxy", "DFLB", R, "removed from HAProxy 2.5"),
    ]
)

# --------------------------------------------------------------------------- timeout X

TIMEOUTS: dict[str, Keyword] = _table(
    [
        _px("timeout connect", "D-LB", S),
        _px("timeout client", "DFL-", S),
        _px("timeout server", "D-LB", S),
        _px("timeout tunnel", "D-LB", S),
        _px("timeout queue", "D-LB", S),
        _px("timeout http-request", "DFLB", S),
        _px("timeout http-keep-alive", "DFLB", S),
        _px(
            "timeout check",
            "D-LB",
            S,
            "read timeout of a check once connected (connect: min(timeout connect, inter)); "
            "unset, 'inter' bounds the whole check",
        ),
        _px("timeout client-fin", "DFL-", N, "no effect in lb yet"),
        _px("timeout server-fin", "D-LB", N, "no effect in lb yet"),
        _px("timeout client-hs", "DFL-", N),
        _px("timeout tarpit", "DFLB", S, "defaults to timeout connect"),
    ]
)

# Model field of each timeout (all of them are stored, supported or not).
TIMEOUT_FIELDS: dict[str, str] = {
    "connect": "connect",
    "client": "client",
    "server": "server",
    "tunnel": "tunnel",
    "queue": "queue",
    "check": "check",
    "http-request": "http_request",
    "http-keep-alive": "http_keep_alive",
    "client-fin": "client_fin",
    "server-fin": "server_fin",
    "tarpit": "tarpit",
}

# --------------------------------------------------------------------------- stats X (proxies)

STATS_KEYWORDS: dict[str, Keyword] = _table(
    [
        _px(
            "stats admin",
            "-FLB",
            S,
            "`if TRUE` / `unless FALSE` and any ACL condition; the form's actions reach "
            "the master, which applies them to every worker",
        ),
        _px("stats auth", "DFLB", S, "HTTP Basic; several lines add users"),
        _px("stats enable", "DFLB", S),
        _px("stats hide-version", "DFLB", S),
        _px("stats http-request", "-FLB"),
        _px("stats realm", "DFLB", S),
        _px("stats refresh", "DFLB", S),
        _px("stats scope", "DFLB", S, "`.` is the proxy itself; `?scope=` filters further"),
        _px("stats show-desc", "DFLB", S),
        _px("stats show-legends", "DFLB"),
        _px("stats show-modules", "DFLB"),
        _px("stats show-node", "DFLB", S),
        _px(
            "stats uri",
            "DFLB",
            S,
            "the page, with `;csv`, `;json`, `;up`, `;no-maint`, `;norefresh` and `?scope=`",
        ),
        _px("stats bind-process", "DFLB", R, "removed from HAProxy 2.5 with nbproc"),
    ]
)

# --------------------------------------------------------------------------- bind options


def _opts(entries: list[OptionWord]) -> dict[str, OptionWord]:
    table: dict[str, OptionWord] = {}
    for o in entries:
        assert o.name not in table, f"duplicate option {o.name}"
        table[o.name] = o
    return table


def _many(names: str, nargs: int, status: Status = N) -> list[OptionWord]:
    return [OptionWord(name, nargs, status) for name in names.split()]


BIND_OPTIONS: dict[str, OptionWord] = _opts(
    [
        OptionWord("name", 1, S),
        OptionWord("v4v6", 0, S),
        OptionWord("v6only", 0, S),
        OptionWord("backlog", 1, S),
        OptionWord(
            "accept-proxy",
            0,
            S,
            "PROXY protocol v1 or v2 (detected) before the connection's bytes; its client "
            "address replaces the peer's (logs, src, X-Forwarded-For, balance source); "
            "a connection without a valid header is closed (bound by timeout client)",
        ),
        OptionWord(
            "ssl",
            0,
            S,
            "TLS termination (not with accept-proxy); needs at least one crt; in mode tcp "
            "the clear bytes are copied through Python's TLS (no splicing), ssl_fc and "
            "ssl_fc_sni can route",
        ),
        OptionWord(
            "crt",
            1,
            S,
            "PEM file with the certificate, its chain and its key, or a directory (every "
            "*.pem in it); may repeat; SNI chooses by subjectAltName DNS names (wildcards "
            "too), the first certificate is the default; read at load time",
        ),
        OptionWord("alpn", 1, S, "http/1.1 and http/1.0 only (lb speaks HTTP/1.x to clients)"),
        OptionWord("ssl-min-ver", 1, S, "TLSv1.2 (the default) or TLSv1.3"),
        OptionWord("ciphers", 1, S, "OpenSSL cipher list for TLSv1.2"),
        *_many(
            "accept-netscaler-cip ca-file ca-ignore-err ca-sign-file ca-sign-pass "
            "ca-verify-file ciphersuites client-sigalgs crl-file crt-ignore-err "
            "crt-list curves ecdhe gid group id interface label level maxconn mode mss "
            "namespace nice npn process proto quic-cc-algo severity-output shards sigalgs "
            "ssl-max-ver tcp-ut thread tls-ticket-keys uid user verify "
            "guid-prefix idle-ping ktls",
            1,
        ),
        *_many(
            "allow-0rtt defer-accept expose-fd force-sslv3 force-tlsv10 "
            "force-tlsv11 force-tlsv12 force-tlsv13 generate-certificates no-alpn no-ca-names "
            "no-sslv3 no-tls-tickets no-tlsv10 no-tlsv11 no-tlsv12 no-tlsv13 "
            "prefer-client-ciphers quic-force-retry strict-sni tfo transparent",
            0,
        ),
    ]
)

# --------------------------------------------------------------------------- server options

SERVER_OPTIONS: dict[str, OptionWord] = _opts(
    [
        OptionWord("weight", 1, S, "0..256; 0 takes persistent traffic only"),
        OptionWord("disabled", 0, S, "starts in maintenance (MAINT)"),
        OptionWord("enabled", 0, S),
        OptionWord("maxconn", 1, S, "counted for the whole daemon"),
        OptionWord(
            "maxqueue",
            1,
            S,
            "requests that stick to a full server (cookie) wait for it, this many "
            "daemon-wide; then they are balanced",
        ),
        OptionWord("check", 0, S, "health checks, run once by the master"),
        OptionWord("no-check", 0, S),
        OptionWord("inter", 1, S, "default 2s"),
        OptionWord("fastinter", 1, S, "while going up or down; default inter"),
        OptionWord("downinter", 1, S, "while down; default inter"),
        OptionWord("rise", 1, S, "default 2"),
        OptionWord("fall", 1, S, "default 3"),
        OptionWord("backup", 0, S, "used when no other server is up (all with allbackups)"),
        OptionWord("no-backup", 0, S),
        OptionWord("slowstart", 1, S, "weight ramp after the server comes back up"),
        OptionWord("id", 1, S),
        OptionWord("port", 1, S, "checks go to this port"),
        OptionWord("addr", 1, S, "checks go to this address"),
        OptionWord("cookie", 1, S, "the value of the backend's persistence cookie"),
        OptionWord(
            "send-proxy",
            0,
            S,
            "a PROXY protocol v1 header first on each server connection; in mode http "
            "such a connection serves only the client connection it was opened for (as in "
            "HAProxy); HTTP checks carry one too unless 'port' or 'addr' is set",
        ),
        OptionWord("send-proxy-v2", 0, S, "the same with a v2 (binary) header; wins over v1"),
        OptionWord("no-send-proxy", 0, S),
        OptionWord("no-send-proxy-v2", 0, S),
        OptionWord(
            "ssl",
            0,
            S,
            "TLS to the server (mode http: per connection, pooled by SNI; mode tcp: bytes "
            "copied through Python's TLS instead of spliced); checks use TLS too unless "
            "'port' or 'addr' is set",
        ),
        OptionWord("no-ssl", 0, S),
        OptionWord(
            "verify",
            1,
            S,
            "none or required (default: global ssl-server-verify, itself required); "
            "required needs ca-file and checks the certificate's names against the SNI "
            "when one is sent",
        ),
        OptionWord("ca-file", 1, S, "PEM file of the CAs that verify the server; read at load"),
        OptionWord("crt", 1, S, "client certificate and key (PEM) presented to the server"),
        OptionWord(
            "sni",
            1,
            S,
            "expression whose value is sent as SNI: str(NAME), req.hdr(host) / hdr(host), "
            "req.fhdr(NAME), ssl_fc_sni, then any converter; idle connections are reused "
            "only for the same SNI",
        ),
        OptionWord("alpn", 1, S, "http/1.1 and http/1.0 only (lb speaks HTTP/1.x to servers)"),
        OptionWord("ciphers", 1, S, "OpenSSL cipher list for TLSv1.2"),
        OptionWord("ssl-min-ver", 1, S, "TLSv1.2 (the default) or TLSv1.3"),
        OptionWord(
            "check-ssl",
            0,
            S,
            "health checks over TLS (TCP: the handshake passes, L6OK; HTTP: HTTPS), with "
            "the server's verify, ca-file, crt, ciphers",
        ),
        OptionWord("no-check-ssl", 0, S),
        OptionWord("check-sni", 1, S, "SNI of TLS health checks (a plain string)"),
        *_many(
            "agent-addr agent-inter agent-port agent-send check-alpn "
            "check-proto ciphersuites client-sigalgs crl-file "
            "curves error-limit hash-key init-addr "
            "log-bufsize log-proto max-reuse minconn namespace npn observe "
            "on-error on-marked-down on-marked-up pool-conn-name pool-low-conn pool-max-conn "
            "pool-purge-delay proto redir resolve-net resolve-opts resolve-prefer "
            "resolvers set-proxy-v2-tlv-fmt shard sigalgs socks4 source "
            "ssl-max-ver tcp-ut track verifyhost ws guid",
            1,
        ),
        *_many(
            "agent-check allow-0rtt check-reuse-pool check-send-proxy "
            "check-via-socks4 force-sslv3 force-tlsv10 force-tlsv11 force-tlsv12 force-tlsv13 "
            "no-agent-check "
            "no-send-proxy-v2-ssl no-send-proxy-v2-ssl-cn no-ssl-reuse no-sslv3 "
            "no-tfo no-tls-tickets no-tlsv10 no-tlsv11 no-tlsv12 no-tlsv13 no-verifyhost "
            "send-proxy-v2-ssl send-proxy-v2-ssl-cn ssl-reuse "
            "stick tfo tls-tickets",
            0,
        ),
    ]
)

# --------------------------------------------------------------------------- balance

# Algorithm name (the part before any parenthesis) → status. The words after the
# name are kept as arguments.
BALANCE_ALGORITHMS: dict[str, Status] = {
    "roundrobin": S,
    "static-rr": S,
    "leastconn": S,
    "first": S,
    "source": S,
    "uri": S,
    "url_param": S,
    "hdr": S,
    "random": S,
    "rdp-cookie": N,
    "hash": N,
}

MODES: dict[str, Keyword] = _table(
    [
        _gl("mode tcp", S),
        _gl("mode http", S),
        _gl("mode health", R, "removed from HAProxy 2.5; use 'monitor-uri' or a tcp-check"),
        _gl("mode spop", N),
    ]
)

# --------------------------------------------------------------------------- log lines

# syslog facility and level names, as HAProxy spells them (levels most severe first).
LOG_FACILITIES: tuple[str, ...] = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "auth2", "ftp", "ntp", "audit", "alert", "cron2",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
LOG_LEVELS: tuple[str, ...] = (
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
)  # fmt: skip
# "format" values of a log line; "local" is valid HAProxy that lb does not do yet.
LOG_FORMATS: tuple[str, ...] = ("rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw")
LOG_FORMATS_NOT_YET: tuple[str, ...] = ("local",)
