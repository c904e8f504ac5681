"""Log-format strings in rules (``set-header X-Client %[src]:%cp``, dynamic
``use_backend``, ``lf-string``): compiled once into literal parts and sample
expressions; rendering joins bytes.

A missing sample renders as nothing (in logs HAProxy writes "-", in headers and
payloads it writes nothing).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from lb.acl.context import Ctx
from lb.acl.errors import NotYet, RuleError
from lb.acl.runtime import Runtime
from lb.acl.sample import compile_expr
from lb.acl.syntax import parse_expr
from lb.acl.txn import HttpTxn
from lb.acl.values import Value, to_str
from lb.config.keywords import words

Render = Callable[[HttpTxn, Runtime], bytes]
Part = bytes | Callable[[HttpTxn, Runtime], bytes | None]

# Every %-variable HAProxy knows (section 8.2.4); the few below are what lb renders.
HAPROXY_VARIABLES = words(
    "B CC CS H HM HP HPO HQ HU HV ID ST T TR Ta Tc Td Th Ti Tl Tq Tr Ts Tt Tu Tw U ac b bc bi "
    "bp bq ci cp f fc fi fp ft hr hrl hs hsl lc ms o pid r rc rt s sc si sp sq sslc sslv t tr "
    "trg trl ts tsc"
)


def _query_with_mark(t: HttpTxn, r: Runtime) -> bytes:
    q = t.query()
    return b"" if q is None else b"?" + q


def _variables() -> dict[str, Callable[[HttpTxn, Runtime], bytes | None]]:
    host = socket.gethostname().encode()
    pid = b"%d" % os.getpid()
    return {
        "ci": lambda t, r: t.src.encode(),
        "cp": lambda t, r: b"%d" % t.src_port,
        "fi": lambda t, r: t.dst.encode(),
        "fp": lambda t, r: b"%d" % t.dst_port,
        "f": lambda t, r: t.frontend.encode(),
        "ft": lambda t, r: t.frontend.encode(),  # no TLS in lb yet: never a "~"
        "b": lambda t, r: (t.backend or t.frontend).encode(),
        "H": lambda t, r: host,
        "pid": lambda t, r: pid,
        "HM": lambda t, r: t.method,
        "HU": lambda t, r: t.url,
        "HP": lambda t, r: t.path() or b"",
        "HQ": _query_with_mark,
        "HV": lambda t, r: b"HTTP/" + t.version.encode(),
    }


_VARIABLES = _variables()


def is_dynamic(text: str) -> bool:
    """Whether a log-format string has anything but literal text."""
    return "%" in text.replace("%%", "")


def compile_format(text: str, ctx: Ctx) -> Render:
    parts = parse_format(text, ctx)
    if not parts:
        return lambda t, r: b""
    if len(parts) == 1:
        only = parts[0]
        if isinstance(only, bytes):
            return lambda t, r: only
        return lambda t, r: only(t, r) or b""  # type: ignore[operator]

    def render(t: HttpTxn, r: Runtime) -> bytes:
        out = []
        for p in parts:
            if isinstance(p, bytes):
                out.append(p)
            else:
                v = p(t, r)
                if v:
                    out.append(v)
        return b"".join(out)

    return render


def parse_format(text: str, ctx: Ctx) -> list[Part]:
    parts: list[Part] = []
    lit: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "%":
            lit.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise RuleError(
                f"truncated format after '%' in '{text}' (write '%%' for a percent sign)"
            )
        if text[i + 1] == "%":
            lit.append("%")
            i += 2
            continue
        i += 1
        quote = False
        if text[i] == "{":
            close = text.find("}", i)
            if close < 0:
                raise RuleError(f"missing '}}' after '%{{' in '{text}'")
            flags = text[i + 1 : close]
            if flags == "+Q":
                quote = True
            elif flags:
                raise NotYet("%{" + flags + "}", "log-format flags other than +Q")
            i = close + 1
        if lit:
            parts.append("".join(lit).encode())
            lit = []
        if i < n and text[i] == "[":
            expr, end = parse_expr(text[i + 1 :], end="]")
            if i + 1 + end >= n:
                raise RuleError(f"missing ']' after '{text[i + 1 :]}'")
            sample = compile_expr(expr, ctx)
            parts.append(_sample_part(sample.one, quote))
            i = i + 1 + end + 1
            continue
        start = i
        while i < n and text[i].isalnum():
            i += 1
        name = text[start:i]
        var = _VARIABLES.get(name)
        if var is None:
            if name in HAPROXY_VARIABLES:
                raise NotYet("%" + name, "log-format variable in rules")
            raise RuleError(
                f"no format variable '%{name}' in '{text}' (write '%%' for a percent sign)"
            )
        parts.append(_quoted(var) if quote else var)
    if lit:
        parts.append("".join(lit).encode())
    return parts


def _sample_part(one: Callable[[HttpTxn, Runtime], Value | None], quote: bool) -> Part:
    def part(t: HttpTxn, r: Runtime) -> bytes | None:
        v = one(t, r)
        return None if v is None else to_str(v)

    return _quoted(part) if quote else part


def _quoted(part: Callable[[HttpTxn, Runtime], bytes | None]) -> Part:
    def q(t: HttpTxn, r: Runtime) -> bytes | None:
        v = part(t, r)
        return b'"' + (v or b"") + b'"'

    return q
