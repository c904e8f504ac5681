"""Sample converters: ``,lower``, ``,map(file)``… applied after a fetch.

Each is built once from its arguments (regexes compiled, map files read and
indexed) into a function of one value that returns the new value or None.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

from lb.acl.context import Ctx
from lb.acl.errors import RuleError
from lb.acl.patterns import Pattern, build_matcher
from lb.acl.values import Value, parse_ip_pattern, to_int, to_ip

Conv = Callable[[Value], Value | None]


@dataclass(frozen=True, slots=True)
class ConvSpec:
    takes: str  # input sample type (the value is cast to it first)
    out: str
    args: tuple[str, ...]
    required: int
    build: Callable[[list[str], Ctx], Conv]


def _lower(args: list[str], ctx: Ctx) -> Conv:
    return lambda v: v.lower()  # type: ignore[union-attr]


def _upper(args: list[str], ctx: Ctx) -> Conv:
    return lambda v: v.upper()  # type: ignore[union-attr]


def _base64(args: list[str], ctx: Ctx) -> Conv:
    return lambda v: base64.b64encode(v)  # type: ignore[arg-type]


def _hex(args: list[str], ctx: Ctx) -> Conv:
    return lambda v: v.hex().upper().encode()  # type: ignore[union-attr]


def _length(args: list[str], ctx: Ctx) -> Conv:
    return lambda v: len(v)  # type: ignore[arg-type]


def _url_dec(args: list[str], ctx: Ctx) -> Conv:
    from urllib.parse import unquote_to_bytes

    plus = bool(args and to_int(args[0].encode()))

    def dec(v: Value) -> Value | None:
        b = v.replace(b"+", b" ") if plus else v  # type: ignore[union-attr]
        return unquote_to_bytes(b)

    return dec


def _index_args(name: str, args: list[str]) -> tuple[int, bytes, int]:
    try:
        index = int(args[0])
    except ValueError:
        raise RuleError(f"'{name}': index '{args[0]}' is not an integer") from None
    if index == 0:
        raise RuleError(f"'{name}': index must not be 0")
    delims = args[1].encode()
    if not delims:
        raise RuleError(f"'{name}': empty delimiter list")
    count = 1
    if len(args) > 2:
        try:
            count = int(args[2])
        except ValueError:
            raise RuleError(f"'{name}': count '{args[2]}' is not an integer") from None
        if count < 0:
            raise RuleError(f"'{name}': count must not be negative")
    return index, delims, count


def _splitter(delims: bytes) -> Callable[[bytes], list[bytes]]:
    if len(delims) == 1:
        return lambda v: v.split(delims)
    rx = re.compile(b"[" + re.escape(delims) + b"]")
    return rx.split


def _field(args: list[str], ctx: Ctx) -> Conv:
    """The index-th field (from 1, or from -1 at the end), ``count`` fields joined
    back with the delimiter found between them (0: up to the end)."""
    index, delims, count = _index_args("field", args)
    return _pieces(index, delims, count, skip_empty=False)


def _word(args: list[str], ctx: Ctx) -> Conv:
    """As field, counting only non-empty words."""
    index, delims, count = _index_args("word", args)
    return _pieces(index, delims, count, skip_empty=True)


def _pieces(index: int, delims: bytes, count: int, skip_empty: bool) -> Conv:
    set_ = frozenset(delims)

    def spans(v: bytes) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        start = 0
        for i, c in enumerate(v):
            if c in set_:
                out.append((start, i))
                start = i + 1
        out.append((start, len(v)))
        if skip_empty:
            out = [(a, b) for a, b in out if b > a]
        return out

    def conv(v: Value) -> Value | None:
        s = v  # type: bytes
        parts = spans(s)  # type: ignore[arg-type]
        n = len(parts)
        if index > 0:
            first = index - 1
            if first >= n:
                return b""
            last = n - 1 if count == 0 else min(n - 1, first + count - 1)
        else:
            last = n + index
            if last < 0:
                return b""
            first = 0 if count == 0 else max(0, last - count + 1)
        return s[parts[first][0] : parts[last][1]]  # type: ignore[index]

    return conv


def _regsub(args: list[str], ctx: Ctx) -> Conv:
    flags = args[2] if len(args) > 2 else ""
    bad = [f for f in flags if f not in "ig"]
    if bad:
        raise RuleError(f"'regsub': invalid regex flag '{bad[0]}', only 'i' and 'g' are supported")
    try:
        rx = re.compile(args[0].encode(), re.IGNORECASE if "i" in flags else 0)
    except re.error as e:
        raise RuleError(f"'regsub': regex '{args[0]}' is invalid ({e})") from None
    expand = substitution(args[1])
    count = 0 if "g" in flags else 1
    return lambda v: rx.sub(expand, v, count=count)  # type: ignore[arg-type]


def substitution(template: str | bytes) -> Callable[[re.Match[bytes]], bytes]:
    """A replacement where ``\\N`` (a digit) is group N and everything else is literal,
    as HAProxy's regsub and replace-* rules read it."""
    parts: list[bytes | int] = []
    raw = template.encode() if isinstance(template, str) else template
    i, lit = 0, bytearray()
    while i < len(raw):
        c = raw[i]
        if c == 0x5C and i + 1 < len(raw) and 0x30 <= raw[i + 1] <= 0x39:
            if lit:
                parts.append(bytes(lit))
                lit = bytearray()
            parts.append(raw[i + 1] - 0x30)
            i += 2
            continue
        lit.append(c)
        i += 1
    if lit:
        parts.append(bytes(lit))
    if all(isinstance(p, bytes) for p in parts):
        text = b"".join(parts)  # type: ignore[arg-type]
        return lambda m: text

    def expand(m: re.Match[bytes]) -> bytes:
        return b"".join(p if isinstance(p, bytes) else (m.group(p) or b"") for p in parts)

    return expand


# --------------------------------------------------------------------------- maps


_MAP_MATCH = ("str", "beg", "sub", "dir", "dom", "end", "reg", "int", "ip")
_MAP_OUT = ("str", "int", "ip")


def map_kind(name: str) -> tuple[str, str] | None:
    """``map``, ``map_<match>``, ``map_<match>_<out>`` → (match, out)."""
    if name == "map":
        return "str", "str"
    parts = name.split("_")
    if parts[0] != "map" or not 2 <= len(parts) <= 3 or parts[1] not in _MAP_MATCH:
        return None
    out = parts[2] if len(parts) == 3 else "str"
    return (parts[1], out) if out in _MAP_OUT else None


def map_lines(data: bytes) -> list[tuple[str, str]]:
    """Key and value of each line: comments and empty lines skipped, the value is the
    rest of the line with its surrounding blanks removed (it may be empty)."""
    out: list[tuple[str, str]] = []
    for raw in data.decode("utf-8", errors="surrogateescape").split("\n"):
        if raw.startswith("#"):
            continue
        line = raw.strip(" \t\r")
        if not line:
            continue
        parts = line.split(None, 1)
        out.append((parts[0], parts[1].strip() if len(parts) > 1 else ""))
    return out


def _out_value(text: str, out: str, path: str) -> Value:
    if out == "str":
        return text.encode()
    if out == "int":
        n = to_int(text.encode())
        if n is None:
            raise RuleError(f"map '{path}': '{text}' is not an integer")
        return n
    ip = to_ip(text.encode())
    if ip is None:
        raise RuleError(f"map '{path}': '{text}' is not an address")
    return ip


def build_map(match: str, out: str, path: str, default: str | None, ctx: Ctx) -> Conv:
    key = (path, match, out)
    cached = ctx.shared.maps.get(key)
    if cached is None:
        cached = ctx.shared.maps[key] = _index_map(match, out, path, ctx)
    lookup: Callable[[Value], Value | None] = cached  # type: ignore[assignment]
    if default is None:
        return lookup
    dflt = _out_value(default, out, path)

    def with_default(v: Value) -> Value | None:
        r = lookup(v)
        return dflt if r is None else r

    return with_default


def _index_map(match: str, out: str, path: str, ctx: Ctx) -> Conv:
    entries = [(k, _out_value(v, out, path)) for k, v in map_lines(ctx.read(path))]
    if match == "str":
        table: dict[bytes, Value] = {}
        for k, v in entries:
            table.setdefault(k.encode(), v)  # the first line of a key wins
        return table.get  # type: ignore[return-value]
    if match == "ip":
        # longest prefix first, as HAProxy's tree lookup gives
        nets = []
        for k, v in entries:
            version, net, mask = parse_ip_pattern(k)
            nets.append((bin(mask).count("1"), version, net, mask, v))
        nets.sort(key=lambda e: -e[0])

        def ip_lookup(value: Value) -> Value | None:
            n = int(value)  # type: ignore[arg-type]
            version = value.version  # type: ignore[union-attr]
            for _, ver, net, mask, v in nets:
                if ver == version and n & mask == net:
                    return v
            return None

        return ip_lookup
    # the other kinds try each line in file order
    matchers = [(build_matcher(match, [Pattern(k)], _TAKES[match]), v) for k, v in entries]

    def scan(value: Value) -> Value | None:
        for m, v in matchers:
            if m(value):
                return v
        return None

    return scan


_TAKES = {"int": "int", "ip": "ip"}
for _m in _MAP_MATCH:
    _TAKES.setdefault(_m, "str")


def _map(match: str, out: str) -> Callable[[list[str], Ctx], Conv]:
    def build(args: list[str], ctx: Ctx) -> Conv:
        return build_map(match, out, args[0], args[1] if len(args) > 1 else None, ctx)

    return build


CONVERTERS: dict[str, ConvSpec] = {
    "lower": ConvSpec("str", "str", (), 0, _lower),
    "upper": ConvSpec("str", "str", (), 0, _upper),
    "base64": ConvSpec("bin", "str", (), 0, _base64),
    "hex": ConvSpec("bin", "str", (), 0, _hex),
    "length": ConvSpec("str", "int", (), 0, _length),
    "url_dec": ConvSpec("str", "str", ("int",), 0, _url_dec),
    "field": ConvSpec("str", "str", ("int", "str", "int"), 2, _field),
    "word": ConvSpec("str", "str", ("int", "str", "int"), 2, _word),
    "regsub": ConvSpec("str", "str", ("regex", "str", "str"), 2, _regsub),
}


def converter_spec(name: str) -> ConvSpec | None:
    spec = CONVERTERS.get(name)
    if spec is not None:
        return spec
    kind = map_kind(name)
    if kind is None:
        return None
    match, out = kind
    return ConvSpec(_TAKES[match], out, ("file", "str"), 1, _map(match, out))
