"""``show stat`` in its three forms, and the page's ``;csv`` and ``;json``: CSV, typed, JSON.

Pure functions of the proxies a view selected (lb.stats.view.select).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from lb.stats.fields import KIND_LETTER, KIND_NAME, NAMES, TYPED, values
from lb.stats.snapshot import ProxyRows, Row

CSV_HEADER = "# " + ",".join(NAMES) + ",\n"

_TAG_WORDS = {
    "origin": {
        "K": "Key",
        "C": "Config",
        "M": "Metric",
        "S": "Status",
        "E": "Error",
        "P": "Product",
    },
    "nature": {
        "N": "Name",
        "G": "Gauge",
        "M": "Max",
        "L": "Limit",
        "C": "Counter",
        "R": "Rate",
        "A": "Age",
        "a": "Avg",
        "D": "Duration",
        "O": "Output",
        "T": "Time",
    },
    "scope": {"P": "Process", "S": "Service", "C": "Cluster", "s": "System"},
}


def _rows(proxies: Iterable[ProxyRows]) -> Iterable[Row]:
    for proxy in proxies:
        yield from proxy.rows()


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def render_csv(proxies: Iterable[ProxyRows], header: bool = True) -> str:
    out = [CSV_HEADER] if header else []
    for row in _rows(proxies):
        out.append(",".join(_csv_cell(v) for v in values(row)) + ",\n")
    return "".join(out)


def _typed_text(value: object) -> str:
    return str(value).replace("\n", " ")


def render_typed(proxies: Iterable[ProxyRows]) -> str:
    """HAProxy's ``show stat typed``: ``F.iid.sid.pos.name.1:TAGS:type:value`` per field."""
    out: list[str] = []
    for row in _rows(proxies):
        letter = KIND_LETTER[row.kind]
        prefix = f"{letter}.{row.iid}.{row.sid}."
        for pos, value in enumerate(values(row)):
            if value is None:
                continue
            tags, typ = TYPED[(letter, pos)]
            out.append(f"{prefix}{pos}.{NAMES[pos]}.1:{tags}:{typ}:{_typed_text(value)}\n")
    return "".join(out)


def typed_fields(row: Row) -> list[dict[str, object]]:
    """One row as HAProxy's JSON objects (one per field)."""
    letter = KIND_LETTER[row.kind]
    kind = KIND_NAME[row.kind]
    out: list[dict[str, object]] = []
    for pos, value in enumerate(values(row)):
        if value is None:
            continue
        tags, typ = TYPED[(letter, pos)]
        out.append(
            {
                "objType": kind,
                "proxyId": row.iid,
                "id": row.sid,
                "field": {"pos": pos, "name": NAMES[pos]},
                "processNum": 1,
                "tags": {
                    "origin": _TAG_WORDS["origin"][tags[0]],
                    "nature": _TAG_WORDS["nature"][tags[1]],
                    "scope": _TAG_WORDS["scope"][tags[2]],
                },
                "value": {"type": typ, "value": value},
            }
        )
    return out


def render_json(proxies: Iterable[ProxyRows]) -> str:
    """HAProxy's ``show stat json``: a list with one list of field objects per row."""
    return json.dumps([typed_fields(r) for r in _rows(proxies)], separators=(",", ":")) + "\n"
