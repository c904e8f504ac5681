"""Splitting one HAProxy configuration line into words, the way HAProxy does it.

- ``#`` starts a comment, except inside quotes or when escaped (``\\#``);
- words are separated by spaces and tabs;
- a backslash outside single quotes escapes the next character: ``\\ `` ``\\#``
  ``\\\\`` ``\\'`` ``\\"`` ``\\$`` give that character, ``\\r`` ``\\n`` ``\\t`` and
  ``\\xHH`` give control or raw characters; any other pair is kept as written;
- double quotes ("weak") group words, still honour escapes and expand variables;
- single quotes ("strong") group words and keep everything literally;
- quotes may sit inside a word: ``a"b c"d`` is the single word ``ab cd``, and
  ``""`` is one empty word;
- ``$NAME`` and ``${NAME}`` are replaced by the environment variable (outside
  single quotes). ``${NAME-default}`` gives ``default`` when NAME is not set (an
  empty NAME stays empty), ``${NAME[*]}`` splits the value into several words.
  An unset variable expands to nothing, with a warning; an unquoted word made
  only of such empty expansions disappears, as it would in a shell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_SEPARATORS = " \t\r\v\f"
_SIMPLE_ESCAPES = {" ": " ", "#": "#", "\\": "\\", "'": "'", '"': '"', "$": "$"}
_CONTROL_ESCAPES = {"r": "\r", "n": "\n", "t": "\t"}
_HEX = "0123456789abcdefABCDEF"
_VAR_START = re.compile(r"[A-Za-z_]")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED_VAR = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<split>\[\*\])?(?:-(?P<default>.*))?")


@dataclass
class LexedLine:
    words: list[str] = field(default_factory=list)
    error: str | None = None  # the line is unusable when set
    warnings: list[str] = field(default_factory=list)


class _WordBuilder:
    """Accumulates the words of one line; tracks whether a word really exists."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.chars: list[str] = []
        # A word exists once it has a literal character or a quote, even if empty;
        # a word made only of variables that expanded to nothing does not.
        self.real = False
        self.started = False

    def add(self, text: str, *, real: bool = True) -> None:
        self.started = True
        self.chars.append(text)
        self.real = self.real or real

    def end(self) -> None:
        if self.started and (self.real or any(self.chars)):
            self.words.append("".join(self.chars))
        self.chars, self.real, self.started = [], False, False


def lex_line(line: str, environ: Mapping[str, str]) -> LexedLine:
    """Return the words of ``line`` (without its newline)."""
    out = LexedLine()
    word = _WordBuilder()
    quote: str | None = None  # None, '"' or "'"
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if quote == "'":
            if c == "'":
                quote = None
            else:
                word.add(c)
            i += 1
            continue
        if c == "\\":
            i = _escape(line, i, word)
            continue
        if c == '"':
            quote = None if quote == '"' else '"'
            word.add("")  # "" is a real, empty word
            i += 1
            continue
        if c == "$":
            i = _expand(line, i, word, environ, out, quoted=quote == '"')
            if out.error:
                return out
            continue
        if quote is None:
            if c == "'":
                quote = "'"
                word.add("")
                i += 1
                continue
            if c == "#":
                break
            if c in _SEPARATORS:
                word.end()
                i += 1
                continue
        word.add(c)
        i += 1
    if quote is not None:
        out.error = f"unmatched quote ({quote}) at end of line"
        return out
    word.end()
    out.words = word.words
    return out


def _escape(line: str, i: int, word: _WordBuilder) -> int:
    """Handle the backslash at ``line[i]``; return the index after the escape."""
    nxt = line[i + 1] if i + 1 < len(line) else ""
    if nxt in _SIMPLE_ESCAPES and nxt:
        word.add(_SIMPLE_ESCAPES[nxt])
        return i + 2
    if nxt in _CONTROL_ESCAPES and nxt:
        word.add(_CONTROL_ESCAPES[nxt])
        return i + 2
    hex_digits = line[i + 2 : i + 4]
    if nxt == "x" and len(hex_digits) == 2 and all(h in _HEX for h in hex_digits):
        word.add(chr(int(hex_digits, 16)))
        return i + 4
    # Unknown escape: HAProxy keeps the backslash (regexes rely on it: "\d", "\.").
    word.add("\\")
    return i + 1


def _expand(
    line: str, i: int, word: _WordBuilder, environ: Mapping[str, str], out: LexedLine, quoted: bool
) -> int:
    """Expand the variable starting with ``$`` at ``line[i]``; return the index after it."""
    rest = line[i + 1 :]
    if rest.startswith("{"):
        close = rest.find("}")
        if close < 0:
            out.error = "unterminated '${' in variable reference"
            return len(line)
        body = rest[1:close]
        m = _BRACED_VAR.fullmatch(body)
        if m is None:
            out.error = f"invalid variable name in '${{{body}}}'"
            return len(line)
        name, split, default = m.group("name"), m.group("split"), m.group("default")
        end = i + 1 + close + 1
    elif _VAR_START.match(rest):
        m = _VAR_NAME.match(rest)
        assert m is not None  # the first character matched _VAR_START
        name, split, default = m.group(0), None, None
        end = i + 1 + m.end()
    else:
        word.add("$")  # a lone dollar is literal
        return i + 1

    value = environ.get(name)
    if value is None:
        if default is None:
            out.warnings.append(f"environment variable '{name}' is not set; using an empty value")
            value = ""
        else:
            value = default
    if split and not quoted:
        parts = value.split()
        for k, part in enumerate(parts):
            if k:
                word.end()
            word.add(part)
        if not parts:
            word.add("", real=False)
    else:
        word.add(value, real=quoted)
    return end


def iter_lines(text: str) -> list[tuple[int, str]]:
    """Numbered physical lines (HAProxy has no line continuation)."""
    return [(k, raw.rstrip("\r")) for k, raw in enumerate(text.split("\n"), start=1)]
