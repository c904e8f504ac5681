"""Conditions: ``if|unless [!]acl [!]acl … [or|'||' …]`` with ``{ anonymous ACL }``.

Terms side by side are ANDed, ``or``/``||`` separates alternatives (AND binds
tighter), ``!`` negates the term after it. As in HAProxy an empty alternative is
ignored and a condition with no term never holds (so ``unless`` alone always does).
"""

from __future__ import annotations

from lb.acl.acl import AclTable, Test, compile_acl_words
from lb.acl.context import Ctx
from lb.acl.errors import RuleError
from lb.acl.runtime import Runtime
from lb.acl.txn import HttpTxn


def split_condition(words: list[str], keyword: str) -> tuple[list[str], list[str]]:
    """(arguments, condition words) of a rule line: the condition starts at the first
    "if" or "unless"."""
    for i, w in enumerate(words):
        if w in ("if", "unless"):
            return words[:i], words[i:]
    return words, []


def compile_condition(words: list[str], acls: AclTable, ctx: Ctx) -> Test | None:
    """``words`` start with "if" or "unless"; None when there is no condition."""
    if not words:
        return None
    keyword, rest = words[0], words[1:]
    if keyword not in ("if", "unless"):
        raise RuleError(f"expected 'if' or 'unless' followed by a condition, got '{keyword}'")
    suites: list[list[tuple[bool, Test]]] = [[]]
    negate = False
    i = 0
    while i < len(rest):
        word = rest[i]
        i += 1
        if word in ("or", "||"):
            if negate:
                raise RuleError(f"'!' before '{word}' in condition")
            suites.append([])
            continue
        while word.startswith("!"):
            negate = not negate
            word = word[1:]
        if not word:
            continue
        if word == "{":
            close = _closing_brace(rest, i)
            inner = rest[i:close]
            i = close + 1
            term = compile_acl_words(inner, ctx)
            test = term.test
            if term.scope not in ("any", ctx.direction):
                where = "response" if ctx.direction == "res" else "request"
                ctx.warn(f"'{{ {' '.join(inner)} }}' never matches in {where} rules")
                test = _false
        else:
            test = acls.lookup(word, ctx)
        suites[-1].append((negate, test))
        negate = False
    if negate:
        raise RuleError("'!' at the end of the condition")
    return _build([s for s in suites if s], keyword == "unless")


def _closing_brace(words: list[str], start: int) -> int:
    for j in range(start, len(words)):
        if words[j] == "}":
            if j == start:
                raise RuleError("empty anonymous ACL '{ }' in condition")
            return j
        if words[j] == "{":
            break
    raise RuleError("missing closing '}' in condition")


def _false(t: HttpTxn, r: Runtime) -> bool:
    return False


def _build(suites: list[list[tuple[bool, Test]]], unless: bool) -> Test:
    if not suites:
        return (lambda t, r: True) if unless else _false
    if len(suites) == 1 and len(suites[0]) == 1:
        negated, test = suites[0][0]
        if negated != unless:
            return lambda t, r: not test(t, r)
        return test
    frozen = tuple(tuple(s) for s in suites)

    def holds(t: HttpTxn, r: Runtime) -> bool:
        for suite in frozen:
            for negated, test in suite:
                if test(t, r) == negated:
                    break
            else:
                return True
        return False

    if unless:
        return lambda t, r: not holds(t, r)
    return holds
