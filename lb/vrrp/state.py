"""The VRRP state machine of RFC 5798 section 6.4 (RFC 3768 section 6.4 for VRRPv2).

Pure and clock-free: every method takes ``now`` (seconds, any monotonic origin) and returns the
actions the caller must carry out, in order: :class:`SendAdvert` (send an advertisement with
that priority) and :class:`Transition` (add or remove the VIPs, send gratuitous ARP / NA, run
notify scripts, log). The caller calls :meth:`Machine.on_timer` when :meth:`next_deadline`
has passed and :meth:`Machine.on_advert` for each advert that passed ``check_advert``.

Timers, as in the RFCs::

    v2: Skew_Time = (256 - Priority) / 256 s
    v3: Skew_Time = (256 - Priority) * Master_Adver_Interval / 256
    Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time

where Priority is the effective priority and, for VRRPv2, Master_Adver_Interval is always our
own Advertisement_Interval (v2 drops adverts with another interval). In VRRPv3 a backup takes
the interval of the adverts it accepts (keepalived does the same).

Where keepalived and the RFC part ways, this follows keepalived (sources in brackets):

- ``state MASTER`` is a hint that does not skip the election. keepalived always starts an
  instance in BACKUP; below priority 255 it becomes master only when the Master_Down_Interval
  (3 intervals + skew) runs out without a better advert [acassen/keepalived#1804 and #1835,
  maintainer's answers; keepalived.conf(5): "the entry here doesn't matter a whole lot"]. So
  ``initial_state`` changes nothing here below priority 255.
- Priority 255 (address owner) becomes MASTER at once, as RFC 5798 section 6.4.1 says.
  keepalived differs in detail: it waits one advert interval plus skew when ``state MASTER``
  is set, and a full Master_Down_Interval with ``state BACKUP`` or ``nopreempt``
  [keepalived#1835, pull #102]. Not copied: the RFC rule is the one peers rely on.
- A master that receives an advert it beats (lower priority, or equal priority from a lower
  address) answers at once with its own advert so that the other router learns who is master,
  instead of discarding it silently as the RFC says [keepalived's default; its
  ``vrrp_lower_prio_no_advert`` option restores the RFC behaviour; "Received advert with lower
  priority ..., forcing new election" in its logs, keepalived#632].
- ``preempt_delay``: documented by keepalived as the seconds "after startup or seeing a lower
  priority master until preemption", and it must not delay taking over when there is no master
  at all [keepalived#2231 quoting keepalived.conf(5); pull #82, which reverted a version that
  delayed start-up unconditionally]. Implemented as: in BACKUP with preemption on, the first
  advert from a lower-priority master starts the delay; until it has passed, such adverts are
  accepted as if preemption were off (timer reset, interval adopted), after which they are
  discarded and the Master_Down_Timer takes us over. The delay starts afresh whenever we enter
  BACKUP or accept an advert whose priority is at least ours. A master that falls silent is
  taken over after the plain Master_Down_Interval, delay or not.
- Effective priority (tracking) is clamped to 1..254; 255 only when the configured priority is
  255 (keepalived's rule for tracking weights).

Not done here: an address owner discarding every advert (RFC 5798 section 7.1), and
keepalived's lowering of its own priority to 254 when two owners meet; with the IP tie-break
two owners still settle on one master. Adverts that carry our own primary address (our own,
looped back) are ignored: answering them would make a master talk to itself forever.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

OWNER_PRIORITY = 255
MAX_TRACKED_PRIORITY = 254


class State(enum.StrEnum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"


@dataclass(frozen=True, slots=True)
class Params:
    """One instance's configuration, as the state machine needs it."""

    vrid: int
    version: int  # 2 or 3
    priority: int  # configured priority 1..255 (255 = address owner)
    advert_int: float  # seconds (v2: whole seconds; v3: centisecond resolution)
    primary_ip: str  # our address on the interface: the tie-breaker at equal priorities
    preempt: bool = True  # False = keepalived's nopreempt
    preempt_delay: float = 0.0  # seconds, keepalived's preempt_delay (see the module doc)
    initial_state: str = "BACKUP"  # keepalived's "state MASTER|BACKUP": a hint only

    def __post_init__(self) -> None:
        if not 1 <= self.vrid <= 255:
            raise ValueError(f"vrid must be 1..255, got {self.vrid}")
        if self.version not in (2, 3):
            raise ValueError(f"version must be 2 or 3, got {self.version}")
        if not 1 <= self.priority <= OWNER_PRIORITY:
            raise ValueError(f"priority must be 1..255, got {self.priority}")
        _check_interval(self.version, self.advert_int)
        ipaddress.ip_address(self.primary_ip)  # ValueError if it is not an address
        if self.preempt_delay < 0:
            raise ValueError(f"preempt_delay must be >= 0, got {self.preempt_delay}")
        if self.initial_state not in ("MASTER", "BACKUP"):
            raise ValueError(f"initial_state must be MASTER or BACKUP, got {self.initial_state}")


def _check_interval(version: int, seconds: float) -> None:
    # The wire carries whole seconds (v2) or centiseconds (v3); a value that cannot be sent
    # exactly would make our timers disagree with what peers are told.
    unit, top = (1.0, 255) if version == 2 else (0.01, 4095)
    steps = seconds / unit
    if abs(steps - round(steps)) > 1e-6 or not 1 <= round(steps) <= top:
        raise ValueError(f"advert_int {seconds} s cannot be sent in VRRPv{version}")


@dataclass(frozen=True, slots=True)
class SendAdvert:
    priority: int


@dataclass(frozen=True, slots=True)
class Transition:
    old: State
    new: State
    reason: str


Action = SendAdvert | Transition


class _Kind(enum.Enum):
    """How a received advert compares with us: what the RFC's rules branch on."""

    ZERO = "zero"  # priority 0: the master is resigning
    ABOVE = "above"  # higher priority than ours
    TIE_WINS = "tie_wins"  # equal priority, sender's primary address higher than ours
    TIE_LOSES = "tie_loses"  # equal priority, sender's address lower
    BELOW = "below"  # lower priority than ours


_Handler = Callable[["Machine", float, int, str, float], "list[Action]"]


class Machine:
    """One VRRP instance's state machine (see the module docstring for the rules)."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.state = State.INIT
        self.priority = params.priority  # effective priority, what we advertise
        self.master_adver_interval = params.advert_int
        self.master_ip: str | None = None  # ours when MASTER, else the master we accept
        self._primary = _ip_key(params.primary_ip)
        self._deadline: float | None = None  # Master_Down_Timer in BACKUP, Adver_Timer in MASTER
        self._lower_master_since: float | None = None  # preempt_delay clock

    # ------------------------------------------------------------------ timers

    @property
    def skew_time(self) -> float:
        if self.params.version == 2:
            return (256 - self.priority) / 256
        return (256 - self.priority) * self.master_adver_interval / 256

    @property
    def master_down_interval(self) -> float:
        return 3 * self.master_adver_interval + self.skew_time

    def next_deadline(self) -> float | None:
        return self._deadline

    # ------------------------------------------------------------------ events

    def start(self, now: float) -> list[Action]:
        """Initialize -> MASTER at once for the address owner, else BACKUP (module doc)."""
        if self.state is not State.INIT:
            return []
        self.master_adver_interval = self.params.advert_int
        if self.priority == OWNER_PRIORITY:
            return self._become_master(now, "address owner (priority 255)")
        return self._become_backup(now, "start")

    def on_advert(self, now: float, priority: int, src_ip: str, advert_int: float) -> list[Action]:
        """An advert that passed ``check_advert``; ``advert_int`` in seconds."""
        sender = _ip_key(src_ip)
        if sender == self._primary:
            return []  # our own advert looped back (see the module doc)
        handler = _ON_ADVERT.get((self.state, self._classify(priority, sender)))
        return handler(self, now, priority, src_ip, advert_int) if handler else []

    def on_timer(self, now: float) -> list[Action]:
        """The deadline passed; harmless when called early (does nothing then)."""
        if self._deadline is None or now < self._deadline:
            return []
        handler = _ON_TIMER.get(self.state)
        return handler(self, now) if handler else []

    def set_priority(self, now: float, priority: int) -> list[Action]:
        """Tracking changed the effective priority.

        Nothing is sent at once: a master advertises the new priority with its next advert,
        and a backup that now outranks the master (or is outranked) lets the ordinary rules
        play out. A backup with preemption discards adverts below its priority, so its
        Master_Down_Timer runs out and it takes over; a master that advertises less than a
        preempting backup is taken over the same way, then steps down on the backup's advert.
        """
        top = OWNER_PRIORITY if self.params.priority == OWNER_PRIORITY else MAX_TRACKED_PRIORITY
        self.priority = max(1, min(top, priority))
        return []

    def fault(self, now: float, reason: str) -> list[Action]:
        """-> FAULT: a master resigns with a priority-0 advert first; timers stop."""
        if self.state is State.FAULT:
            return []
        actions: list[Action] = [SendAdvert(0)] if self.state is State.MASTER else []
        actions.append(self._go(State.FAULT, f"fault: {reason}"))
        self._stop()
        return actions

    def recover(self, now: float) -> list[Action]:
        """FAULT -> BACKUP, then the normal election (even for the address owner)."""
        if self.state is not State.FAULT:
            return []
        self.master_adver_interval = self.params.advert_int
        return self._become_backup(now, "fault cleared")

    def force_master(self, now: float, reason: str) -> list[Action]:
        """BACKUP -> MASTER because the sync group says so (keepalived's vrrp_sync_group)."""
        if self.state is not State.BACKUP:
            return []
        return self._become_master(now, reason)

    def force_backup(self, now: float, reason: str) -> list[Action]:
        """MASTER -> BACKUP because the sync group says so; the election then runs as usual."""
        if self.state is not State.MASTER:
            return []
        return self._become_backup(now, reason)

    def shutdown(self, now: float) -> list[Action]:
        """-> INIT: a master resigns with a priority-0 advert first; FAULT sends nothing."""
        if self.state is State.INIT:
            return []
        actions: list[Action] = [SendAdvert(0)] if self.state is State.MASTER else []
        actions.append(self._go(State.INIT, "shutdown"))
        self._stop()
        return actions

    # ------------------------------------------------------------------ advert handlers

    def _classify(self, priority: int, sender: tuple[int, int]) -> _Kind:
        if priority == 0:
            return _Kind.ZERO
        if priority != self.priority:
            return _Kind.ABOVE if priority > self.priority else _Kind.BELOW
        return _Kind.TIE_WINS if sender > self._primary else _Kind.TIE_LOSES

    def _backup_master_resigned(
        self, now: float, priority: int, src: str, adv: float
    ) -> list[Action]:
        # RFC: Master_Down_Timer := Skew_Time, so the best backup answers first.
        self.master_ip = None
        self._deadline = now + self.skew_time
        return []

    def _backup_accept(self, now: float, priority: int, src: str, adv: float) -> list[Action]:
        self._lower_master_since = None
        return self._follow(now, src, adv)

    def _backup_lower(self, now: float, priority: int, src: str, adv: float) -> list[Action]:
        if not self.params.preempt or self._preempt_held(now):
            return self._follow(now, src, adv)
        return []  # discard: our Master_Down_Timer runs out and we preempt

    def _master_answer(self, now: float, priority: int, src: str, adv: float) -> list[Action]:
        # Priority 0 (RFC) or an advert we beat (keepalived): advertise now, re-arm.
        self._deadline = now + self.params.advert_int
        return [SendAdvert(self.priority)]

    def _master_yield(self, now: float, priority: int, src: str, adv: float) -> list[Action]:
        why = "higher priority" if priority > self.priority else "equal priority, higher address"
        self._adopt_interval(adv)
        self.master_ip = src
        transition = self._go(State.BACKUP, f"{why} advert from {src} ({priority})")
        self._lower_master_since = None
        self._deadline = now + self.master_down_interval
        return [transition]

    # ------------------------------------------------------------------ timer handlers

    def _backup_timeout(self, now: float) -> list[Action]:
        return self._become_master(now, "master down timer expired")

    def _master_advertise(self, now: float) -> list[Action]:
        self._deadline = now + self.params.advert_int
        return [SendAdvert(self.priority)]

    # ------------------------------------------------------------------ helpers

    def _follow(self, now: float, src: str, adv: float) -> list[Action]:
        """Accept ``src`` as master: adopt its interval (v3), reset the Master_Down_Timer."""
        self._adopt_interval(adv)
        self.master_ip = src
        self._deadline = now + self.master_down_interval
        return []

    def _adopt_interval(self, adv: float) -> None:
        # v2 adverts with another interval never get here (check_advert drops them), and
        # a zero interval cannot be decoded; keep ours if either slips through anyway.
        if self.params.version == 3 and adv > 0:
            self.master_adver_interval = adv

    def _preempt_held(self, now: float) -> bool:
        delay = self.params.preempt_delay
        if delay <= 0:
            return False
        if self._lower_master_since is None:
            self._lower_master_since = now
        return now < self._lower_master_since + delay

    def _become_master(self, now: float, reason: str) -> list[Action]:
        send = SendAdvert(self.priority)
        transition = self._go(State.MASTER, reason)
        self.master_ip = self.params.primary_ip
        self._lower_master_since = None
        self._deadline = now + self.params.advert_int
        return [send, transition]

    def _become_backup(self, now: float, reason: str) -> list[Action]:
        transition = self._go(State.BACKUP, reason)
        self.master_ip = None
        self._lower_master_since = None
        self._deadline = now + self.master_down_interval
        return [transition]

    def _go(self, new: State, reason: str) -> Transition:
        old, self.state = self.state, new
        return Transition(old, new, reason)

    def _stop(self) -> None:
        self._deadline = None
        self.master_ip = None
        self._lower_master_since = None


def _ip_key(text: str) -> tuple[int, int]:
    # Compare as numbers, family first, so "10.0.0.10" beats "10.0.0.9" (text would not).
    addr = ipaddress.ip_address(text)
    return addr.version, int(addr)


# (state, kind of advert) -> handler; a pair that is absent means "ignore" (INIT, FAULT).
_ON_ADVERT: dict[tuple[State, _Kind], _Handler] = {
    (State.BACKUP, _Kind.ZERO): Machine._backup_master_resigned,
    (State.BACKUP, _Kind.ABOVE): Machine._backup_accept,
    (State.BACKUP, _Kind.TIE_WINS): Machine._backup_accept,
    (State.BACKUP, _Kind.TIE_LOSES): Machine._backup_accept,  # RFC: ">= local priority"
    (State.BACKUP, _Kind.BELOW): Machine._backup_lower,
    (State.MASTER, _Kind.ZERO): Machine._master_answer,
    (State.MASTER, _Kind.ABOVE): Machine._master_yield,
    (State.MASTER, _Kind.TIE_WINS): Machine._master_yield,
    (State.MASTER, _Kind.TIE_LOSES): Machine._master_answer,
    (State.MASTER, _Kind.BELOW): Machine._master_answer,
}

# state -> what its one timer does (Master_Down_Timer in BACKUP, Adver_Timer in MASTER).
_ON_TIMER: dict[State, Callable[[Machine, float], list[Action]]] = {
    State.BACKUP: Machine._backup_timeout,
    State.MASTER: Machine._master_advertise,
}
