"""The rise/fall state machine of one checked server, HAProxy's way. Pure.

``health`` counts from 0 to ``rise + fall - 1``; the server is up when it is at
least ``rise``. A passed check adds one and, once ``rise`` is reached, jumps to
the top (fully up); a failed check takes one off and, below ``rise``, drops to
0 (fully down). So from fully up it takes ``fall`` consecutive failures to go
down, and from fully down ``rise`` consecutive successes to come up.

A checked server starts at ``health = rise``: up, but one failure from down
(HAProxy's default init-state "up"; its stats show "UP 1/3" until the first
check passes). keepalived's checkers start fully up instead.
"""

from __future__ import annotations

from enum import Enum


class Phase(Enum):
    """Where the counter is, which decides the next interval."""

    UP = "up"  # fully up
    GOING_DOWN = "going down"  # up, with failures counted
    GOING_UP = "going up"  # down, with successes counted
    DOWN = "down"  # fully down


class Transition(Enum):
    WENT_UP = "up"
    WENT_DOWN = "down"


class HealthCounter:
    __slots__ = ("fall", "health", "rise")

    def __init__(self, rise: int, fall: int, health: int | None = None) -> None:
        if rise < 1 or fall < 1:
            raise ValueError("rise and fall must be at least 1")
        self.rise = rise
        self.fall = fall
        top = rise + fall - 1
        self.health = rise if health is None else max(0, min(health, top))

    @property
    def top(self) -> int:
        return self.rise + self.fall - 1

    @property
    def up(self) -> bool:
        return self.health >= self.rise

    @property
    def phase(self) -> Phase:
        if self.up:
            return Phase.UP if self.health >= self.top else Phase.GOING_DOWN
        return Phase.GOING_UP if self.health else Phase.DOWN

    def record(self, passed: bool) -> Transition | None:
        """Count one check result; say whether the server changed side."""
        was_up = self.up
        if passed:
            if self.health < self.top:
                self.health += 1
                if self.health >= self.rise:
                    self.health = self.top
        elif self.health > 0:
            self.health -= 1
            if self.health < self.rise:
                self.health = 0
        if self.up != was_up:
            return Transition.WENT_UP if self.up else Transition.WENT_DOWN
        return None

    def retune(self, rise: int, fall: int) -> None:
        """New rise/fall after a reload: keep the side (up or down) and the checks counted
        towards changing it (failures while up, successes while down)."""
        if self.up:
            failures = self.top - self.health
            self.rise, self.fall = rise, fall
            self.health = max(rise, self.top - failures)
        else:
            self.rise, self.fall = rise, fall
            self.health = min(self.health, rise - 1)

    def force_up(self) -> None:
        """Leaving maintenance: up, one failure from down (as a fresh start)."""
        self.health = self.rise
