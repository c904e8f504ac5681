"""Collects diagnostics while parsing, so that one bad line never stops the rest."""

from __future__ import annotations

from typing import Literal

from lb.config.diagnostics import Diagnostic
from lb.config.model import Source

UnsupportedPolicy = Literal["error", "warn"]

NOT_YET = "is not supported yet"


class Reporter:
    """Every parser writes here; ``unsupported`` decides how loud "not yet" is.

    Three kinds of message: hard alerts (the configuration is wrong), warnings,
    and "not supported yet" (valid HAProxy/keepalived that lb cannot honour yet:
    an alert by default, a warning when the operator asked to run without it).
    """

    def __init__(self, unsupported: UnsupportedPolicy = "error") -> None:
        self.unsupported = unsupported
        self.diagnostics: list[Diagnostic] = []
        self.hard_alerts = 0

    def alert(self, source: Source, message: str) -> None:
        self.hard_alerts += 1
        self.diagnostics.append(Diagnostic("ALERT", source, message))

    def warning(self, source: Source, message: str) -> None:
        self.diagnostics.append(Diagnostic("WARNING", source, message))

    def not_yet(self, source: Source, thing: str, hint: str = "") -> None:
        """``thing`` as the operator wrote it: "option httplog", "check", "mode http".

        Always ``'thing' is not supported yet`` first, with any detail in
        parentheses after it, so that tools can pick the keyword out.
        """
        message = f"'{thing}' {NOT_YET}"
        if hint:
            message += f" ({hint})"
        level: Literal["ALERT", "WARNING"] = "ALERT" if self.unsupported == "error" else "WARNING"
        self.diagnostics.append(Diagnostic(level, source, message))
