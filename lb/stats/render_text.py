"""``show stat`` in its three forms, and the page's ``;csv`` and ``;json``: CSV, typed, JSON.

Pure functions of the proxies a view selected (lb.stats.view.select).
"""

from __future__ import annotations

import json
import re
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


_NEEDS_QUOTES = re.compile('[,"\n\r]').search


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if _NEEDS_QUOTES(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def render_csv(proxies: Iterable[ProxyRows], header: bool = True) -> str:
    out = [CSV_HEADER] if header else []
    for row in _rows(proxies):
        # a hundred cells a row, most of them numbers or empty: only text can need quotes
        cells = [
            "" if v is None else str(v) if type(v) is int else _csv_cell(v) for v in values(row)
        ]
        out.append(",".join(cells) + ",\n")
    return "".join(out)


def _typed_text(value: object) -> str:
    return str(value).replace("\n", " ")


# "pos.name.1:tags:type:" per (kind letter, position): a typed line is then prefix, this, value
_TYPED_MIDDLE = {
    key: f"{key[1]}.{NAMES[key[1]]}.1:{tags}:{typ}:" for key, (tags, typ) in TYPED.items()
}


def render_typed(proxies: Iterable[ProxyRows]) -> str:
    """HAProxy's ``show stat typed``: ``F.iid.sid.pos.name.1:TAGS:type:value`` per field."""
    out: list[str] = []
    for row in _rows(proxies):
        letter = KIND_LETTER[row.kind]
        prefix = f"{letter}.{row.iid}.{row.sid}."
        out += [
            f"{prefix}{_TYPED_MIDDLE[(letter, pos)]}"
            f"{value if type(value) is int else _typed_text(value)}\n"
            for pos, value in enumerate(values(row))
            if value is not None
        ]
    return "".join(out)


def _json_parts() -> dict[tuple[str, int], tuple[dict[str, object], dict[str, str], str]]:
    """Per (kind letter, position): the field and tags objects, shared by every row (json.dumps
    writes a shared dict as many times as it appears), and the value type."""
    out: dict[tuple[str, int], tuple[dict[str, object], dict[str, str], str]] = {}
    for (letter, pos), (tags, typ) in TYPED.items():
        words = {
            "origin": _TAG_WORDS["origin"][tags[0]],
            "nature": _TAG_WORDS["nature"][tags[1]],
            "scope": _TAG_WORDS["scope"][tags[2]],
        }
        out[(letter, pos)] = ({"pos": pos, "name": NAMES[pos]}, words, typ)
    return out


_JSON_PARTS = _json_parts()


def typed_fields(row: Row) -> list[dict[str, object]]:
    """One row as HAProxy's JSON objects (one per field)."""
    letter = KIND_LETTER[row.kind]
    kind = KIND_NAME[row.kind]
    iid, sid = row.iid, row.sid
    out: list[dict[str, object]] = []
    for pos, value in enumerate(values(row)):
        if value is None:
            continue
        field, tags, typ = _JSON_PARTS[(letter, pos)]
        out.append(
            {
                "objType": kind,
                "proxyId": iid,
                "id": sid,
                "field": field,
                "processNum": 1,
                "tags": tags,
                "value": {"type": typ, "value": value},
            }
        )
    return out


def render_json(proxies: Iterable[ProxyRows]) -> str:
    """HAProxy's ``show stat json``: a list with one list of field objects per row."""
    return json.dumps([typed_fields(r) for r in _rows(proxies)], separators=(",", ":")) + "\n"
