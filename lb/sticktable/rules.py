"""``tcp-request connection`` rules and ``stick`` rules, compiled once per configuration,
and the configuration check that reports their mistakes at file:line (``lb -c``).

- ``ConnectionRules.run(txn, rt)``: at accept, before any byte is read; False = reject.
  ``accept`` and ``reject`` end the list; ``track-scN`` and ``sc-*`` actions go on.
- ``ContentRules.run(txn, rt, start)``: tcp-request content, mode tcp, on the client's
  first bytes (peeked by lb.worker.inspect): ACCEPT, REJECT, or WAIT for more bytes.
- ``StickRules``: ``match`` the stored server of the first rule whose key is in its table
  (``stick on`` / ``stick match``); ``store`` the chosen server's id under every storing
  rule's key (``stick on`` / ``stick store-request``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lb.acl import compile_condition_of
from lb.acl.condition import split_condition
from lb.acl.context import Ctx, Shared, read_file
from lb.acl.errors import Diagnostics, NotYet, RuleError, Strict
from lb.acl.outcome import Action
from lb.acl.payload import PAYLOAD_FETCHES, ContentTxn
from lb.acl.runtime import Runtime
from lb.acl.sample import compile_text
from lb.acl.txn import HttpTxn
from lb.acl.values import Value
from lb.config.model import Config, Proxy, RuleLine, Source, StickRule, StickStore
from lb.config.model import StickTable as StickTableSpec
from lb.sticktable.actions import STICK_ACTIONS
from lb.sticktable.fetches import own_table, table_named
from lb.sticktable.keys import Key
from lb.sticktable.table import StickTable, now_ms

Test = Callable[[HttpTxn, Runtime], bool]
KeySample = Callable[[HttpTxn, Runtime], Value | None]

ACCEPT, REJECT, ACT, WAIT = 0, 1, 2, 3


class ConnectionRules:
    __slots__ = ("rules",)

    def __init__(self, rules: list[tuple[Test | None, int, Action | None]]) -> None:
        self.rules = tuple(rules)

    def run(self, txn: HttpTxn, rt: Runtime) -> bool:
        for cond, kind, action in self.rules:
            if cond is None or cond(txn, rt):
                if kind == ACT:
                    action(txn, rt)  # type: ignore[misc]
                else:
                    return kind == ACCEPT
        return True


class ContentRules:
    """``tcp-request content`` rules of a mode tcp frontend, on the peeked first bytes.

    ``run`` goes on from rule ``start`` (a rule that waited is evaluated again, the ones
    before it are not: their actions ran once) and says ACCEPT, REJECT, or WAIT with
    the rule to start from once more bytes came (lb.acl.payload: ``need_more``)."""

    __slots__ = ("delay", "rules")

    def __init__(self, rules: list[tuple[Test | None, int, Action | None]], delay: float) -> None:
        self.rules = tuple(rules)
        self.delay = delay  # s: tcp-request inspect-delay (0: at once, on what is there)

    def run(self, txn: ContentTxn, rt: Runtime, start: int = 0) -> tuple[int, int]:
        rules = self.rules
        for i in range(start, len(rules)):
            cond, kind, action = rules[i]
            txn.need_more = False
            hit = cond is None or cond(txn, rt)
            if txn.need_more:  # (only set while more bytes may come)
                return WAIT, i
            if hit:
                if kind == ACT:
                    action(txn, rt)  # type: ignore[misc]
                else:
                    return kind, i
        return ACCEPT, len(rules)


class StickRules:
    __slots__ = ("matchers", "storers")

    def __init__(
        self,
        matchers: list[tuple[Test | None, KeySample, str]],
        storers: list[tuple[Test | None, KeySample, str]],
    ) -> None:
        self.matchers = tuple(matchers)
        self.storers = tuple(storers)

    def match(self, txn: HttpTxn, rt: Runtime) -> int | None:
        """The server id stored for this request's key, if any rule finds one."""
        now = now_ms()
        for table, key in _keys(self.matchers, txn, rt):
            base = table.find(key[0], now)
            if base >= 0:
                sid = table.load(base, "server_id", now)
                if sid:
                    table.touch(base, now)
                    return sid
        return None

    def store(self, txn: HttpTxn, rt: Runtime, server_id: int) -> None:
        now = now_ms()
        for table, key in _keys(self.storers, txn, rt):
            base = table.get(key, now)
            if base >= 0:
                table.store(base, "server_id", server_id)


def _keys(
    rules: tuple[tuple[Test | None, KeySample, str], ...], txn: HttpTxn, rt: Runtime
) -> Iterator[tuple[StickTable, Key]]:
    """(table, key) of each rule whose condition holds and whose sample makes a key."""
    for cond, key_sample, name in rules:
        if cond is not None and not cond(txn, rt):
            continue
        v = key_sample(txn, rt)
        if v is None:
            continue
        table = rt.stick_tables[name]
        key = table.key_of(v)
        if key is not None:
            yield table, key


# --------------------------------------------------------------------------- compiling


class _Builder:
    def __init__(self, proxy: Proxy, config: Config, report: Diagnostics) -> None:
        self.proxy = proxy
        self.config = config
        self.report = report
        self.shared = Shared(config, read_file, report)

    def guard(self, source: Source, build: Callable[[], object]) -> object | None:
        try:
            return build()
        except NotYet as e:
            self.report.not_yet(source, e.thing, e.hint)
        except RuleError as e:
            self.report.alert(source, str(e))
        return None

    def condition(self, words: list[str], source: Source) -> Test | None:
        if not words:
            return None
        return compile_condition_of(self.proxy, self.config, words, source, report=self.report)

    def connection_rule(
        self, line: RuleLine, keyword: str = "tcp-request connection"
    ) -> tuple[Test | None, int, Action | None]:
        args, cond_words = split_condition(line.words, keyword)
        word, rest = args[0], args[1:]
        name = word.split("(", 1)[0]
        if name in ("accept", "reject"):
            if rest:
                raise RuleError(f"'{keyword} {name}' takes no argument")
            kind, action = (ACCEPT if name == "accept" else REJECT), None
        else:
            ctx = Ctx(self.shared, self.proxy, "req", line.source)
            kind, action = ACT, STICK_ACTIONS[name](word, rest, ctx, "tcp")
        return self.condition(cond_words, line.source), kind, action

    def stick_rule(self, rule: StickRule) -> tuple[Test | None, KeySample, str]:
        args, cond_words = split_condition(rule.words, "stick")
        ctx = Ctx(self.shared, self.proxy, "req", rule.source)
        what = f"stick {rule.kind}"
        if len(args) == 3 and args[1] == "table":
            name = table_named(args[2], ctx)
        elif len(args) == 1:
            name = own_table(ctx, what)
        else:
            raise RuleError(f"'{what}' expects a pattern, then optionally 'table NAME'")
        key = compile_text(args[0], ctx).one
        return self.condition(cond_words, rule.source), key, name


def compile_connection_rules(
    proxy: Proxy, config: Config, report: Diagnostics | None = None
) -> ConnectionRules | None:
    if not proxy.tcp_request_connection:
        return None
    b = _Builder(proxy, config, report or Strict())
    rules = [b.guard(line.source, lambda line=line: b.connection_rule(line))  # type: ignore[misc]
             for line in proxy.tcp_request_connection]  # fmt: skip
    return ConnectionRules([r for r in rules if r is not None])  # type: ignore[misc]


def compile_content_rules(
    proxy: Proxy, config: Config, report: Diagnostics | None = None
) -> ContentRules | None:
    """A mode tcp frontend's tcp-request content rules (mode http: not supported yet)."""
    if not proxy.tcp_request_content or proxy.mode != "tcp":
        return None
    b = _Builder(proxy, config, report or Strict())
    rules = [b.guard(line.source, lambda line=line: b.connection_rule(line, "tcp-request content"))  # type: ignore[misc]
             for line in proxy.tcp_request_content]  # fmt: skip
    delay = (proxy.tcp_inspect_delay or 0) / 1000.0
    return ContentRules([r for r in rules if r is not None], delay)  # type: ignore[misc]


def _check_content(proxy: Proxy, report: Diagnostics) -> None:
    """What HAProxy says of a proxy's content rules; mode http ones are not supported yet."""
    lines = proxy.tcp_request_content
    if not lines:
        return
    if proxy.mode == "http":
        report.not_yet(lines[0].source, "tcp-request content", "rules in a mode http proxy")
        return
    if any(b.ssl for b in proxy.binds):  # the rules would have to read the decrypted bytes
        report.not_yet(lines[0].source, "tcp-request content", "rules on a 'bind … ssl' frontend")
        return
    if proxy.tcp_inspect_delay:
        return
    for line in lines:
        if line.words[0].startswith("track-sc") and len(line.words) > 1:
            key = line.words[1].split(",", 1)[0].split("(", 1)[0]
            if key in PAYLOAD_FETCHES:
                report.warning(
                    line.source,
                    f"{proxy.kind} '{proxy.name}' : a 'tcp-request content track-sc*' rule "
                    "explicitly depending on request contents without any 'tcp-request "
                    "inspect-delay' setting. This means that this rule will randomly find "
                    "its contents. This can be fixed by setting the tcp-request inspect-delay.",
                )
                return


def compile_stick_rules(
    proxy: Proxy, config: Config, report: Diagnostics | None = None
) -> StickRules | None:
    if not proxy.stick_rules or not proxy.has_backend:
        return None
    b = _Builder(proxy, config, report or Strict())
    matchers, storers = [], []
    for rule in proxy.stick_rules:
        built = b.guard(rule.source, lambda rule=rule: b.stick_rule(rule))  # type: ignore[misc]
        if built is None:
            continue
        if rule.kind in ("on", "match"):
            matchers.append(built)
        if rule.kind in ("on", "store-request"):
            storers.append(built)
    return StickRules(matchers, storers)  # type: ignore[arg-type]


def check_sticktables(config: Config, report: Diagnostics) -> None:
    """For the loader: tables that stick rules use store server_id (as HAProxy adds it);
    every tcp-request connection and stick rule compiles, or is reported at its line."""
    tables: dict[str, StickTableSpec] = {}
    for p in config.proxies:
        if p.stick_table is None:
            continue
        other = tables.get(p.name)
        if other is not None:  # a frontend and a backend may share a name; tables may not
            report.alert(
                p.stick_table.source,
                f"stick-table name '{p.name}' conflicts with the table declared at {other.source}",
            )
            continue
        tables[p.name] = p.stick_table
    for proxy in config.proxies:
        for rule in proxy.stick_rules:
            args, _cond = split_condition(rule.words, "stick")
            name = args[2] if len(args) == 3 and args[1] == "table" else proxy.name
            table = tables.get(name)
            if table is not None and all(s.name != "server_id" for s in table.store):
                table.store.append(StickStore("server_id"))
    for proxy in config.proxies:
        if proxy.disabled:
            continue
        compile_connection_rules(proxy, config, report)
        _check_content(proxy, report)
        compile_content_rules(proxy, config, report)
        compile_stick_rules(proxy, config, report)
