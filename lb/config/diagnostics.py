"""Messages about a configuration, each tied to ``file:line``."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from lb.config.model import Config, Source


class Diagnostic(Struct, frozen=True):
    level: Literal["ALERT", "WARNING"]
    source: Source
    message: str

    def __str__(self) -> str:
        return f"[{self.level}] {self.source}: {self.message}"


class LoadResult(Struct):
    """What loading a set of files gives: the model (if usable) and every message."""

    config: Config | None
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return self.config is not None and not any(d.level == "ALERT" for d in self.diagnostics)

    def alerts(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "ALERT"]


class ConfigError(Exception):
    """Raised by callers that need a valid configuration and did not get one."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))
