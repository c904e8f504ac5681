"""What a probe reports: HAProxy's check status, a code, a duration, a reason."""

from __future__ import annotations

from dataclasses import dataclass

from lb.stats.server_state import CheckStatus


@dataclass(frozen=True, slots=True)
class CheckResult:
    status: CheckStatus
    code: int = 0  # HTTP status (layer 7), 0 when there is none
    duration_ms: int = 0
    info: str = ""  # "Connection refused", "HTTP status check returned code <503>", …

    @property
    def passed(self) -> bool:
        return self.status.passed


def elapsed_ms(start: float, end: float) -> int:
    return max(0, round((end - start) * 1000))
