"""HAProxy's built-in log formats and the log-format compiler.

``compile_log_format`` parses a format once into closures and literals; rendering a record
is then a join with no parsing and no decision about spacing. Spacing follows HAProxy:
unescaped spaces (and ``\\ ``) are separators, several in a row print one space, a leading
one prints nothing, and a variable that prints nothing (``%hr`` without captures) lets the
next separator collapse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from lb.accesslog.record import LogRecord, ProcessInfo
from lb.accesslog.samples import SampleError, sample_builder
from lb.accesslog.variables import HTTP_ONLY, NOT_YET, VARIABLES, Context, Flags, Renderer

# Section 8.2.3: the strict equivalent of "option httplog".
HTTPLOG = (
    "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC "
    "%CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
)
# Section 8.2.3: "option httplog clf".
HTTPLOG_CLF = (
    '%{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp '
    "%ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc "
    "%bc %sc %rc %sq %bq %CC %CS %hrl %hsl"
)
# Section 8.2.2: the strict equivalent of "option tcplog".
TCPLOG = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"

Mode = Literal["http", "tcp"]

# Variables that may print nothing at all (then the following separator collapses).
_MAY_VANISH = frozenset(("hr", "hs", "hrl", "hsl"))


class LogFormatError(ValueError):
    """A log-format that cannot be compiled; the config layer adds ``file:line``."""


class LogFormat:
    """A compiled log-format: ``render(record)`` gives the line (without syslog framing)."""

    __slots__ = ("render", "source")

    def __init__(self, source: str, render: Callable[[LogRecord], str]) -> None:
        self.source = source
        self.render = render

    def __call__(self, rec: LogRecord) -> str:
        return self.render(rec)

    def __repr__(self) -> str:
        return f"LogFormat({self.source!r})"


# A parsed node: a literal, a separator, or a variable renderer (and whether it may vanish).
_Node = tuple[Literal["text", "sep", "var"], str | Renderer, bool]


def _parse_flags(args: str, base: Flags) -> Flags:
    q, x, e = base.q, base.x, base.e
    for arg in args.split(","):
        arg = arg.strip()
        if len(arg) == 2 and arg[0] in "+-":
            on = arg[0] == "+"
            if arg[1] == "Q":
                q = on
            elif arg[1] == "X":
                x = on
            elif arg[1] == "E":
                e = on
        # Anything else is ignored, as HAProxy ignores unknown flags and arguments.
    return Flags(q=q, x=x, e=e)


def _parse(fmt: str, mode: Mode, ctx: Context) -> list[_Node]:
    nodes: list[_Node] = []
    text: list[str] = []
    default = Flags()
    i, n = 0, len(fmt)

    def flush() -> None:
        if text:
            nodes.append(("text", "".join(text), False))
            text.clear()

    def sep() -> None:
        flush()
        if not nodes or nodes[-1][0] != "sep":
            nodes.append(("sep", " ", False))

    while i < n:
        c = fmt[i]
        if c == " ":
            sep()
            i += 1
            continue
        if c == "\\" and i + 1 < n and fmt[i + 1] == " ":
            sep()
            i += 2
            continue
        if c != "%":
            text.append(c)
            i += 1
            continue
        if i + 1 < n and fmt[i + 1] == "%":
            text.append("%")
            i += 2
            continue
        start = i
        i += 1
        if i >= n:
            raise LogFormatError("truncated line after '%'")
        flags = default
        if fmt[i] == "{":
            close = fmt.find("}", i)
            if close < 0:
                raise LogFormatError(f"truncated line after '{fmt[i + 1 :]}'")
            flags = _parse_flags(fmt[i + 1 : close], default)
            i = close + 1
            if i >= n or fmt[i] == " ":
                raise LogFormatError(
                    f"parse argument modifier without variable name near '{fmt[start:i]}'"
                )
        if fmt[i] == "[":
            close = fmt.find("]", i)
            if close < 0:
                raise LogFormatError(f"missing ']' after '{fmt[i + 1 :]}'")
            try:
                builder = sample_builder(fmt[i + 1 : close])
            except SampleError as exc:
                raise LogFormatError(str(exc)) from None
            flush()
            nodes.append(("var", builder(flags, ctx), False))
            i = close + 1
            continue
        j = i
        while j < n and fmt[j].isascii() and fmt[j].isalnum():
            j += 1
        name = fmt[i:j]
        i = j
        if name == "o":  # flags for every variable that follows
            default = flags
            continue
        if name in NOT_YET:
            raise LogFormatError(f"format variable '{name}' is not supported yet")
        builder = VARIABLES.get(name)
        if builder is None:
            raise LogFormatError(
                f"no such format variable '{name}'. If you wanted to emit the '%' "
                "character verbatim, you need to use '%%'"
            )
        if mode != "http" and name in HTTP_ONLY:
            raise LogFormatError(f"format variable '{name}' is reserved for HTTP mode")
        flush()
        nodes.append(("var", builder(flags, ctx), name in _MAY_VANISH))
    flush()
    return nodes


def _static(nodes: list[_Node]) -> Callable[[LogRecord], str]:
    """Separators are known now (a leading one prints nothing): merge the literals
    around the renderers."""
    lits: list[str] = [""]
    fns: list[Renderer] = []
    for kind, value, _ in nodes:
        if kind == "var":
            fns.append(value)  # type: ignore[arg-type]
            lits.append("")
        elif kind == "text" or (kind == "sep" and (fns or lits[-1])):
            lits[-1] += value  # type: ignore[operator]
    if not fns:
        line = lits[0]
        return lambda rec: line
    first, rest = lits[0], tuple(zip(fns, lits[1:], strict=True))

    def render(rec: LogRecord) -> str:
        out = [first]
        for fn, lit in rest:
            out.append(fn(rec))  # type: ignore[arg-type]
            out.append(lit)
        return "".join(out)

    return render


def _absorb_vanishing(nodes: list[_Node]) -> list[_Node]:
    """Make separators static around variables that may print nothing.

    In HAProxy the separator before such a variable is printed anyway, and the one after it
    collapses when it printed nothing. So the variable takes the separator that follows it:
    it renders ``value + " "``, or ``""`` when absent.
    """
    out: list[_Node] = []
    i = 0
    while i < len(nodes):
        kind, value, vanishing = nodes[i]
        if kind == "var" and vanishing:
            fn: Renderer = value  # type: ignore[assignment]
            if i + 1 < len(nodes) and nodes[i + 1][0] == "sep":
                i += 1
                out.append(
                    ("var", lambda rec, fn=fn: "" if (v := fn(rec)) is None else v + " ", False)
                )
            else:
                out.append(("var", lambda rec, fn=fn: fn(rec) or "", False))
        else:
            out.append(nodes[i])
        i += 1
    return out


def compile_log_format(
    fmt: str,
    *,
    mode: Mode = "http",
    logasap: bool = False,
    process: ProcessInfo | None = None,
) -> LogFormat:
    """Compile a log-format string (as the config tokenizer leaves it: quotes removed).

    Raises LogFormatError naming the offending variable or expression.
    """
    ctx = Context(process=process or ProcessInfo(), logasap=logasap)
    return LogFormat(fmt, _static(_absorb_vanishing(_parse(fmt, mode, ctx))))
