"""Render ``docs/configuration.md`` from the keyword tables.

    python -m lb.config.reference > docs/configuration.md

A test checks that the committed file equals this output, so the reference
always says what the parser does.
"""

from __future__ import annotations

from collections.abc import Iterable

from lb.config import keepalived_keywords as kk
from lb.config import keywords as kw
from lb.config.keywords import PROXY_SECTIONS, Keyword, OptionWord, Status

_INTRO = """\
# lb configuration reference

`lb -f FILE [-f FILE …]` reads HAProxy-syntax and keepalived-syntax files; `lb -c -f …`
checks them and exits. A `-f` directory means its `*.cfg` files in lexical order. Each
file's syntax is detected from its content: keepalived when its first word is one of
keepalived's top-level keywords (`global_defs`, `vrrp_instance`, `include`, …) or when it
uses `{ … }` blocks; HAProxy otherwise.

Every message names `file:line`:

```
[ALERT] /etc/lb/haproxy.cfg:14: 'acl' is not supported yet
```

Each keyword has one of these statuses:

| status | meaning |
|---|---|
| supported | lb does what HAProxy/keepalived does with it |
| accepted, ignored | valid, but meaningless in lb: a WARNING says so |
| not supported yet | valid, but lb does not do it yet: an ALERT (see below) |
| rejected | an ALERT always: removed from HAProxy, or contrary to lb's design |

"Not supported yet" is an ALERT so that nothing is silently ignored;
`lb --unsupported warn` makes it a WARNING and runs without those parts.
A keyword used in a section where HAProxy does not allow it is an ALERT; so is an
unknown keyword. This file is generated from lb's keyword tables
(`python -m lb.config.reference`).

## HAProxy syntax

### Lexical rules

- `#` starts a comment, except inside quotes or escaped as `\\#`.
- Words are separated by spaces or tabs. A backslash escapes the next character
  outside single quotes: `\\ ` (space), `\\#`, `\\\\`, `\\'`, `\\"`, `\\$`; `\\r`, `\\n`, `\\t`
  and `\\xHH` give those bytes; any other pair is kept as written (`\\d` in a regex).
  `stats realm no\\ entrance` has the single argument `no entrance`.
- Double quotes group words and still honour escapes and variables; single quotes
  group words and keep everything literally. Quotes may sit inside a word
  (`a"b c"d` is `ab cd`); `""` is an empty word.
- `$NAME` and `${NAME}` are replaced by the environment variable, outside single
  quotes. `${NAME-default}` gives `default` when NAME is not set (an empty NAME stays
  empty); `${NAME[*]}` splits the value into several words. An unset variable expands
  to nothing with a WARNING, and an unquoted word made only of empty expansions
  disappears.
- Keywords are case-sensitive.
- Times: a number and a unit `us`, `ms`, `s`, `m`, `h`, `d`; no unit means ms. Values
  are kept in ms (a non-zero `us` value rounds up to 1 ms); the maximum is 2147483647 ms.
- Sizes: a number and `k`, `m` or `g` (any case), powers of 1024.
- Addresses: `:PORT` and `*:PORT` (every address), `IPv4:PORT`, `[IPv6]:PORT`,
  `IPv6:PORT` (the last colon separates the port), a host name, each optionally after
  `ipv4@`, `ipv6@`, `tcp@`, `tcp4@`, `tcp6@`. A `bind` line may list several,
  comma-separated. Port ranges (`80-90`), port offsets (`+1`), unix sockets and the
  other families (`unix@`, `abns@`, `fd@`, `sockpair@`, `udp@`, `quic4@`, …) are not
  supported yet. A server address without a port is an ALERT.

### Sections and defaults

`defaults` sections may be named (`defaults NAME`, `defaults NAME from OTHER`). A
proxy takes `from NAME`'s defaults, or else those of the last `defaults` section
before it, even across files, as HAProxy does. Each proxy inherits what its side
uses: a frontend takes `maxconn`, `default_backend`, the client-side timeouts and the
shape of its traffic logs (`option httplog` / `tcplog` / `log-format`, `option
dontlognull`, `option logasap`); a backend takes `balance`, `retries`, `option
redispatch`, `option abortonclose`, `http-reuse` and the server-side timeouts; both
take `mode`, `disabled`, the `log` lines (`log global` included), the connection mode
(`option http-keep-alive` / `http-server-close` / `httpclose`), `option forwardfor` and
the `errorfile`s. `no log` in a proxy drops the `log` lines it inherited. `log global`
stands for the `global` section's `log` lines, in file order, wherever they are
(a second `log global` in the same proxy adds nothing, as in HAProxy).

After parsing, lb checks: proxies of the same name with overlapping sides (a
frontend and a backend may share a name); `default_backend` and `use_backend`
naming a missing backend; a frontend using a backend of the other mode (tcp and
http); a frontend or listen without `bind` (ALERT); a backend without server
(WARNING); missing `timeout client` / `connect` / `server` (WARNING, as HAProxy); an
errorfile larger than `tune.bufsize` (ALERT). In a tcp proxy, as in HAProxy, `option
forwardfor` is dropped and `option httplog` becomes `option tcplog`, each with a
WARNING; a frontend with a log format but no `log` target gets a WARNING.
"""

_KEEPALIVED_INTRO = """\
## keepalived syntax

- `!` or `#` at the start of a word begins a comment (inside a word they are kept:
  `auth_pass ab#1`).
- `"…"` is one word (`script "killall -0 haproxy"`).
- `{` and `}` are words of their own; a `{` may sit on its keyword's line or the next.
- `include GLOB` splices in files, relative to the including file's directory,
  nested at most 8 deep; a pattern matching no file is an ALERT.
- Durations are seconds, possibly fractional (`advert_int 0.5`), kept in ms.

VRRP is supported: `global_defs`, `vrrp_script`, `vrrp_instance` and
`vrrp_sync_group` run in lb's master (see `docs/vrrp.md`). A `virtual_server IP
PORT` with `lb_kind NAT` and `protocol TCP` becomes a mode-tcp proxy named
`vs_IP_PORT`, its real servers balanced by `lb_algo` and checked by the master with
their check blocks (see `docs/keepalived.md`) and `persistence_timeout` made a stick
table on the client's address; `lb_kind DR|TUN`, `protocol UDP|SCTP`, `fwmark` and
`group` are "not supported yet" at their line. The parser fills the model in full and
checks it (`virtual_router_id` and `priority` within 1..255, a `track_script`
naming a missing `vrrp_script`, sync-group members, invalid IP addresses, duplicate
instance names and router ids, duplicate virtual and real servers). Keywords that
are recognised but not modelled get their own "not supported yet"; unknown keywords
are ALERTs.
"""

# Tables list what works first.
_STATUS_ORDER = [Status.SUPPORTED, Status.IGNORED, Status.NOT_YET, Status.REJECTED]
_SECTION_LETTERS = {"defaults": "D", "frontend": "F", "listen": "L", "backend": "B"}


def _where(k: Keyword) -> str:
    return "".join(_SECTION_LETTERS[s] if s in k.sections else "-" for s in PROXY_SECTIONS)


def _keyword_table(entries: Iterable[Keyword], with_sections: bool) -> list[str]:
    head = "| keyword | sections (D F L B) | status | notes |" if with_sections else ""
    head = head or "| keyword | status | notes |"
    lines = [head, "|---|---|---|---|" if with_sections else "|---|---|---|"]
    for k in sorted(entries, key=lambda e: (_STATUS_ORDER.index(e.status), e.name)):
        cells = [f"`{k.name}`"]
        if with_sections:
            cells.append(f"`{_where(k)}`")
        cells += [k.status.value, k.note]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _option_table(entries: Iterable[OptionWord]) -> list[str]:
    lines = ["| option | arguments | status |", "|---|---|---|"]
    for o in sorted(entries, key=lambda e: (_STATUS_ORDER.index(e.status), e.name)):
        lines.append(f"| `{o.name}` | {o.nargs} | {o.status.value} |")
    return lines


def _ka_table(table: dict[str, kk.KaKeyword], block: str) -> list[str]:
    lines = ["| keyword | in the model | status | notes |", "|---|---|---|---|"]
    for k in sorted(table.values(), key=lambda e: (not e.modelled, e.name)):
        status = k.status.value
        if block == "top level" and k.modelled and k.status is not Status.SUPPORTED:
            status += " (reported once per block)"
        modelled = "yes" if k.modelled else "no"
        lines.append(f"| `{k.name}` | {modelled} | {status} | {k.note} |")
    return lines


def render_reference() -> str:
    out: list[str] = [_INTRO]

    out += ["### Section keywords", ""]
    out += _keyword_table(kw.SECTIONS.values(), with_sections=False)
    out += [
        "",
        "A section that is not supported yet is reported once, at its first line; its",
        "body is skipped.",
        "",
        "### `global`",
        "",
    ]
    out += _keyword_table(kw.GLOBAL_KEYWORDS.values(), with_sections=False)
    out += [
        "",
        "Families recognised by prefix (every member not listed above is not supported yet):",
        "",
    ]
    out += _keyword_table(kw.GLOBAL_PREFIXES.values(), with_sections=False)
    out += [
        "",
        "#### `log` targets",
        "",
        "`log ADDRESS [len N] [format F] FACILITY [LEVEL [MINLEVEL]]`, the options in",
        "this order, as in HAProxy. ADDRESS is one of:",
        "",
        "- `HOST[:PORT]`: an IPv4 address or a host name; the port defaults to 514 (`:0`",
        "  and a trailing `:` too);",
        "- `[IPv6][:PORT]`, or `IPv6:PORT` / `IPv6:` (the last `:` introduces the port, so",
        "  `::1` alone is an error: write `[::1]` or `::1:`);",
        "- any of these after `udp@`, `udp4@`, `udp6@`, `ipv4@`, `ipv6@` (UDP syslog);",
        "- a unix datagram socket path (`/dev/log`, or `unix@/dev/log`);",
        "- `stdout`, `stderr` (also `fd@1`, `fd@2`).",
        "",
        "Other families (`tcp@`, `ring@`, `fd@N`, …) and the `sample` option are not",
        "supported yet. `len` is 80..65535 (default 1024). `format` is one of "
        + ", ".join(f"`{f}`" for f in kw.LOG_FORMATS)
        + " (default: rfc3164's shape without a host name, as HAProxy); "
        + ", ".join(f"`{f}`" for f in kw.LOG_FORMATS_NOT_YET)
        + " is not supported yet. Facilities: "
        + ", ".join(f"`{f}`" for f in kw.LOG_FACILITIES)
        + ". Levels: "
        + ", ".join(f"`{lv}`" for lv in kw.LOG_LEVELS)
        + ".",
    ]

    out += [
        "",
        "### `defaults`, `frontend`, `listen`, `backend`",
        "",
        "Sections are given as HAProxy's manual does: D = defaults, F = frontend,",
        "L = listen, B = backend, `-` = not allowed there.",
        "",
    ]
    out += _keyword_table(kw.PROXY_KEYWORDS.values(), with_sections=True)
    out += ["", "#### `mode`", ""]
    out += _keyword_table(kw.MODES.values(), with_sections=False)
    out += ["", "#### `option` (also `no option …`, `default option …`)", ""]
    out += _keyword_table(kw.OPTIONS.values(), with_sections=True)
    out += ["", "#### `timeout`", ""]
    out += _keyword_table(kw.TIMEOUTS.values(), with_sections=True)
    out += ["", "#### `stats`", ""]
    out += _keyword_table(kw.STATS_KEYWORDS.values(), with_sections=True)
    out += ["", "#### `balance` algorithms", "", "| algorithm | status |", "|---|---|"]
    out += [f"| `{name}` | {st.value} |" for name, st in sorted(kw.BALANCE_ALGORITHMS.items())]
    out += [
        "",
        "#### `bind` options",
        "",
        "An unknown bind option is an ALERT (and the rest of the line is not read).",
        "`accept-proxy`: each connection starts with a PROXY protocol header, v1 or v2",
        "(told apart by its first bytes); the client address it carries replaces the peer's",
        "in logs, `src`/`src_port`, X-Forwarded-For and `balance source`. A connection",
        "without a valid header, or without a whole one within `timeout client`, is closed.",
        "`ssl crt FILE|DIR [crt …]`: TLS termination on mode http frontends (not mode tcp,",
        "not with `accept-proxy`). A crt is a PEM with the certificate, its chain and its key;",
        "a directory stands for every `*.pem` in it. Certificates are loaded when the",
        "configuration is read (`lb -c` names a missing or broken one at its line). SNI picks",
        "the certificate whose subjectAltName DNS names (wildcards too) match, else the first",
        "crt; `alpn` takes http/1.1 and http/1.0, `ssl-min-ver` TLSv1.2 or TLSv1.3,",
        "`ciphers` an OpenSSL list for TLSv1.2. The handshake is bound by `timeout client`",
        "(10s without); failed handshakes are logged and touch no other connection.",
        "",
    ]
    out += _option_table(kw.BIND_OPTIONS.values())
    out += [
        "",
        "#### `server` options",
        "",
        "`weight` is 0..256; `maxconn` is 0 (no limit) or more and holds daemon-wide, with a",
        "backend queue (`timeout queue`); `maxqueue` bounds the queue of requests that stick",
        "to one server (a persistence cookie) while it is full; past it they are balanced.",
        "`default-server` takes the same options (but `id`). Health checks run once, in",
        "the master, whatever the number of workers; a checked server starts UP and one",
        "failed check takes it down, then `rise` successes bring it back, as in HAProxy.",
        "The state (and `disabled`, drain, maintenance) lives in shared memory and survives a",
        "reload, matched by backend and server name.",
        "`send-proxy` / `send-proxy-v2`: a PROXY protocol header first on each new connection",
        "to the server, naming the client (the one an `accept-proxy` header named, if any).",
        "In mode http such a connection is private to its client connection, as in HAProxy:",
        "it is reused for that client's next requests and never pooled for others. HTTP",
        "checks send a header too (v2 LOCAL, v1 UNKNOWN) unless `port` or `addr` is set;",
        "`check-send-proxy` is not supported yet.",
        "",
    ]
    out += _option_table(kw.SERVER_OPTIONS.values())

    out += ["", _KEEPALIVED_INTRO]
    titles = {
        "top level": "Top level",
        "global_defs": "`global_defs { … }`",
        "vrrp_script": "`vrrp_script NAME { … }`",
        "vrrp_instance": "`vrrp_instance NAME { … }`",
        "authentication": "`authentication { … }` (in vrrp_instance)",
        "vrrp_sync_group": "`vrrp_sync_group NAME { … }`",
        "virtual_server": "`virtual_server IP PORT | fwmark N | group NAME { … }`",
        "real_server": "`real_server IP [PORT] { … }` (in virtual_server)",
    }
    for block, table in kk.BLOCK_TABLES.items():
        out += [f"### {titles[block]}", ""]
        out += _ka_table(table, block)
        out += [""]
    run = ", ".join(f"`{c}`" for c in kk.CHECKERS)
    not_run = ", ".join(f"`{c}`" for c in sorted(kk.CHECK_BLOCKS - set(kk.CHECKERS)))
    out += [
        f"Check blocks inside `real_server`: the master runs {run}; {not_run} are",
        "not supported yet. The options of each:",
        "",
    ]
    for checker, table in kk.CHECKERS.items():
        out += [f"#### `{checker} {{ … }}`", ""]
        out += _ka_table(table, checker)
        out += [""]
    out += ["#### `url { … }` (in HTTP_GET)", ""]
    out += _ka_table(kk.CHECK_URL, "url")
    out += [
        "",
        "`virtual_ipaddress` lines: `ADDRESS[/PREFIX]` then options; "
        + ", ".join(
            f"`{o}` ({'modelled' if m else Status.NOT_YET.value})"
            for o, m in kk.VIRTUAL_IPADDRESS_OPTIONS.items()
        )
        + ".",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    print(render_reference(), end="")
