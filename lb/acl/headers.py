"""Reading header values the way HAProxy's header fetches do.

``hdr`` sees each comma-separated element of a header as one value (commas inside
double quotes do not split, blanks around an element go); ``fhdr`` sees whole lines.
Occurrence numbers count from 1 at the first value, from -1 at the last.
"""

from __future__ import annotations

from collections.abc import Callable

HeaderList = list[tuple[bytes, bytes]]
Side = Callable[..., tuple[HeaderList, list[bytes]]]

_BLANKS = b" \t"


def split_values(value: bytes) -> list[bytes]:
    if b'"' not in value:
        if b"," not in value:
            return [value.strip(_BLANKS)]
        return [v.strip(_BLANKS) for v in value.split(b",")]
    return [value[a:b].strip(_BLANKS) for a, b in value_spans(value)]


def value_spans(value: bytes) -> list[tuple[int, int]]:
    """(start, end) of each comma-separated element, quotes respected, blanks included."""
    spans: list[tuple[int, int]] = []
    start = 0
    quoted = False
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if quoted:
            if c == 0x5C:  # backslash escapes the next byte inside quotes
                i += 1
            elif c == 0x22:
                quoted = False
        elif c == 0x22:
            quoted = True
        elif c == 0x2C:
            spans.append((start, i))
            start = i + 1
        i += 1
    spans.append((start, n))
    return spans


def lines_of(headers: HeaderList, names: list[bytes], name: bytes | None) -> list[bytes]:
    """Every value of header ``name`` (lower case), or of every header when None."""
    if name is None:
        return [v for _, v in headers]
    return [headers[i][1] for i, n in enumerate(names) if n == name]


def values_of(headers: HeaderList, names: list[bytes], name: bytes | None) -> list[bytes]:
    out: list[bytes] = []
    for line in lines_of(headers, names, name):
        out.extend(split_values(line))
    return out


def pick(values: list[bytes], occ: int) -> bytes | None:
    """Occurrence ``occ`` (1 = first, -1 = last) or None."""
    if not values:
        return None
    if occ > 0:
        return values[occ - 1] if occ <= len(values) else None
    return values[occ] if -occ <= len(values) else None


def last_line(headers: HeaderList, names: list[bytes], name: bytes) -> bytes | None:
    for i in range(len(names) - 1, -1, -1):
        if names[i] == name:
            return headers[i][1]
    return None


def last_value(headers: HeaderList, names: list[bytes], name: bytes) -> bytes | None:
    line = last_line(headers, names, name)
    if line is None:
        return None
    if b"," not in line:
        return line.strip(_BLANKS)
    return split_values(line)[-1]


def first_line(headers: HeaderList, names: list[bytes], name: bytes) -> bytes | None:
    try:
        return headers[names.index(name)][1]
    except ValueError:
        return None
