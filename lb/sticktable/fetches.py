"""The ``sc*_`` and ``src_*`` sample fetches, and ``table_cnt`` / ``table_avl``.

- ``sc0_X([table])``, ``sc1_X``, ``sc2_X``, ``sc_X(N[,table])``: the entry tracked by
  sticky counter N (looked up in ``table`` instead when it is given); no sample when N
  tracks nothing (an ACL on it does not match);
- ``src_X([table])``: the client address's entry in ``table`` (default: the proxy's own),
  without tracking it; 0 when the address is not in the table. ``src_inc_gpc0`` and
  ``src_clr_gpc0`` create the entry, as HAProxy's do.

A datum the table does not store gives no sample (as in HAProxy); the configuration
check warns about it when the table is known. Registered in lb.acl.fetches.FETCHES as
(out type, scope, argument kinds, required arguments, builder) rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lb.acl.context import Ctx
from lb.acl.errors import RuleError
from lb.acl.runtime import Runtime
from lb.acl.txn import HttpTxn
from lb.acl.values import Value
from lb.sticktable.keys import src_text_key
from lb.sticktable.table import StickTable, now_ms

One = Callable[[HttpTxn, Runtime], Value | None]
Built = tuple[One, None]
Builder = Callable[[list[Any], Ctx], Built]
Row = tuple[str, str, tuple[str, ...], int, Builder]

# fetch suffix → (datum, what it does)
_READS = {
    "conn_cur": "conn_cur",
    "conn_cnt": "conn_cnt",
    "conn_rate": "conn_rate",
    "sess_cnt": "sess_cnt",
    "sess_rate": "sess_rate",
    "http_req_cnt": "http_req_cnt",
    "http_req_rate": "http_req_rate",
    "http_err_cnt": "http_err_cnt",
    "http_err_rate": "http_err_rate",
    "get_gpc0": "gpc0",
    "get_gpc1": "gpc1",
    "get_gpt0": "gpt0",
    "gpc0_rate": "gpc0_rate",
    "gpc1_rate": "gpc1_rate",
}
_INCS = {"inc_gpc0": "gpc0", "inc_gpc1": "gpc1"}
_CLRS = {"clr_gpc0": "gpc0", "clr_gpc1": "gpc1"}


def table_named(name: str, ctx: Ctx) -> str:
    for p in ctx.config.proxies:
        if p.name == name and p.stick_table is not None:
            return name
    raise RuleError(f"unable to find table '{name}'")


def table_type(name: str, ctx: Ctx) -> str:
    for p in ctx.config.proxies:
        if p.name == name and p.stick_table is not None:
            return p.stick_table.type
    raise RuleError(f"unable to find table '{name}'")


def own_table(ctx: Ctx, what: str) -> str:
    if ctx.proxy.stick_table is None:
        raise RuleError(
            f"'{what}': {ctx.proxy.kind} '{ctx.proxy.name}' has no stick-table; name one"
        )
    return ctx.proxy.name


def _check_stored(name: str, datum: str, ctx: Ctx, what: str) -> None:
    for p in ctx.config.proxies:
        if p.name == name and p.stick_table is not None:
            if all(s.name != datum for s in p.stick_table.store):
                ctx.warn(
                    f"'{what}': table '{name}' does not store '{datum}': the fetch never "
                    "returns a value"
                )
            return


# --------------------------------------------------------------------------- reading a datum


def _op(suffix: str) -> Callable[[StickTable, int, int], int | None]:
    """What the fetch does on an entry: read, increment (with its rate) or clear."""
    if suffix in _READS:
        datum = _READS[suffix]
        return lambda table, base, now: table.load(base, datum, now)
    if suffix in _INCS:
        datum = _INCS[suffix]
        rate = datum + "_rate"

        def inc(table: StickTable, base: int, now: int) -> int | None:
            table.add(base, rate, 1, now)
            return table.add(base, datum, 1, now)

        return inc
    datum = _CLRS[suffix]

    def clr(table: StickTable, base: int, now: int) -> int | None:
        old = table.load(base, datum, now)
        if old is not None:
            table.store(base, datum, 0)
        return old

    return clr


def _datum(suffix: str) -> str:
    return _READS.get(suffix) or _INCS.get(suffix) or _CLRS[suffix]


# --------------------------------------------------------------------------- sc*_ fetches


def _sc_builder(suffix: str, fixed: int | None) -> Builder:
    op = _op(suffix) if suffix not in ("tracked", "trackers") else None

    def build(args: list[Any], ctx: Ctx) -> Built:
        if fixed is None:
            n = args[0]
            rest = args[1:]
        else:
            n, rest = fixed, args
        what = f"sc{'' if fixed is None else fixed}_{suffix}"
        if not 0 <= n <= 2:
            raise RuleError(f"'{what}': sticky counter {n} out of range 0..2")
        other = table_named(rest[0], ctx) if rest else None
        if other is not None and op is not None:
            _check_stored(other, _datum(suffix), ctx, what)

        def entry(t: HttpTxn, r: Runtime) -> tuple[StickTable, int] | None:
            sc = t.sc
            e = sc.entries[n] if sc is not None else None
            if e is None:
                return None
            if other is None or other == e.table.name:
                return e.table, e.base
            table = r.stick_tables[other]
            base = table.find(e.fp, now_ms())
            return None if base < 0 else (table, base)

        if suffix == "tracked":

            def tracked(t: HttpTxn, r: Runtime) -> Value | None:
                return entry(t, r) is not None

            return tracked, None
        if suffix == "trackers":

            def trackers(t: HttpTxn, r: Runtime) -> Value | None:
                found = entry(t, r)
                return None if found is None else found[0].view[found[1] + 2]

            return trackers, None
        assert op is not None

        def one(t: HttpTxn, r: Runtime) -> Value | None:
            found = entry(t, r)
            return None if found is None else op(found[0], found[1], now_ms())

        return one, None

    return build


# --------------------------------------------------------------------------- src_* fetches


def _src_builder(suffix: str) -> Builder:
    op = _op(suffix)
    creates = suffix in _INCS or suffix in _CLRS

    def build(args: list[Any], ctx: Ctx) -> Built:
        what = f"src_{suffix}"
        name = table_named(args[0], ctx) if args else own_table(ctx, what)
        _check_stored(name, _datum(suffix), ctx, what)
        fast = src_text_key(table_type(name, ctx))

        def one(t: HttpTxn, r: Runtime) -> Value | None:
            table = r.stick_tables[name]
            if fast is not None:
                key = fast(t.src)
            else:
                ip = t.src_ip()
                key = table.key_of(ip) if ip is not None else None
            if key is None:
                return None
            now = now_ms()
            base = table.get(key, now) if creates else table.find(key[0], now)
            if base < 0:
                return 0
            return op(table, base, now)

        return one, None

    return build


def _table_cnt(args: list[Any], ctx: Ctx) -> Built:
    name = table_named(args[0], ctx) if args else own_table(ctx, "table_cnt")
    return (lambda t, r: r.stick_tables[name].used), None


def _table_avl(args: list[Any], ctx: Ctx) -> Built:
    name = table_named(args[0], ctx) if args else own_table(ctx, "table_avl")

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        table = r.stick_tables[name]
        return max(0, table.layout.size - table.used)

    return one, None


def fetch_rows() -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for suffix in (*_READS, *_INCS, *_CLRS, "tracked", "trackers"):
        out = "bool" if suffix == "tracked" else "int"
        for n in range(3):
            rows[f"sc{n}_{suffix}"] = (out, "any", ("str",), 0, _sc_builder(suffix, n))
        rows[f"sc_{suffix}"] = (out, "any", ("int", "str"), 1, _sc_builder(suffix, None))
        if suffix not in ("tracked", "trackers"):
            rows[f"src_{suffix}"] = ("int", "any", ("str",), 0, _src_builder(suffix))
    rows["table_cnt"] = ("int", "any", ("str",), 0, _table_cnt)
    rows["table_avl"] = ("int", "any", ("str",), 0, _table_avl)
    return rows


FETCH_ROWS = fetch_rows()
