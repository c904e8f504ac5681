"""The text of a sample expression: ``fetch[(args)][,converter[(args)]]…``.

Arguments are split as HAProxy 2.6 splits them: commas separate, the first
unquoted ``)`` ends the list, single or double quotes group (so that a comma or a
parenthesis can be given: ``regsub('[,(]',_)``), and a backslash makes the next
quote, backslash or space literal; any other backslash stays, for regexes
(``regsub(\\.,_,g)`` replaces dots).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lb.acl.errors import RuleError

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-+")
_ESCAPABLE = "\\\"' "


@dataclass(slots=True)
class Call:
    """A fetch or a converter with its arguments (None: written without parentheses)."""

    name: str
    args: list[str] | None = None


@dataclass(slots=True)
class Expr:
    fetch: Call
    converters: list[Call] = field(default_factory=list)
    text: str = ""


def parse_expr(text: str, end: str = "") -> tuple[Expr, int]:
    """Parse the expression at the start of ``text``; stop at the end of the text or
    at an unquoted character of ``end`` (``]`` inside ``%[…]``). Returns the expression
    and the index where it stopped."""
    i, fetch = _call(text, 0, end)
    expr = Expr(fetch)
    while i < len(text) and text[i] == ",":
        i, conv = _call(text, i + 1, end)
        expr.converters.append(conv)
    if i < len(text) and text[i] not in end:
        raise RuleError(f"unexpected '{text[i:]}' after the expression '{text[:i]}'")
    expr.text = text[:i]
    return expr, i


def parse_whole(text: str) -> Expr:
    return parse_expr(text)[0]


def _call(text: str, i: int, end: str) -> tuple[int, Call]:
    start = i
    while i < len(text) and text[i] in _NAME_CHARS:
        i += 1
    name = text[start:i]
    if not name:
        what = f"'{text[start:]}'" if start < len(text) else "nothing"
        raise RuleError(f"expected a fetch or converter name, got {what}")
    if i < len(text) and text[i] == "(":
        i, args = _args(text, i + 1)
        return i, Call(name, args)
    return i, Call(name)


def _args(text: str, i: int) -> tuple[int, list[str]]:
    args: list[str] = []
    cur: list[str] = []
    quote = ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"' and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
                i += 1
                cur.append(text[i])
            else:
                cur.append(c)
        elif c in "'\"":
            quote = c
        elif c == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            i += 1
            cur.append(text[i])
        elif c == ",":
            args.append("".join(cur))
            cur = []
        elif c == ")":
            args.append("".join(cur))
            if args == [""]:
                args = []
            return i + 1, args
        else:
            cur.append(c)
        i += 1
    if quote:
        raise RuleError(f"unterminated quote in the arguments of '{text}'")
    raise RuleError(f"missing ')' in '{text}'")
