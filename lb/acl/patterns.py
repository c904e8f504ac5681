"""Pattern matching methods (``-m``): patterns parsed once into sets, tuples,
compiled regexes and integer masks; per request only the comparison runs.

A matcher is built from the patterns of one ACL line, each with its own "ignore
case" flag (``-i`` applies to what follows it), and takes one sample value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from lb.acl.errors import NotYet, RuleError
from lb.acl.values import (
    Value,
    caster,
    looks_like_host_name,
    parse_ip_pattern,
)

Matcher = Callable[[Value], bool]

# Methods lb knows, and the sample type each one works on.
METHOD_INPUT = {
    "found": "any",
    "bool": "bool",
    "int": "int",
    "ip": "ip",
    "bin": "bin",
    "len": "str",
    "str": "str",
    "sub": "str",
    "reg": "str",
    "beg": "str",
    "end": "str",
    "dir": "str",
    "dom": "str",
    "meth": "meth",
}

# The default method of each sample type; "bin", "any" have none (``-m`` is required).
DEFAULT_METHOD = {"bool": "bool", "int": "int", "ip": "ip", "str": "str", "meth": "meth"}

INT_OPERATORS = ("eq", "ge", "gt", "le", "lt")

# Known HTTP methods: HAProxy compares them by identity, so that "get" (an unknown
# method) never equals "GET", even with -i; other methods compare as strings.
KNOWN_METHODS = frozenset(
    (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"TRACE")
)

_DIR_DELIMITERS = b"/?"
_DOM_DELIMITERS = b"/?.:"


class Pattern:
    """One value of an ACL line, as written, with the -i in force for it."""

    __slots__ = ("icase", "text")

    def __init__(self, text: str, icase: bool = False) -> None:
        self.text = text
        self.icase = icase

    def __repr__(self) -> str:
        return f"Pattern({self.text!r}, icase={self.icase})"


def build_matcher(
    method: str, patterns: Sequence[Pattern], sample_type: str, no_dns: bool = False
) -> Matcher:
    """The matcher for ``method`` over ``patterns``, taking samples of ``sample_type``
    (cast first when the method works on another type)."""
    builder = _BUILDERS.get(method)
    if builder is None:
        raise RuleError(f"unknown matching method '{method}'")
    match = builder(patterns, no_dns)
    wanted = METHOD_INPUT[method]
    cast = None if wanted == "any" else caster(sample_type, wanted)
    if cast is None:
        return match

    def cast_then_match(v: Value) -> bool:
        c = cast(v)
        return c is not None and match(c)

    return cast_then_match


def _b(p: Pattern) -> bytes:
    return p.text.encode()


def _split_case(patterns: Sequence[Pattern]) -> tuple[list[bytes], list[bytes]]:
    exact = [_b(p) for p in patterns if not p.icase]
    folded = [_b(p).lower() for p in patterns if p.icase]
    return exact, folded


# --------------------------------------------------------------------------- no pattern


def _found(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    return lambda v: True


def _bool(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    return lambda v: bool(v)


# --------------------------------------------------------------------------- strings


def _str(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    exact, folded = _split_case(patterns)
    e, f = frozenset(exact), frozenset(folded)
    if not f:
        return e.__contains__
    if not e:
        return lambda v: v.lower() in f  # type: ignore[union-attr]
    return lambda v: v in e or v.lower() in f  # type: ignore[union-attr, operator]


def _beg(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    exact, folded = _split_case(patterns)
    e, f = tuple(exact), tuple(folded)
    if not f:
        return lambda v: v.startswith(e)  # type: ignore[union-attr]
    return lambda v: v.startswith(e) or v.lower().startswith(f)  # type: ignore[union-attr]


def _end(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    exact, folded = _split_case(patterns)
    e, f = tuple(exact), tuple(folded)
    if not f:
        return lambda v: v.endswith(e)  # type: ignore[union-attr]
    return lambda v: v.endswith(e) or v.lower().endswith(f)  # type: ignore[union-attr]


def _sub(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    exact, folded = _split_case(patterns)

    def match(v: Value) -> bool:
        for p in exact:
            if p in v:  # type: ignore[operator]
                return True
        if folded:
            low = v.lower()  # type: ignore[union-attr]
            for p in folded:
                if p in low:
                    return True
        return False

    return match


def compile_regex(text: str, icase: bool) -> re.Pattern[bytes]:
    try:
        return re.compile(text.encode(), re.IGNORECASE if icase else 0)
    except re.error as e:
        raise RuleError(f"regex '{text}' is invalid ({e})") from None


def _reg(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    searches = [compile_regex(p.text, p.icase).search for p in patterns]
    if len(searches) == 1:
        only = searches[0]
        return lambda v: only(v) is not None  # type: ignore[arg-type]
    return lambda v: any(s(v) is not None for s in searches)  # type: ignore[arg-type]


def _word(delimiters: bytes) -> Callable[[Sequence[Pattern], bool], Matcher]:
    """``dir``/``dom``: the pattern, stripped of its own leading and trailing
    delimiters, must appear between delimiters (or the ends) of the sample."""

    def build(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
        words: list[tuple[bytes, bool]] = []
        for p in patterns:
            w = _b(p).strip(delimiters)
            words.append((w.lower() if p.icase else w, p.icase))

        def match(v: Value) -> bool:
            low: bytes | None = None
            for w, icase in words:
                s = v
                if icase:
                    if low is None:
                        low = v.lower()  # type: ignore[union-attr]
                    s = low
                if _has_word(s, w, delimiters):  # type: ignore[arg-type]
                    return True
            return False

        return match

    return build


def _has_word(s: bytes, w: bytes, delimiters: bytes) -> bool:
    n, size = len(w), len(s)
    i = s.find(w)
    while i >= 0:
        before_ok = i == 0 or s[i - 1] in delimiters
        after_ok = i + n == size or s[i + n] in delimiters
        if before_ok and after_ok:
            return True
        i = s.find(w, i + 1)
    return False


def _bin(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    blobs = set()
    for p in patterns:
        if len(p.text) % 2:
            raise RuleError(f"'{p.text}': an even number of hex digits is expected")
        try:
            blobs.add(bytes.fromhex(p.text))
        except ValueError:
            raise RuleError(f"'{p.text}' is not a hexadecimal string") from None
    return frozenset(blobs).__contains__


# --------------------------------------------------------------------------- integers


def parse_int_patterns(patterns: Sequence[Pattern]) -> list[tuple[int | None, int | None]]:
    """Ranges ``(low, high)``, inclusive, None for an open end. An operator word applies
    to the one value after it."""
    ranges: list[tuple[int | None, int | None]] = []
    operator: str | None = None
    for p in patterns:
        text = p.text
        if text in INT_OPERATORS:
            operator = text
            continue
        if operator is not None:
            n = _int(text)
            ranges.append(
                {
                    "eq": (n, n),
                    "ge": (n, None),
                    "gt": (n + 1, None),
                    "le": (None, n),
                    "lt": (None, n - 1),
                }[operator]
            )
            operator = None
            continue
        low, colon, high = text.partition(":")
        if not colon:
            n = _int(text)
            ranges.append((n, n))
        elif ":" in high or (not low and not high):
            raise RuleError(f"'{text}' is not a valid number range")
        else:
            ranges.append((_int(low) if low else None, _int(high) if high else None))
    return ranges


def _int(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise RuleError(f"'{text}' is not a number") from None


def int_matcher(ranges: list[tuple[int | None, int | None]]) -> Callable[[int], bool]:
    if all(lo == hi for lo, hi in ranges):
        return frozenset(lo for lo, _ in ranges).__contains__  # type: ignore[return-value]

    def match(n: int) -> bool:
        for lo, hi in ranges:  # noqa: SIM110 (cheaper than any() per request)
            if (lo is None or n >= lo) and (hi is None or n <= hi):
                return True
        return False

    return match


def _int_method(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    return int_matcher(parse_int_patterns(patterns))  # type: ignore[return-value]


def _len(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    match = int_matcher(parse_int_patterns(patterns))
    return lambda v: match(len(v))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- addresses

_V4_MAPPED = 0xFFFF << 32
_6TO4_PREFIX = 0x2002


def _ip(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    hosts4: set[int] = set()
    nets4: list[tuple[int, int]] = []
    nets6: list[tuple[int, int]] = []
    for p in patterns:
        try:
            version, net, mask = parse_ip_pattern(p.text)
        except RuleError:
            if not no_dns and looks_like_host_name(p.text.partition("/")[0]):
                raise NotYet(p.text, "host names in address patterns; write the address") from None
            raise
        if version == 4:
            if mask == 0xFFFFFFFF:
                hosts4.add(net)
            else:
                nets4.append((net, mask))
        else:
            nets6.append((net, mask))
    h4 = frozenset(hosts4)
    any4 = bool(h4 or nets4)

    def match4(n: int) -> bool:
        if n in h4:
            return True
        for net, mask in nets4:  # noqa: SIM110 (cheaper than any() per request)
            if n & mask == net:
                return True
        return False

    def match(v: Value) -> bool:
        n = int(v)  # type: ignore[arg-type]
        if v.version == 4:  # type: ignore[union-attr]
            if match4(n):
                return True
            # an IPv6 pattern sees an IPv4 address as ::ffff:a.b.c.d
            if nets6:
                m = _V4_MAPPED | n
                return any(m & mask == net for net, mask in nets6)
            return False
        for net, mask in nets6:
            if n & mask == net:
                return True
        if any4:
            # IPv4 patterns match ::ffff:V4, ::V4 and 2002:V4::
            if n >> 32 in (0, 0xFFFF):
                return match4(n & 0xFFFFFFFF)
            if n >> 112 == _6TO4_PREFIX:
                return match4((n >> 80) & 0xFFFFFFFF)
        return False

    return match


# --------------------------------------------------------------------------- methods


def _meth(patterns: Sequence[Pattern], no_dns: bool) -> Matcher:
    known: set[bytes] = set()
    other_exact: set[bytes] = set()
    other_folded: set[bytes] = set()
    for p in patterns:
        b = _b(p)
        if b in KNOWN_METHODS:
            known.add(b)
        elif p.icase:
            other_folded.add(b.lower())
        else:
            other_exact.add(b)

    def match(v: Value) -> bool:
        if v in KNOWN_METHODS:
            return v in known
        return v in other_exact or (bool(other_folded) and v.lower() in other_folded)  # type: ignore[union-attr]

    return match


_BUILDERS: dict[str, Callable[[Sequence[Pattern], bool], Matcher]] = {
    "found": _found,
    "bool": _bool,
    "int": _int_method,
    "ip": _ip,
    "bin": _bin,
    "len": _len,
    "str": _str,
    "sub": _sub,
    "reg": _reg,
    "beg": _beg,
    "end": _end,
    "dir": _word(_DIR_DELIMITERS),
    "dom": _word(_DOM_DELIMITERS),
    "meth": _meth,
}

# Methods that take no pattern.
NO_PATTERN = frozenset({"found", "bool"})
