"""keepalived syntax: tokens, ``include``, and the tree of ``keyword args { … }`` blocks.

- a token starting with ``!`` or ``#`` (outside quotes) starts a comment that runs
  to the end of the line; inside a word they are ordinary characters
  (``auth_pass ab#1`` keeps its password);
- ``"…"`` is one token without its quotes (``script "killall -0 haproxy"``);
- ``{`` and ``}`` are tokens of their own, even when glued to a word; a ``{`` may
  sit on the keyword's line or on the next one;
- ``include GLOB`` (relative to the including file's directory) splices files in.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from lb.config.model import Source
from lb.config.report import Reporter

MAX_INCLUDE_DEPTH = 8
_SPACE = " \t\r\v\f"


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    source: Source
    quoted: bool = False

    @property
    def is_open(self) -> bool:
        return self.text == "{" and not self.quoted

    @property
    def is_close(self) -> bool:
        return self.text == "}" and not self.quoted


@dataclass
class Node:
    """``keyword args…`` with an optional ``{ … }`` block."""

    keyword: str
    args: list[str]
    source: Source
    block: list[Node] | None = None
    quoted: bool = False  # the keyword itself was quoted


@dataclass
class KeepalivedTokenizer:
    """Turns files into one token stream, following includes."""

    report: Reporter
    files: list[str] = field(default_factory=list)  # every file read, includes too

    def tokenize_text(self, path: str, text: str, depth: int = 0) -> list[Token]:
        self.files.append(path)
        tokens: list[Token] = []
        for lineno, raw in enumerate(text.split("\n"), start=1):
            src = Source(path, lineno)
            line_tokens, error = split_line(raw, src)
            if error:
                self.report.alert(src, error)
            if line_tokens[:1] and line_tokens[0].text == "include" and not line_tokens[0].quoted:
                self._include(path, line_tokens, depth, tokens)
                continue
            tokens.extend(line_tokens)
        return tokens

    def _include(self, path: str, line_tokens: list[Token], depth: int, out: list[Token]) -> None:
        src = line_tokens[0].source
        patterns = [t.text for t in line_tokens[1:]]
        if not patterns:
            self.report.alert(src, "'include' expects a file name or pattern")
            return
        if depth >= MAX_INCLUDE_DEPTH:
            self.report.alert(src, f"'include' nested more than {MAX_INCLUDE_DEPTH} levels deep")
            return
        base = os.path.dirname(path)
        for pattern in patterns:
            full = os.path.normpath(os.path.join(base, pattern))  # absolute stays absolute
            matches = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
            if not matches:
                self.report.alert(src, f"'include': no file matches '{pattern}'")
            for included in matches:
                try:
                    with open(included, encoding="utf-8", errors="replace") as f:
                        text = f.read()
                except OSError as e:
                    self.report.alert(src, f"'include': cannot read '{included}': {e.strerror}")
                    continue
                out.extend(self.tokenize_text(included, text, depth + 1))


def split_line(line: str, src: Source) -> tuple[list[Token], str | None]:
    tokens: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in _SPACE:
            i += 1
        elif c in "!#":
            break
        elif c in "{}":
            tokens.append(Token(c, src))
            i += 1
        elif c == '"':
            close = line.find('"', i + 1)
            if close < 0:
                tokens.append(Token(line[i + 1 :], src, quoted=True))
                return tokens, "unclosed quote"
            tokens.append(Token(line[i + 1 : close], src, quoted=True))
            i = close + 1
        else:
            j = i
            while j < n and line[j] not in _SPACE and line[j] not in '{}"':
                j += 1
            tokens.append(Token(line[i:j], src))
            i = j
    return tokens, None


def build_tree(tokens: list[Token], report: Reporter) -> list[Node]:
    """Group tokens into statements and blocks; no recursion, so any nesting is safe."""
    root: list[Node] = []
    stack: list[tuple[list[Node], Source | None]] = [(root, None)]
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        children = stack[-1][0]
        if tok.is_close:
            if len(stack) == 1:
                report.alert(tok.source, "unexpected '}' without a matching '{'")
            else:
                stack.pop()
            i += 1
            continue
        if tok.is_open:
            report.alert(tok.source, "unexpected '{' without a keyword before it")
            stack.append(([], tok.source))  # read to its end, then drop
            i += 1
            continue
        words = [tok]
        i += 1
        while (
            i < n
            and tokens[i].source == tok.source
            and not (tokens[i].is_open or tokens[i].is_close)
        ):
            words.append(tokens[i])
            i += 1
        node = Node(tok.text, [w.text for w in words[1:]], tok.source, quoted=tok.quoted)
        children.append(node)
        if i < n and tokens[i].is_open:
            node.block = []
            stack.append((node.block, tokens[i].source))
            i += 1
    for _, opener in stack[1:]:
        assert opener is not None
        report.alert(opener, "unclosed '{' (no matching '}' before the end of the file)")
    return root
