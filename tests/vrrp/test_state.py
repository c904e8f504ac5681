"""VRRP state machine: timer formulas, every (state, event) pair, and elections on a fake LAN."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lb.vrrp.state import Machine, Params, SendAdvert, State, Transition

# ---------------------------------------------------------------- a simulated LAN


@dataclass
class Node:
    machine: Machine
    alive: bool = True  # False: killed, it neither hears, speaks nor keeps time
    muted: bool = False  # its adverts are lost on the way (a one-way link failure)


@dataclass
class Net:
    """Machines on one segment, a fake clock, adverts delivered after ``delay`` seconds."""

    delay: float = 0.0
    now: float = 0.0
    nodes: dict[str, Node] = field(default_factory=dict)
    transitions: list[tuple[float, str, Transition]] = field(default_factory=list)
    sent: list[tuple[float, str, int]] = field(default_factory=list)
    _queue: list[tuple[float, int, str, int, float]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, params: Params) -> Machine:
        machine = Machine(params)
        self.nodes[params.primary_ip] = Node(machine)
        return machine

    def m(self, ip: str) -> Machine:
        return self.nodes[ip].machine

    def apply(self, ip: str, actions: list[SendAdvert | Transition]) -> None:
        for action in actions:
            if isinstance(action, Transition):
                self.transitions.append((self.now, ip, action))
                continue
            self.sent.append((self.now, ip, action.priority))
            if self.nodes[ip].muted or not self.nodes[ip].alive:
                continue
            interval = self.m(ip).params.advert_int
            item = (self.now + self.delay, next(self._seq), ip, action.priority, interval)
            heapq.heappush(self._queue, item)

    def start(self, ip: str) -> None:
        self.nodes[ip].alive = True
        self.apply(ip, self.m(ip).start(self.now))

    def call(self, ip: str, method: str, *args: object) -> None:
        self.apply(ip, getattr(self.m(ip), method)(self.now, *args))

    def kill(self, ip: str) -> None:
        self.nodes[ip].alive = False

    def run_until(self, end: float) -> None:
        for _ in range(100_000):
            deadlines = [
                (d, ip)
                for ip, node in self.nodes.items()
                if node.alive and (d := node.machine.next_deadline()) is not None
            ]
            next_timer = min(deadlines, default=None)
            next_packet = self._queue[0][0] if self._queue else None
            # Packets before timers at the same instant: an advert that arrives exactly when
            # a timer would fire still counts (the caller's socket is read first).
            if (
                next_packet is not None
                and next_packet <= end
                and (next_timer is None or next_packet <= next_timer[0])
            ):
                self.now, _, src, priority, interval = heapq.heappop(self._queue)
                for ip, node in self.nodes.items():
                    if ip != src and node.alive:
                        self.apply(ip, node.machine.on_advert(self.now, priority, src, interval))
            elif next_timer is not None and next_timer[0] <= end:
                self.now, ip = next_timer
                self.apply(ip, self.m(ip).on_timer(self.now))
            else:
                self.now = end
                return
        raise AssertionError("the simulation does not settle")

    def masters(self) -> list[str]:
        return [ip for ip, n in self.nodes.items() if n.alive and n.machine.state is State.MASTER]

    def became(self, ip: str, state: State, after: float = -1.0) -> float:
        """When ``ip`` last entered ``state`` after ``after``."""
        times = [
            t for t, who, tr in self.transitions if who == ip and tr.new is state and t > after
        ]
        assert times, f"{ip} never became {state} after {after}"
        return times[-1]

    def last_sent(self, ip: str, before: float) -> float:
        return max(t for t, who, _ in self.sent if who == ip and t <= before)


def params(ip: str, priority: int, **kw: object) -> Params:
    base: dict[str, object] = {"vrid": 1, "version": 3, "advert_int": 1.0}
    base.update(kw)
    return Params(priority=priority, primary_ip=ip, **base)  # type: ignore[arg-type]


A, B, C = "10.0.0.1", "10.0.0.2", "10.0.0.3"

# ---------------------------------------------------------------- timer formulas


@pytest.mark.parametrize(
    ("version", "priority", "advert_int", "skew", "down"),
    [
        # v2: Skew_Time = (256 - p) / 256, whatever the interval.
        (2, 100, 1.0, 156 / 256, 3 + 156 / 256),
        (2, 200, 3.0, 56 / 256, 9 + 56 / 256),
        (2, 255, 1.0, 1 / 256, 3 + 1 / 256),
        (2, 1, 1.0, 255 / 256, 3 + 255 / 256),
        # v3: Skew_Time = (256 - p) * Master_Adver_Interval / 256.
        (3, 100, 1.0, 156 / 256, 3 + 156 / 256),
        (3, 100, 0.5, 78 / 256, 1.5 + 78 / 256),
        (3, 200, 3.0, 168 / 256, 9 + 168 / 256),
        (3, 255, 0.01, 0.01 / 256, 0.03 + 0.01 / 256),
    ],
)
def test_timer_formulas(
    version: int, priority: int, advert_int: float, skew: float, down: float
) -> None:
    m = Machine(params(A, priority, version=version, advert_int=advert_int))
    assert m.skew_time == pytest.approx(skew)
    assert m.master_down_interval == pytest.approx(down)


def test_v3_formulas_follow_the_adopted_interval() -> None:
    m = Machine(params(A, 100, advert_int=1.0))
    m.start(0.0)
    m.on_advert(0.0, 150, B, 0.25)
    assert m.master_adver_interval == 0.25
    assert m.skew_time == pytest.approx(156 * 0.25 / 256)
    assert m.master_down_interval == pytest.approx(0.75 + 156 * 0.25 / 256)
    assert m.next_deadline() == pytest.approx(m.master_down_interval)


def test_v2_never_adopts_an_interval() -> None:
    m = Machine(params(A, 100, version=2, advert_int=1.0))
    m.start(0.0)
    m.on_advert(0.0, 150, B, 3.0)
    assert m.master_adver_interval == 1.0
    assert m.master_down_interval == pytest.approx(3 + 156 / 256)


@pytest.mark.parametrize(
    "kw",
    [
        {"vrid": 0},
        {"vrid": 256},
        {"version": 1},
        {"priority": 0},
        {"priority": 256},
        {"version": 2, "advert_int": 0.5},
        {"version": 2, "advert_int": 256.0},
        {"advert_int": 0.0},
        {"advert_int": 0.005},
        {"advert_int": 40.96},
        {"primary_ip": "not-an-ip"},
        {"preempt_delay": -1.0},
        {"initial_state": "FAULT"},
    ],
)
def test_params_refuse(kw: dict[str, object]) -> None:
    base: dict[str, object] = {
        "vrid": 1,
        "version": 3,
        "priority": 100,
        "advert_int": 1.0,
        "primary_ip": A,
    }
    with pytest.raises(ValueError):
        Params(**{**base, **kw})  # type: ignore[arg-type]


def test_params_accept_limits() -> None:
    Params(vrid=255, version=3, priority=255, advert_int=40.95, primary_ip="fe80::1")
    Params(vrid=1, version=3, priority=1, advert_int=0.01, primary_ip=A)
    Params(vrid=1, version=2, priority=1, advert_int=255.0, primary_ip=A)


# ---------------------------------------------------------------- every (state, event) pair

# The machine under test: v3, priority 100, 1 s, primary 10.0.0.2 (B). Adverts come with a 2 s
# interval so that adoption shows. Deadlines: "down" = now + Master_Down_Interval (after the
# event), "skew" = now + Skew_Time, "adv" = now + 1 s, "same" = unchanged, None = no timer.
NOW = 50.0
EVENTS = {
    "start": lambda m: m.start(NOW),
    "timer": lambda m: m.on_timer(NOW),
    "advert_zero": lambda m: m.on_advert(NOW, 0, C, 2.0),
    "advert_above": lambda m: m.on_advert(NOW, 150, A, 2.0),
    "advert_tie_higher_ip": lambda m: m.on_advert(NOW, 100, C, 2.0),
    "advert_tie_lower_ip": lambda m: m.on_advert(NOW, 100, A, 2.0),
    "advert_below": lambda m: m.on_advert(NOW, 50, C, 2.0),
    "advert_own": lambda m: m.on_advert(NOW, 100, B, 2.0),
    "set_priority": lambda m: m.set_priority(NOW, 120),
    "fault": lambda m: m.fault(NOW, "link down"),
    "recover": lambda m: m.recover(NOW),
    "shutdown": lambda m: m.shutdown(NOW),
}


def machine_in(state: State) -> Machine:
    m = Machine(params(B, 100))
    if state is State.INIT:
        return m
    m.start(0.0)
    if state is State.MASTER:
        m.on_timer(m.next_deadline() or 0.0)
        # Keep the Adver_Timer due exactly at NOW so that the "timer" event fires it.
        m.on_timer(NOW - 1.0)
    elif state is State.FAULT:
        m.fault(0.0, "test")
    else:
        m.on_advert(NOW - m.master_down_interval, 150, A, 1.0)  # Master_Down_Timer due at NOW
    assert m.state is state
    return m


T = Transition
S = State
TABLE = [
    # INIT: only start does anything; fault is possible before start (interface down at boot).
    (S.INIT, "start", S.BACKUP, [T(S.INIT, S.BACKUP, "start")], "down"),
    (S.INIT, "timer", S.INIT, [], None),
    (S.INIT, "advert_above", S.INIT, [], None),
    (S.INIT, "advert_below", S.INIT, [], None),
    (S.INIT, "advert_zero", S.INIT, [], None),
    (S.INIT, "set_priority", S.INIT, [], None),
    (S.INIT, "fault", S.FAULT, [T(S.INIT, S.FAULT, "fault: link down")], None),
    (S.INIT, "recover", S.INIT, [], None),
    (S.INIT, "shutdown", S.INIT, [], None),
    # BACKUP
    (S.BACKUP, "start", S.BACKUP, [], "same"),
    (S.BACKUP, "timer", S.MASTER,
     [SendAdvert(100), T(S.BACKUP, S.MASTER, "master down timer expired")], "adv"),
    (S.BACKUP, "advert_zero", S.BACKUP, [], "skew"),
    (S.BACKUP, "advert_above", S.BACKUP, [], "down"),
    (S.BACKUP, "advert_tie_higher_ip", S.BACKUP, [], "down"),
    (S.BACKUP, "advert_tie_lower_ip", S.BACKUP, [], "down"),  # RFC: priority >= ours
    (S.BACKUP, "advert_below", S.BACKUP, [], "same"),  # preempt: discard
    (S.BACKUP, "advert_own", S.BACKUP, [], "same"),
    (S.BACKUP, "set_priority", S.BACKUP, [], "same"),
    (S.BACKUP, "fault", S.FAULT, [T(S.BACKUP, S.FAULT, "fault: link down")], None),
    (S.BACKUP, "recover", S.BACKUP, [], "same"),
    (S.BACKUP, "shutdown", S.INIT, [T(S.BACKUP, S.INIT, "shutdown")], None),
    # MASTER
    (S.MASTER, "start", S.MASTER, [], "same"),
    (S.MASTER, "timer", S.MASTER, [SendAdvert(100)], "adv"),
    (S.MASTER, "advert_zero", S.MASTER, [SendAdvert(100)], "adv"),
    (S.MASTER, "advert_above", S.BACKUP,
     [T(S.MASTER, S.BACKUP, "higher priority advert from 10.0.0.1 (150)")], "down"),
    (S.MASTER, "advert_tie_higher_ip", S.BACKUP,
     [T(S.MASTER, S.BACKUP, "equal priority, higher address advert from 10.0.0.3 (100)")],
     "down"),
    (S.MASTER, "advert_tie_lower_ip", S.MASTER, [SendAdvert(100)], "adv"),  # keepalived
    (S.MASTER, "advert_below", S.MASTER, [SendAdvert(100)], "adv"),  # keepalived
    (S.MASTER, "advert_own", S.MASTER, [], "same"),
    (S.MASTER, "set_priority", S.MASTER, [], "same"),
    (S.MASTER, "fault", S.FAULT,
     [SendAdvert(0), T(S.MASTER, S.FAULT, "fault: link down")], None),
    (S.MASTER, "recover", S.MASTER, [], "same"),
    (S.MASTER, "shutdown", S.INIT, [SendAdvert(0), T(S.MASTER, S.INIT, "shutdown")], None),
    # FAULT: deaf and mute until recover.
    (S.FAULT, "start", S.FAULT, [], None),
    (S.FAULT, "timer", S.FAULT, [], None),
    (S.FAULT, "advert_zero", S.FAULT, [], None),
    (S.FAULT, "advert_above", S.FAULT, [], None),
    (S.FAULT, "advert_below", S.FAULT, [], None),
    (S.FAULT, "set_priority", S.FAULT, [], None),
    (S.FAULT, "fault", S.FAULT, [], None),
    (S.FAULT, "recover", S.BACKUP, [T(S.FAULT, S.BACKUP, "fault cleared")], "down"),
    (S.FAULT, "shutdown", S.INIT, [T(S.FAULT, S.INIT, "shutdown")], None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("state", "event", "new", "actions", "deadline"),
    TABLE,
    ids=[f"{row[0]}-{row[1]}" for row in TABLE],
)
def test_state_event_table(
    state: State, event: str, new: State, actions: list[object], deadline: str | None
) -> None:
    m = machine_in(state)
    before = m.next_deadline()
    got = EVENTS[event](m)
    assert got == actions
    assert m.state is new
    expected = {
        None: None,
        "same": before,
        "down": NOW + m.master_down_interval,
        "skew": NOW + m.skew_time,
        "adv": NOW + 1.0,
    }[deadline]
    assert m.next_deadline() == (pytest.approx(expected) if expected is not None else None)


def test_table_covers_every_state() -> None:
    assert {row[0] for row in TABLE} == set(State)


def test_timer_called_early_does_nothing() -> None:
    for state in (State.BACKUP, State.MASTER):
        m = machine_in(state)
        deadline = m.next_deadline()
        assert deadline is not None
        assert m.on_timer(deadline - 0.001) == []
        assert m.state is state and m.next_deadline() == deadline


def test_master_ip_tracking() -> None:
    m = machine_in(State.BACKUP)
    assert m.master_ip == A
    m.on_advert(NOW, 0, A, 1.0)
    assert m.master_ip is None  # the master resigned
    m.on_timer(m.next_deadline() or 0.0)
    assert m.master_ip == B  # ourselves
    m.fault(NOW + 5, "x")
    assert m.master_ip is None


def test_v3_interval_adopted_when_master_yields() -> None:
    m = machine_in(State.MASTER)
    m.on_advert(NOW, 150, A, 0.3)
    assert m.master_adver_interval == 0.3
    assert m.next_deadline() == pytest.approx(NOW + 0.9 + 156 * 0.3 / 256)


def test_recover_resets_the_adopted_interval() -> None:
    m = machine_in(State.BACKUP)
    m.on_advert(NOW, 150, A, 3.0)
    m.fault(NOW, "x")
    m.recover(NOW)
    assert m.master_adver_interval == 1.0


@pytest.mark.parametrize(
    ("configured", "asked", "effective"),
    [
        (100, 120, 120),
        (100, 300, 254),  # tracking never makes an owner
        (100, 255, 254),
        (100, 0, 1),
        (100, -50, 1),
        (255, 300, 255),  # an owner stays an owner...
        (255, 235, 235),  # ...unless tracking takes weight off it
        (254, 255, 254),
    ],
)
def test_set_priority_clamps(configured: int, asked: int, effective: int) -> None:
    m = Machine(params(A, configured))
    assert m.set_priority(0.0, asked) == []
    assert m.priority == effective


def test_master_advertises_its_effective_priority() -> None:
    m = machine_in(State.MASTER)
    m.set_priority(NOW - 0.5, 42)
    assert m.on_timer(NOW) == [SendAdvert(42)]


def test_owner_starts_as_master() -> None:
    m = Machine(params(A, 255))
    assert m.start(0.0) == [
        SendAdvert(255),
        Transition(State.INIT, State.MASTER, "address owner (priority 255)"),
    ]
    assert m.next_deadline() == 1.0


@pytest.mark.parametrize("priority", [1, 100, 254])
def test_state_master_hint_still_waits_for_the_election(priority: int) -> None:
    m = Machine(params(A, priority, initial_state="MASTER"))
    assert m.start(0.0) == [Transition(State.INIT, State.BACKUP, "start")]
    assert m.next_deadline() == pytest.approx(m.master_down_interval)


def test_recover_does_not_make_an_owner_master_at_once() -> None:
    m = Machine(params(A, 255))
    m.start(0.0)
    m.fault(1.0, "x")
    assert m.recover(2.0) == [Transition(State.FAULT, State.BACKUP, "fault cleared")]


def test_restart_after_shutdown() -> None:
    m = machine_in(State.MASTER)
    m.shutdown(NOW)
    assert m.next_deadline() is None
    assert m.start(NOW + 1) == [Transition(State.INIT, State.BACKUP, "start")]


def test_ip_tie_break_is_numeric() -> None:
    # "10.0.0.10" < "10.0.0.9" as text; as addresses .10 is higher and must win.
    m = Machine(params("10.0.0.9", 100))
    m.start(0.0)
    m.on_timer(m.next_deadline() or 0.0)
    got = m.on_advert(10.0, 100, "10.0.0.10", 1.0)
    assert [type(a) for a in got] == [Transition]
    assert m.state is State.BACKUP


# ---------------------------------------------------------------- elections on the fake LAN


def two(prio_a: int = 200, prio_b: int = 100, delay: float = 0.0, **kw: object) -> Net:
    net = Net(delay=delay)
    net.add(params(A, prio_a, **kw))
    net.add(params(B, prio_b, **kw))
    net.start(A)
    net.start(B)
    net.run_until(10.0)
    return net


@pytest.mark.parametrize("version", [2, 3])
def test_highest_priority_wins_at_start(version: int) -> None:
    net = two(version=version)
    assert net.masters() == [A]
    # Both start as backups; the higher priority has the shorter Master_Down_Interval.
    assert net.became(A, State.MASTER) == pytest.approx(net.m(A).master_down_interval)


@pytest.mark.parametrize("version", [2, 3])
def test_failover_after_master_down_interval(version: int) -> None:
    net = two(version=version)
    net.kill(A)
    net.run_until(30.0)
    assert net.masters() == [B]
    last = net.last_sent(A, 10.0)
    assert net.became(B, State.MASTER) == pytest.approx(last + net.m(B).master_down_interval)


@pytest.mark.parametrize("version", [2, 3])
def test_shutdown_takeover_after_skew_time(version: int) -> None:
    net = two(version=version)
    net.call(A, "shutdown")  # sends priority 0 before going quiet
    net.kill(A)
    net.run_until(30.0)
    assert net.masters() == [B]
    assert net.became(B, State.MASTER) == pytest.approx(10.0 + net.m(B).skew_time)


def test_preempt_when_higher_priority_returns() -> None:
    net = two()
    net.call(A, "shutdown")
    net.kill(A)
    net.run_until(20.0)
    assert net.masters() == [B]
    net.start(A)  # at 20.0: BACKUP, hears B's lower adverts, discards them, takes over
    net.run_until(40.0)
    assert net.masters() == [A]
    assert net.became(A, State.MASTER, after=20.0) == pytest.approx(
        20.0 + net.m(A).master_down_interval
    )
    assert net.m(B).state is State.BACKUP
    assert net.became(B, State.BACKUP, after=20.0) == net.became(A, State.MASTER, after=20.0)


def test_nopreempt_is_honoured() -> None:
    net = two(preempt=False)
    net.call(A, "shutdown")
    net.kill(A)
    net.run_until(20.0)
    net.start(A)
    net.run_until(120.0)
    assert net.masters() == [B]
    assert net.m(A).state is State.BACKUP
    assert net.m(A).master_ip == B


def test_equal_priorities_higher_ip_wins() -> None:
    # With a delivery delay both time out together, both become master, and the one with the
    # lower address steps down on hearing the other.
    net = two(prio_a=100, prio_b=100, delay=0.05)
    assert net.masters() == [B]
    assert net.became(A, State.MASTER) == pytest.approx(net.m(A).master_down_interval)
    assert net.m(A).state is State.BACKUP


def test_owner_wins_at_once() -> None:
    net = Net()
    net.add(params(A, 100))
    net.add(params(B, 255))
    net.start(A)
    net.run_until(10.0)
    assert net.masters() == [A]
    net.start(B)
    assert net.m(B).state is State.MASTER  # no waiting at all
    net.run_until(10.5)
    assert net.masters() == [B]
    assert net.became(A, State.BACKUP) == 10.0


def test_v3_backup_adopts_masters_interval() -> None:
    net = Net()
    net.add(params(A, 200, advert_int=0.5))
    net.add(params(B, 100, advert_int=2.0))
    net.start(A)
    net.start(B)
    net.run_until(10.0)
    assert net.masters() == [A]
    assert net.m(B).master_adver_interval == 0.5
    net.kill(A)
    net.run_until(20.0)
    last = net.last_sent(A, 10.0)
    # Failover in 3 * 0.5 s + skew, not 3 * 2 s: the backup took the master's pace.
    assert net.became(B, State.MASTER) == pytest.approx(last + 1.5 + 156 * 0.5 / 256)


def test_fault_then_recover() -> None:
    net = two()
    net.call(A, "fault", "eth0 down")
    net.run_until(11.0)
    assert net.masters() == [B]
    assert net.became(B, State.MASTER) == pytest.approx(10.0 + net.m(B).skew_time)
    # FAULT is mute: no more adverts from A.
    assert [t for t, who, p in net.sent if who == A and t > 10.0] == []
    net.call(A, "recover")
    net.run_until(30.0)
    assert net.masters() == [A]
    assert net.became(A, State.MASTER, after=11.0) == pytest.approx(
        11.0 + net.m(A).master_down_interval
    )


def test_master_priority_drop_lets_backup_preempt() -> None:
    net = two(prio_a=200, prio_b=150)
    net.call(A, "set_priority", 100)  # tracking took 100 off A at t=10
    net.run_until(30.0)
    assert net.masters() == [B]
    # B stops resetting its timer at A's first advert below 150 and takes over a
    # Master_Down_Interval after the last acceptable one.
    last_good = max(t for t, who, p in net.sent if who == A and p == 200)
    assert net.became(B, State.MASTER) == pytest.approx(last_good + net.m(B).master_down_interval)
    assert net.m(A).state is State.BACKUP
    assert net.became(A, State.BACKUP) == net.became(B, State.MASTER)


def test_backup_priority_rise_takes_over() -> None:
    net = two(prio_a=200, prio_b=150)
    armed_with = net.m(B).master_down_interval  # the timer already running, at priority 150
    net.call(B, "set_priority", 220)
    net.run_until(30.0)
    assert net.masters() == [B]
    # A's adverts (200) are now below B (220) and discarded: the timer that was running when
    # the priority changed runs out, a Master_Down_Interval after A's last accepted advert.
    last_reset = max(t for t, who, _ in net.sent if who == A and t <= 10.0)
    assert net.became(B, State.MASTER) == pytest.approx(last_reset + armed_with)
    assert net.m(A).state is State.BACKUP


def test_silenced_master_splits_then_heals() -> None:
    net = two()
    net.nodes[A].muted = True  # A's adverts are lost, A still hears B
    net.run_until(20.0)
    # B takes over; A, hearing B's lower adverts, stays master and answers (keepalived).
    assert sorted(net.masters()) == [A, B]
    net.nodes[A].muted = False
    net.run_until(30.0)
    assert net.masters() == [A]


def test_preempt_delay_holds_then_preempts() -> None:
    net = Net()
    net.add(params(A, 200, preempt_delay=10.0))
    net.add(params(B, 100))
    net.start(B)
    net.run_until(20.0)
    assert net.masters() == [B]
    net.start(A)
    net.run_until(40.0)
    # A hears B's first advert at t=20 (B's pace is 1 s, from its own start); the delay runs to
    # 30, after which B's adverts are discarded and A's Master_Down_Timer runs out.
    first_heard = min(t for t, who, _ in net.sent if who == B and t >= 20.0)
    last_accepted = max(t for t, who, _ in net.sent if who == B and t < first_heard + 10.0)
    assert net.became(A, State.MASTER) == pytest.approx(
        last_accepted + net.m(A).master_down_interval
    )
    assert net.became(A, State.MASTER) > first_heard + 10.0
    assert net.masters() == [A]


def test_preempt_delay_does_not_delay_an_empty_segment() -> None:
    net = Net()
    net.add(params(A, 200, preempt_delay=300.0))
    net.start(A)
    net.run_until(10.0)
    assert net.became(A, State.MASTER) == pytest.approx(net.m(A).master_down_interval)


def test_preempt_delay_does_not_delay_failover() -> None:
    net = Net()
    net.add(params(A, 200, preempt_delay=300.0))
    net.add(params(B, 100))
    net.start(B)
    net.run_until(20.0)
    net.start(A)
    net.run_until(30.0)
    assert net.masters() == [B]  # held by the delay
    net.kill(B)
    net.run_until(40.0)
    last = net.last_sent(B, 30.0)
    assert net.became(A, State.MASTER) == pytest.approx(last + net.m(A).master_down_interval)


def test_three_routers_middle_takes_over() -> None:
    net = Net()
    for ip, prio in ((A, 100), (B, 150), (C, 200)):
        net.add(params(ip, prio))
        net.start(ip)
    net.run_until(10.0)
    assert net.masters() == [C]
    net.call(C, "shutdown")
    net.kill(C)
    net.run_until(20.0)
    # Priority 0 sets both backups' timers to their Skew_Time: the higher priority answers first.
    assert net.masters() == [B]
    assert net.became(B, State.MASTER) == pytest.approx(10.0 + net.m(B).skew_time)
    assert [tr for _, who, tr in net.transitions if who == A][-1].new is State.BACKUP


@settings(max_examples=150, deadline=None)
@given(
    version=st.sampled_from([2, 3]),
    nodes=st.lists(
        st.tuples(
            st.integers(1, 254),  # priority
            st.booleans(),  # preempt
            st.sampled_from([0.5, 1.0, 2.0]),  # advert_int (v3 only)
            st.floats(0.0, 5.0),  # start time
        ),
        min_size=2,
        max_size=3,
    ),
    delay=st.sampled_from([0.0, 0.01, 0.2]),
    ips=st.permutations([A, B, C, "10.0.0.10"]),
)
def test_exactly_one_master_after_convergence(
    version: int,
    nodes: list[tuple[int, bool, float, float]],
    delay: float,
    ips: list[str],
) -> None:
    net = Net(delay=delay)
    starts = []
    for ip, (prio, preempt, interval, start) in zip(ips, nodes, strict=False):
        net.add(params(ip, prio, version=version, preempt=preempt,
                       advert_int=interval if version == 3 else 1.0))  # fmt: skip
        starts.append((start, ip))
    for start, ip in sorted(starts):
        net.run_until(start)
        net.start(ip)
    net.run_until(60.0)
    masters = net.masters()
    assert len(masters) == 1
    if all(preempt for _, preempt, _, _ in nodes):
        top = max(prio for prio, _, _, _ in nodes)
        assert net.m(masters[0]).priority == top
    for ip in net.nodes:
        if ip != masters[0]:
            assert net.m(ip).state is State.BACKUP
            assert net.m(ip).master_ip == masters[0]


def test_sync_group_forcing_moves_only_backup_and_master() -> None:
    from lb.vrrp.state import Machine, Params, SendAdvert, State

    m = Machine(Params(vrid=1, version=3, priority=100, advert_int=1.0, primary_ip="10.0.0.1"))
    m.start(0.0)
    assert m.state == State.BACKUP
    actions = m.force_master(0.5, "group")
    assert m.state == State.MASTER and isinstance(actions[0], SendAdvert)
    assert m.force_master(0.6, "group") == []  # already master
    m.force_backup(0.7, "group")
    assert m.state == State.BACKUP
    assert m.next_deadline() == pytest.approx(0.7 + m.master_down_interval)
    m.fault(0.8, "x")
    assert m.force_master(0.9, "group") == [] and m.state == State.FAULT
