"""Parsing ``stick-table``, ``stick`` and ``tcp-request`` lines into the model (pure).

The handlers have the parser's handler shape (lb.config.haproxy registers them); what
needs the whole configuration (table names, conditions, fetches) is checked later by
lb.sticktable.rules.check_sticktables, at each line's file:line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lb.config.model import RuleLine, Source, StickRule, StickStore, StickTable
from lb.config.units import parse_size, parse_time
from lb.sticktable.layout import DATA_ORDER, KEY_TYPES, KEY_TYPES_NOT_YET, RATES, SUPPORTED_DATA

if TYPE_CHECKING:
    from lb.config.haproxy import HaproxyParser, ProxyDraft
    from lb.config.report import Reporter

_STORE_ITEM = re.compile(r"([a-z0-9_]+)(?:\((.*)\))?")
MAX_STRING_LEN = 1024

# tcp-request connection actions of HAProxy 2.6; lb.sticktable.rules runs the supported ones
TCP_CONNECTION_SUPPORTED = frozenset(
    [
        "accept",
        "reject",
        "track-sc0",
        "track-sc1",
        "track-sc2",
        "sc-inc-gpc0",
        "sc-inc-gpc1",
        "sc-set-gpt0",
    ]
)
TCP_CONNECTION_NOT_YET = frozenset(
    [
        "expect-netscaler-cip",
        "expect-proxy",
        "sc-inc-gpc",
        "sc-set-gpt",
        "set-dst",
        "set-dst-port",
        "set-mark",
        "set-src",
        "set-src-port",
        "set-tos",
        "set-var",
        "set-var-fmt",
        "unset-var",
        "silent-drop",
        "track-sc",
    ]
)
# tcp-request content: the same supported actions; these are valid HAProxy 2.6 ones lb lacks
TCP_CONTENT_NOT_YET = (TCP_CONNECTION_NOT_YET - {"expect-netscaler-cip", "expect-proxy"}) | {
    "capture",
    "do-resolve",
    "send-spoe-group",
    "set-log-level",
    "set-nice",
    "set-priority-class",
    "set-priority-offset",
    "switch-mode",
    "use-service",
}


def stick_table(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    report = parser.report
    if draft.proxy.stick_table is not None:
        report.alert(
            src,
            f"only one stick-table per proxy (another is declared at "
            f"{draft.proxy.stick_table.source})",
        )
        return
    key_type: str | None = None
    length = 0
    size: int | None = None
    expire = 0
    nopurge = False
    store: list[StickStore] = []
    i = 0
    try:
        while i < len(args):
            word = args[i]
            value = args[i + 1] if i + 1 < len(args) else None
            if word in ("type", "size", "expire", "store", "peers", "srvkey", "write-to"):
                if value is None:
                    raise ValueError(f"'{word}' expects an argument")
                i += 2
            else:
                i += 1
            if word == "type":
                if value in KEY_TYPES_NOT_YET:
                    report.not_yet(src, f"stick-table type {value}")
                    return
                if value not in KEY_TYPES:
                    raise ValueError(
                        f"unknown table type '{value}' (expected ip, ipv6, integer, string "
                        "or binary)"
                    )
                key_type = value
                if value == "string" and i < len(args) and args[i] == "len":
                    if i + 1 >= len(args):
                        raise ValueError("'len' expects a length")
                    length = int(args[i + 1]) if args[i + 1].isdigit() else -1
                    if not 1 <= length <= MAX_STRING_LEN:
                        raise ValueError(
                            f"invalid key length '{args[i + 1]}' (1..{MAX_STRING_LEN})"
                        )
                    i += 2
            elif word == "size":
                assert value is not None
                size = parse_size(value)
                if size <= 0:
                    raise ValueError(f"invalid size '{value}'")
            elif word == "expire":
                assert value is not None
                expire = parse_time(value)
            elif word == "nopurge":
                nopurge = True
            elif word == "store":
                assert value is not None
                for item in _split_store(value):
                    parsed = _store_item(item)
                    if isinstance(parsed, str):
                        report.not_yet(src, f"stick-table store {parsed}")
                        return
                    if any(s.name == parsed.name for s in store):
                        raise ValueError(f"'{parsed.name}' is stored twice")
                    store.append(parsed)
            elif word in ("peers", "srvkey", "write-to"):
                report.not_yet(src, f"stick-table {word}")
                return
            else:
                raise ValueError(f"unknown argument '{word}'")
    except ValueError as exc:
        report.alert(src, f"stick-table: {exc}")
        return
    if key_type is None:
        report.alert(src, "stick-table: missing 'type'")
        return
    if size is None:
        report.alert(src, "stick-table: missing 'size'")
        return
    draft.proxy.stick_table = StickTable(
        type=key_type,  # type: ignore[arg-type]
        size=size,
        source=src,
        length=length,
        expire=expire,
        nopurge=nopurge,
        store=store,
    )


def _split_store(value: str) -> list[str]:
    """``a,b(10s),c``: commas inside parentheses do not split."""
    out: list[str] = []
    depth = 0
    cur = ""
    for ch in value:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [x for x in out if x]


def _store_item(item: str) -> StickStore | str:
    """A StickStore, or the name when it is valid HAProxy that lb does not store yet."""
    m = _STORE_ITEM.fullmatch(item)
    if m is None or m.group(1) not in DATA_ORDER:
        raise ValueError(f"unknown store option '{item}'")
    name, arg = m.group(1), m.group(2)
    if name not in SUPPORTED_DATA:
        return name
    if name in RATES:
        if not arg:
            raise ValueError(f"missing period for data type '{name}'")
        period = parse_time(arg)
        if period <= 0:
            raise ValueError(f"invalid period '{arg}' for data type '{name}'")
        return StickStore(name, period)
    if arg is not None:
        raise ValueError(f"data type '{name}' takes no argument")
    return StickStore(name)


def stick(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    if not args:
        parser.report.alert(src, "'stick' expects 'on', 'match', 'store-request' or ...")
        return
    kind = args[0]
    if kind == "store-response":
        parser.report.not_yet(src, "stick store-response")
        return
    if kind not in ("on", "match", "store-request"):
        parser.report.alert(
            src,
            f"unknown 'stick' rule '{kind}' (expected on, match, store-request or store-response)",
        )
        return
    if len(args) < 2 or args[1] in ("if", "unless", "table"):
        parser.report.alert(src, f"'stick {kind}' expects a pattern")
        return
    draft.proxy.stick_rules.append(StickRule(kind=kind, words=args[1:], source=src))  # type: ignore[arg-type]


def tcp_request(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    report = parser.report
    if not args:
        report.alert(src, "'tcp-request' expects 'connection', 'session', 'content' or ...")
        return
    where = args[0]
    if where == "inspect-delay":
        _inspect_delay(parser, draft, args[1:], src)
        return
    if where == "content":
        _content(parser, draft, args[1:], src)
        return
    if where == "session":
        report.not_yet(src, f"tcp-request {where}")
        return
    if where != "connection":
        report.alert(src, f"unknown 'tcp-request' keyword '{where}'")
        return
    if draft.section == "defaults":
        if draft.proxy.name:
            report.not_yet(src, "tcp-request connection", "rules in a defaults section")
        else:
            report.alert(
                src, "'tcp-request connection' is not allowed in an anonymous 'defaults' section"
            )
        return
    if draft.section == "backend":
        report.alert(src, "'tcp-request connection' is not allowed in a 'backend' section")
        return
    if _known_action(report, src, "connection", args[1:], TCP_CONNECTION_NOT_YET):
        draft.proxy.tcp_request_connection.append(RuleLine(words=args[1:], source=src))


def _known_action(
    report: Reporter, src: Source, kind: str, words: list[str], not_yet: frozenset[str]
) -> bool:
    """Whether ``tcp-request KIND`` starts with an action lb runs (else reported)."""
    if not words:
        report.alert(src, f"'tcp-request {kind}' expects an action")
        return False
    action = words[0].split("(", 1)[0]
    if action in not_yet:
        report.not_yet(src, f"tcp-request {kind} {action}")
        return False
    if action not in TCP_CONNECTION_SUPPORTED:
        report.alert(src, f"unknown 'tcp-request {kind}' action '{words[0]}'")
        return False
    return True


def _inspect_delay(parser: HaproxyParser, draft: ProxyDraft, args: list[str], src: Source) -> None:
    if draft.section == "backend":  # it only times backend content rules, not supported yet
        parser.report.not_yet(src, "tcp-request inspect-delay", "in a 'backend' section")
        return
    if len(args) != 1:
        parser.report.alert(src, "'tcp-request inspect-delay' expects a timeout value")
        return
    try:
        draft.proxy.tcp_inspect_delay = parse_time(args[0])
    except ValueError as exc:
        parser.report.alert(src, f"'tcp-request inspect-delay': {exc}")


def _content(parser: HaproxyParser, draft: ProxyDraft, args: list[str], src: Source) -> None:
    report = parser.report
    if draft.section in ("defaults", "backend"):
        report.not_yet(src, "tcp-request content", f"rules in a '{draft.section}' section")
        return
    if _known_action(report, src, "content", args, TCP_CONTENT_NOT_YET):
        draft.proxy.tcp_request_content.append(RuleLine(words=args, source=src))


HANDLERS = {"stick-table": stick_table, "stick": stick, "tcp-request": tcp_request}
