"""What goes wrong while compiling rules, and where it is reported.

Compiling raises ``RuleError`` (the rule is wrong) or ``NotYet`` (valid HAProxy that
lb does not do yet) with a message only; the caller that knows the line adds the
``Source`` and hands it to a ``Diagnostics`` (``lb.config.report.Reporter`` is one).
"""

from __future__ import annotations

from typing import Protocol

from lb.config.diagnostics import ConfigError, Diagnostic
from lb.config.model import Source


class RuleError(ValueError):
    """A rule, ACL or expression that HAProxy would refuse too."""


class NotYet(RuleError):
    """Valid HAProxy that lb cannot honour yet; ``thing`` is what the operator wrote."""

    def __init__(self, thing: str, hint: str = "") -> None:
        self.thing = thing
        self.hint = hint
        super().__init__(f"'{thing}' is not supported yet" + (f" ({hint})" if hint else ""))


class Diagnostics(Protocol):
    def alert(self, source: Source, message: str) -> None: ...

    def warning(self, source: Source, message: str) -> None: ...

    def not_yet(self, source: Source, thing: str, hint: str = "") -> None: ...


class Strict:
    """For callers holding an already validated configuration (the workers): a real
    error raises ConfigError; what is not supported yet was accepted by the operator
    (``--unsupported warn``) and is left out quietly, as the loader already said."""

    def alert(self, source: Source, message: str) -> None:
        raise ConfigError([Diagnostic("ALERT", source, message)])

    def warning(self, source: Source, message: str) -> None:
        pass

    def not_yet(self, source: Source, thing: str, hint: str = "") -> None:
        pass
