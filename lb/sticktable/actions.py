"""The stick-table actions of ``http-request`` and ``tcp-request connection`` rules:
``track-sc0/1/2 KEY [table T]``, ``sc-inc-gpc0(N)``, ``sc-inc-gpc1(N)``,
``sc-set-gpt0(N) VALUE``.

``level`` says which rule list runs them: "http" (per request: the tracking ends with
the request, and counts it) or "tcp" (per connection: it ends with the connection, and
counts a session). What is counted when is in lb.sticktable.track.
"""

from __future__ import annotations

from collections.abc import Callable

from lb.acl.context import Ctx
from lb.acl.errors import RuleError
from lb.acl.outcome import Action, Outcome
from lb.acl.runtime import Runtime
from lb.acl.sample import compile_text
from lb.acl.txn import HttpTxn
from lb.acl.values import to_int
from lb.sticktable.fetches import own_table, table_named, table_type
from lb.sticktable.keys import src_text_key
from lb.sticktable.table import now_ms
from lb.sticktable.track import Tracking

StickBuilder = Callable[[str, list[str], Ctx, str], Action]


def _track(n: int) -> StickBuilder:
    def build(word: str, args: list[str], ctx: Ctx, level: str) -> Action:
        what = f"track-sc{n}"
        if not args:
            raise RuleError(f"'{what}' expects a sample expression (the key)")
        key_text, rest = args[0], args[1:]
        if rest:
            if rest[0] != "table" or len(rest) != 2:
                raise RuleError(f"'{what}': expects 'table NAME' after the key, got '{rest[0]}'")
            name = table_named(rest[1], ctx)
        else:
            name = own_table(ctx, what)
        key_sample = compile_text(key_text, ctx).one
        fast = src_text_key(table_type(name, ctx)) if key_text == "src" else None
        per_request = level == "http"

        def run(t: HttpTxn, r: Runtime) -> Outcome:
            sc = t.sc
            if sc is None:
                sc = t.sc = Tracking()
            elif sc.entries[n] is not None:
                return None  # the first track-scN wins, as in HAProxy
            table = r.stick_tables[name]
            if fast is not None:  # track-sc0 src on an ip table: no ipaddress object
                key = fast(t.src)
            else:
                v = key_sample(t, r)
                key = None if v is None else table.key_of(v)
            if key is None:
                return None
            now = now_ms()
            base = table.get(key, now)
            if base < 0:
                return None  # full (nopurge): not tracked
            table.connection(base, now)
            if per_request:
                table.request(base, now)
            else:
                table.session(base, now)
            sc.track(n, table, base, key[0])
            return None

        return run

    return build


def _sc_index(word: str, name: str) -> int:
    if word == name:
        return 0
    if not (word.startswith(name + "(") and word.endswith(")")):
        raise RuleError(f"'{name}' expects a sticky counter number in parentheses")
    inner = word[len(name) + 1 : -1]
    if inner not in ("0", "1", "2"):
        raise RuleError(f"'{name}': invalid sticky counter '{inner}' (0, 1 or 2)")
    return int(inner)


def _inc(datum: str) -> StickBuilder:
    def build(word: str, args: list[str], ctx: Ctx, level: str) -> Action:
        name = f"sc-inc-{datum}"
        n = _sc_index(word, name)
        if args:
            raise RuleError(f"'{name}' takes no argument, got '{args[0]}'")
        rate = datum + "_rate"

        def run(t: HttpTxn, r: Runtime) -> Outcome:
            sc = t.sc
            e = sc.entries[n] if sc is not None else None
            if e is not None:
                now = now_ms()
                e.table.add(e.base, rate, 1, now)
                e.table.add(e.base, datum, 1, now)
            return None

        return run

    return build


def _set_gpt0(word: str, args: list[str], ctx: Ctx, level: str) -> Action:
    n = _sc_index(word, "sc-set-gpt0")
    if len(args) != 1:
        raise RuleError("'sc-set-gpt0' expects one value (an integer or a sample expression)")
    try:
        constant: int | None = int(args[0])
    except ValueError:
        constant = None
    value = None if constant is not None else compile_text(args[0], ctx).one

    def run(t: HttpTxn, r: Runtime) -> Outcome:
        sc = t.sc
        e = sc.entries[n] if sc is not None else None
        if e is None:
            return None
        if constant is not None:
            v: int | None = constant
        else:
            assert value is not None
            got = value(t, r)
            v = None if got is None else to_int(got)
        if v is not None:
            e.table.store(e.base, "gpt0", v)
        return None

    return run


STICK_ACTIONS: dict[str, StickBuilder] = {
    "track-sc0": _track(0),
    "track-sc1": _track(1),
    "track-sc2": _track(2),
    "sc-inc-gpc0": _inc("gpc0"),
    "sc-inc-gpc1": _inc("gpc1"),
    "sc-set-gpt0": _set_gpt0,
}
