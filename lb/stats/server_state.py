"""The server state table: one server's state in three 8-byte slots of the shared region.

The master (health checks, the runtime API) is the only writer; workers read.
Slots are named gauges (``GaugeNames.server_state``), so a server keeps its
state across a reload when its backend and server names stay the same.

- the state word: what picking needs, packed so that one atomic store publishes
  a consistent whole (a reader never sees the new weight with the old state):

      bits  0-1   operational state (HAProxy's srv_op_state: 0 stopped,
                  1 starting, 2 running, 3 stopping)
      bits  2-9   admin state mask (HAProxy's: 0x01 forced maintenance,
                  0x04 maintenance from the configuration, 0x08 forced drain)
      bits 10-18  effective weight (what the balancer uses: slowstart ramp included)
      bits 19-27  user weight (configured, or set at run time)
      bits 28-35  last check status (HAProxy's numbering, ``CheckStatus``)
      bits 36-51  health counter (0 … rise+fall-1)
      bit  52     checked (the server has health checks)
      bit  53     written (0: the slot was never written)

- the check word: HTTP (or other layer 5-7) code in bits 0-15, check duration in
  ms in bits 16-47;
- the time of the last operational change, epoch ms.

One more slot, ``servers.state_version``, goes up after every change: a worker
loads it once per pick and reads the state words only when it moved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import NamedTuple

from lb._native import SharedCounters
from lb.stats.shm import GaugeNames, SharedRegion


class OpState(IntEnum):
    """HAProxy's operational states (``show servers state`` srv_op_state)."""

    STOPPED = 0  # down
    STARTING = 1  # up, weight still ramping (slowstart)
    RUNNING = 2  # up
    STOPPING = 3  # up but refusing new traffic (NOLB)


# Admin state mask (``show servers state`` srv_admin_state).
ADMIN_FMAINT = 0x01  # forced into maintenance (runtime API)
ADMIN_CMAINT = 0x04  # maintenance from the configuration ("disabled")
ADMIN_FDRAIN = 0x08  # forced into drain (runtime API)
ADMIN_MAINT = ADMIN_FMAINT | ADMIN_CMAINT
ADMIN_DRAIN = ADMIN_FDRAIN


class CheckStatus(IntEnum):
    """HAProxy's health check statuses, with its numbers (``show servers state``)."""

    UNKNOWN = 0
    INI = 1
    START = 2
    CHECKED = 3
    HANA = 4
    SOCKERR = 5
    L4OK = 6
    L4TOUT = 7
    L4CON = 8
    L6OK = 9
    L6TOUT = 10
    L6RSP = 11
    L7TOUT = 12
    L7RSP = 13
    L57DATA = 14
    L7OK = 15  # HAProxy's L7OKD
    L7OKC = 16  # HAProxy's L7OKCD
    L7STS = 17
    PROCERR = 18
    PROCTOUT = 19
    PROCOK = 20

    @property
    def passed(self) -> bool:
        return self in _PASSED

    @property
    def text(self) -> str:
        """The name shown in stats: "L4OK", "L7STS", … ("" for a server never checked)."""
        return "" if self is CheckStatus.UNKNOWN else self.name

    @property
    def description(self) -> str:
        return _DESCRIPTIONS.get(self, self.name)


_PASSED = frozenset({CheckStatus.L4OK, CheckStatus.L6OK, CheckStatus.L7OK, CheckStatus.PROCOK})

_DESCRIPTIONS = {
    CheckStatus.UNKNOWN: "Unknown",
    CheckStatus.INI: "Initializing",
    CheckStatus.SOCKERR: "Socket error",
    CheckStatus.L4OK: "Layer4 check passed",
    CheckStatus.L4TOUT: "Layer4 timeout",
    CheckStatus.L4CON: "Layer4 connection problem",
    CheckStatus.L6OK: "Layer6 check passed",
    CheckStatus.L6TOUT: "Layer6 timeout",
    CheckStatus.L6RSP: "Layer6 invalid response",
    CheckStatus.L7TOUT: "Layer7 timeout",
    CheckStatus.L7RSP: "Layer7 invalid response",
    CheckStatus.L7OK: "Layer7 check passed",
    CheckStatus.L7OKC: "Layer7 check conditionally passed",
    CheckStatus.L7STS: "Layer7 wrong status",
    CheckStatus.PROCERR: "External check error",
    CheckStatus.PROCTOUT: "External check timeout",
    CheckStatus.PROCOK: "External check passed",
}

MAX_WEIGHT = 256

_WRITTEN = 1 << 53
_CHECKED = 1 << 52


@dataclass(frozen=True, slots=True)
class ServerState:
    op: OpState = OpState.RUNNING
    admin: int = 0
    eweight: int = 1  # effective weight, what picking uses
    uweight: int = 1  # user weight (configured or set at run time)
    check_status: CheckStatus = CheckStatus.UNKNOWN
    health: int = 0
    checked: bool = False
    check_code: int = 0  # HTTP status of the last check, 0 = none
    check_duration_ms: int = 0
    last_change_ms: int = 0  # epoch ms of the last operational change

    # -- what the data path needs

    @property
    def up(self) -> bool:
        """Operational: running, starting (slowstart) or stopping (NOLB)."""
        return self.op is not OpState.STOPPED

    @property
    def maint(self) -> bool:
        return bool(self.admin & ADMIN_MAINT)

    @property
    def drain(self) -> bool:
        return bool(self.admin & ADMIN_DRAIN)

    @property
    def usable(self) -> bool:
        """Whether new (non-persistent) traffic may go there."""
        return self.op in (OpState.STARTING, OpState.RUNNING) and not self.admin

    @property
    def accepts_persistent(self) -> bool:
        """Whether traffic that sticks to it (a persistence cookie) may still go there."""
        return self.up and not self.maint

    # -- HAProxy's words

    def status_text(self, rise: int, fall: int) -> str:
        """The stats "status": UP, DOWN, UP 1/3, DOWN 1/2, MAINT, DRAIN, NOLB, no check."""
        if self.maint:
            return "MAINT"
        if not self.checked:
            return "DRAIN" if self.drain else "no check"
        if not self.up:
            return f"DOWN {self.health}/{rise}" if self.health else "DOWN"
        word = "DRAIN" if self.drain else "NOLB" if self.op is OpState.STOPPING else "UP"
        full = rise + fall - 1
        return word if self.health >= full else f"{word} {self.health - rise + 1}/{fall}"

    # -- the slots

    def pack(self) -> tuple[int, int, int]:
        word = (
            int(self.op)
            | (self.admin & 0xFF) << 2
            | min(self.eweight, 511) << 10
            | min(self.uweight, 511) << 19
            | int(self.check_status) << 28
            | min(self.health, 0xFFFF) << 36
            | (_CHECKED if self.checked else 0)
            | _WRITTEN
        )
        check = (self.check_code & 0xFFFF) | min(self.check_duration_ms, 0xFFFFFFFF) << 16
        return word, check, self.last_change_ms

    @classmethod
    def unpack(cls, word: int, check: int = 0, since: int = 0) -> ServerState:
        return cls(
            op=OpState(word & 0x3),
            admin=word >> 2 & 0xFF,
            eweight=word >> 10 & 0x1FF,
            uweight=word >> 19 & 0x1FF,
            check_status=CheckStatus(word >> 28 & 0xFF),
            health=word >> 36 & 0xFFFF,
            checked=bool(word & _CHECKED),
            check_code=check & 0xFFFF,
            check_duration_ms=check >> 16 & 0xFFFFFFFF,
            last_change_ms=since,
        )

    def but(self, **changes: object) -> ServerState:
        return replace(self, **changes)  # type: ignore[arg-type]


# Decoding the state word on the hot path, without building a ServerState.


def word_written(word: int) -> bool:
    return bool(word & _WRITTEN)


def word_usable(word: int) -> bool:
    """Up (running or starting) and no admin flag: takes new traffic."""
    return (word & 0x3) in (1, 2) and not word >> 2 & 0xFF


def word_persistent_ok(word: int) -> bool:
    """Up (NOLB included) and not in maintenance: takes traffic that sticks to it."""
    return bool(word & 0x3) and not word >> 2 & ADMIN_MAINT


def word_eweight(word: int) -> int:
    return word >> 10 & 0x1FF


class StateSlots(NamedTuple):
    """Counter indexes (in ``SharedCounters``) of one server's three slots."""

    state: int
    check: int
    since: int


def state_slots(
    region: SharedRegion, slot_of: Callable[[str], int], backend: str, server: str
) -> StateSlots:
    """The counter indexes of a server's slots; ``slot_of`` maps a gauge name to its slot
    (the master's ``GaugeTable.slot``, a worker's ``boot.gauges.__getitem__``)."""
    names = GaugeNames.server_state(backend, server)
    state, check, since = (region.counter_index(slot_of(name)) for name in names)
    return StateSlots(state, check, since)


def version_index(region: SharedRegion, slot_of: Callable[[str], int]) -> int:
    return region.counter_index(slot_of(GaugeNames.SERVER_STATE_VERSION))


class ServerStateTable:
    """Reads and writes of the table through the region's atomic counters.

    The master writes with ``store`` (the check and time words first, the state
    word last, then the version); anyone reads with ``load``.
    """

    __slots__ = ("counters", "version_index")

    def __init__(self, counters: SharedCounters, version_index: int) -> None:
        self.counters = counters
        self.version_index = version_index

    def version(self) -> int:
        return self.counters.load(self.version_index)

    def load(self, slots: StateSlots) -> ServerState | None:
        """The server's state, or None when nothing was ever written there."""
        load = self.counters.load
        word = load(slots.state)
        if not word & _WRITTEN:
            return None
        return ServerState.unpack(word, load(slots.check), load(slots.since))

    def store(self, slots: StateSlots, state: ServerState, *, bump: bool = True) -> None:
        word, check, since = state.pack()
        store = self.counters.store
        store(slots.check, check)
        store(slots.since, since)
        store(slots.state, word)
        if bump:
            self.bump()

    def bump(self) -> None:
        """Tell the readers that something changed (after a batch of ``store``)."""
        self.counters.add(self.version_index, 1)
