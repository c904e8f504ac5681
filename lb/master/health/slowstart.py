"""``slowstart``: after coming back, a server's weight grows linearly to its full value. Pure.

It starts at 1 (never 0: the server must get some traffic to show it copes)
and reaches the user weight once ``slowstart`` ms have passed since it came
up. A weight of 0 stays 0. It never applies at start-up, only after the
server was seen down or in maintenance.
"""

from __future__ import annotations


def ramp_weight(weight: int, elapsed_ms: int, slowstart_ms: int) -> int:
    if weight <= 0:
        return 0
    if slowstart_ms <= 0 or elapsed_ms >= slowstart_ms:
        return weight
    elapsed_ms = max(elapsed_ms, 0)
    return max(1, -(-weight * elapsed_ms // slowstart_ms))


def ramp_done(elapsed_ms: int, slowstart_ms: int) -> bool:
    return slowstart_ms <= 0 or elapsed_ms >= slowstart_ms


def ramp_step_ms(slowstart_ms: int, inter_ms: int) -> int:
    """How often to raise the weight during a ramp: 20 steps, at most one a second,
    and no slower than the checks (HAProxy raises it at every check)."""
    return max(50, min(slowstart_ms // 20, 1000, inter_ms))
