"""When the next check runs and how long it may take (HAProxy's rules). Pure.

| state                                   | interval                     |
|-----------------------------------------|------------------------------|
| fully up                                | inter                        |
| going down, going up, not checked yet   | fastinter, else inter        |
| fully down                              | downinter, else inter        |

Timeouts: with ``timeout check`` the connection may take min(timeout
connect, inter) and the answer ``timeout check`` more; without it the whole
check must fit in ``inter``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lb.master.health.machine import Phase


@dataclass(frozen=True, slots=True)
class Timing:
    inter: int  # ms
    fastinter: int | None = None
    downinter: int | None = None
    timeout_connect: int | None = None  # the backend's "timeout connect"
    timeout_check: int | None = None  # the backend's "timeout check"

    def interval_ms(self, phase: Phase | None) -> int:
        """``phase`` None: the server has not been checked yet."""
        if phase is Phase.UP:
            return self.inter
        if phase is Phase.DOWN:
            return self.downinter or self.inter
        return self.fastinter or self.inter

    def connect_timeout_ms(self) -> int:
        if self.timeout_check is None:
            return self.inter
        if self.timeout_connect is None:
            return self.inter
        return min(self.timeout_connect, self.inter)

    def read_timeout_ms(self) -> int | None:
        """Time allowed after connecting; None: what is left of ``inter``."""
        return self.timeout_check

    def total_timeout_ms(self) -> int:
        """The longest a check can take."""
        if self.timeout_check is None:
            return self.inter
        return self.connect_timeout_ms() + self.timeout_check


def first_check_offset_ms(position: int, count: int, inter: int) -> int:
    """Spread the first checks of ``count`` servers over one interval (no burst at start)."""
    if count <= 1:
        return 0
    return inter * position // count
