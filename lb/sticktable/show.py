"""The runtime API's ``show table``, ``clear table`` and ``set table``, in HAProxy's format.

    show table                       every table's header line
    show table NAME [key K | data.X OP V]
    clear table NAME [key K | data.X OP V]     (OP: eq ne lt le gt ge)
    set table NAME key K data.X V [data.Y W …]

An entry line: ``0x…: key=K use=N exp=MS data=value…``, data in HAProxy's order, rates
with their period in ms: ``http_req_rate(10000)=3``. The ``0x…`` is the entry's offset
in the shared table (HAProxy prints a pointer there).
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from lb.sticktable.keys import parse_key
from lb.sticktable.layout import E_TOUCH, E_USE
from lb.sticktable.table import StickTable, now_ms

_OPS: dict[str, Callable[[int, int], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}

Filter = Callable[[StickTable, int, int, int], bool]  # table, base, fp, now


def header(table: StickTable) -> str:
    lay = table.layout
    return f"# table: {table.name}, type: {lay.key_type}, size:{lay.size}, used:{table.used}\n"


def entry_line(table: StickTable, base: int, now: int) -> str:
    lay = table.layout
    v = table.view
    exp = max(0, v[base + E_TOUCH] + lay.expire - now) if lay.expire else 0
    parts = [f"0x{base * 8:x}: key={table.show_key(base)} use={v[base + E_USE]} exp={exp}"]
    for name in lay.offsets:
        value = table.load(base, name, now)
        period = lay.periods.get(name)
        parts.append(f"{name}({period})={value}" if period else f"{name}={value}")
    return " ".join(parts) + "\n"


def _filter(table: StickTable, words: list[str]) -> Filter | str:
    """The entries a ``key K`` or ``data.X OP V`` selection keeps, or an error message."""
    if not words:
        return lambda t, b, f, n: True
    if words[0] == "key" and len(words) == 2:
        key = parse_key(table.layout.key_type, table.layout.key_len, words[1])
        if key is None:
            return "Unable to parse the key.\n"
        fp = key[0]
        return lambda t, b, f, n: f == fp
    if words[0].startswith("data.") and len(words) == 3:
        name, op_name, text = words[0][5:], words[1], words[2]
        if name not in table.layout.offsets:
            return "Data type not stored in this table\n"
        op = _OPS.get(op_name)
        if op is None:
            return "Require a valid operator among 'eq', 'ne', 'le', 'ge', 'lt', 'gt'\n"
        try:
            value = int(text)
        except ValueError:
            return "Require a valid integer value to compare against\n"

        def keep(t: StickTable, b: int, f: int, n: int) -> bool:
            got = t.load(b, name, n)
            return got is not None and op(got, value)

        return keep
    return (
        'Optional argument only supports "data.<store_data_type>" <operator> <value> or key <key>\n'
    )


def show_table(tables: dict[str, StickTable], args: list[str]) -> str:
    if not args:
        return "".join(header(t) for t in reversed(tables.values())) + "\n"
    table = tables.get(args[0])
    if table is None:
        return "No such table\n\n"
    keep = _filter(table, args[1:])
    if isinstance(keep, str):
        return keep + "\n"
    now = now_ms()
    out = [header(table)]
    for base, fp in table.live():
        if keep(table, base, fp, now):
            out.append(entry_line(table, base, now))
    return "".join(out) + "\n"


def set_table(tables: dict[str, StickTable], args: list[str]) -> str:
    """``set table NAME key K data.X V [data.Y W …]``: counters take V, rates restart at V
    events in the current period (HAProxy's meaning); the entry is created if needed."""
    if not args:
        return "Missing table name.\n\n"
    table = tables.get(args[0])
    if table is None:
        return "No such table\n\n"
    if len(args) < 3 or args[1] != "key":
        return "Require key\n\n"
    key = parse_key(table.layout.key_type, table.layout.key_len, args[2])
    if key is None:
        return "Unable to parse the key.\n\n"
    rest = args[3:]
    if not rest or len(rest) % 2:
        return "Require 'data.<type> <value>'\n\n"
    updates: list[tuple[str, int]] = []
    for name, text in zip(rest[::2], rest[1::2], strict=True):
        if not name.startswith("data.") or name[5:] not in table.layout.offsets:
            return "Data type not stored in this table\n\n"
        try:
            updates.append((name[5:], int(text)))
        except ValueError:
            return "Require a valid integer value to store\n\n"
    now = now_ms()
    base = table.get(key, now)
    if base < 0:
        return "Unable to allocate a new entry\n\n"
    for name, value in updates:
        if name in table.layout.periods:
            table.clear_rate(base, name)
            if value > 0:
                table.add(base, name, value, now)
        else:
            table.store(base, name, value)
    return "\n"


def clear_table(tables: dict[str, StickTable], args: list[str]) -> str:
    if not args:
        return "Missing table name.\n\n"
    table = tables.get(args[0])
    if table is None:
        return "No such table\n\n"
    keep = _filter(table, args[1:])
    if isinstance(keep, str):
        return keep + "\n"
    now = now_ms()
    for base, fp in table.live():
        if keep(table, base, fp, now):
            table.delete(base, fp)
    return "\n"


TABLE_COMMANDS: dict[str, Callable[[dict[str, StickTable], list[str]], str]] = {
    "show": show_table,
    "clear": clear_table,
    "set": set_table,
}
