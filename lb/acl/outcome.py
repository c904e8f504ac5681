"""What every action shares: its outcome, and the checks of its arguments.

An action returns None to let the next rule run, ``STOP`` to end its rule list
(``allow``), or an ``Answer`` that ends the exchange (deny, tarpit, auth,
redirect, return). Rewriting actions change the transaction in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from lb.acl.answer import Answer
from lb.acl.context import Ctx
from lb.acl.errors import RuleError
from lb.acl.runtime import Runtime
from lb.acl.txn import HttpTxn


class _Stop:
    __slots__ = ()

    def __repr__(self) -> str:
        return "STOP"


STOP: Final = _Stop()

Outcome = Answer | _Stop | None
Action = Callable[[HttpTxn, Runtime], Outcome]
Builder = Callable[[list[str], Ctx], Action]

HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def arity(action: str, args: list[str], n: int) -> None:
    if len(args) < n:
        raise RuleError(f"'{action}' expects exactly {n} argument(s)")
    if len(args) > n:
        raise RuleError(
            f"'{action}' expects {n} argument(s), then 'if' or 'unless' and a condition, "
            f"got '{args[n]}'"
        )


def header_name(action: str, text: str) -> bytes:
    if not HEADER_NAME.fullmatch(text):
        raise RuleError(f"'{action}': '{text}' is not a header name")
    return text.encode()
