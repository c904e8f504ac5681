"""The rise/fall counter and HAProxy's status strings, side by side with what HAProxy shows."""

from __future__ import annotations

import pytest

from lb.master.health.machine import HealthCounter, Phase, Transition
from lb.stats.server_state import ADMIN_CMAINT, ADMIN_FDRAIN, ADMIN_FMAINT, OpState, ServerState


def status(counter: HealthCounter, admin: int = 0) -> str:
    op = OpState.RUNNING if counter.up else OpState.STOPPED
    state = ServerState(op=op, admin=admin, health=counter.health, checked=True)
    return state.status_text(counter.rise, counter.fall)


# What HAProxy 2.6 showed for "check inter 300 rise 3 fall 4" (show stat, one line per check):
# a server that is listening from the start, and one that is not.
HAPROXY_SEQUENCES = [
    # (results, statuses after each result); the first status is before any check
    ([True, False, False, False, False], ["UP 1/4", "UP", "UP 3/4", "UP 2/4", "UP 1/4", "DOWN"]),
    ([False, True, True, True], ["UP 1/4", "DOWN", "DOWN 1/3", "DOWN 2/3", "UP"]),
    ([False, True, False, True], ["UP 1/4", "DOWN", "DOWN 1/3", "DOWN", "DOWN 1/3"]),
    ([True, False, True, False], ["UP 1/4", "UP", "UP 3/4", "UP", "UP 3/4"]),
]


@pytest.mark.parametrize(("results", "statuses"), HAPROXY_SEQUENCES)
def test_status_strings_follow_haproxy(results: list[bool], statuses: list[str]) -> None:
    counter = HealthCounter(rise=3, fall=4)
    seen = [status(counter)]
    for passed in results:
        counter.record(passed)
        seen.append(status(counter))
    assert seen == statuses


# (rise, fall, results, the transitions they cause)
TRANSITIONS = [
    (2, 3, [False], [Transition.WENT_DOWN]),  # starts one failure from down
    (2, 3, [True, False, False, False], [None, None, None, Transition.WENT_DOWN]),
    (2, 3, [False, True, True], [Transition.WENT_DOWN, None, Transition.WENT_UP]),
    (1, 1, [False, True, False], [Transition.WENT_DOWN, Transition.WENT_UP, Transition.WENT_DOWN]),
    (2, 3, [True, True, True], [None, None, None]),
    (
        3,
        2,
        [False, False, True, True, False, True, True, True],
        [
            Transition.WENT_DOWN,
            None,
            None,
            None,
            None,
            None,
            None,
            Transition.WENT_UP,
        ],
    ),
]


@pytest.mark.parametrize(("rise", "fall", "results", "expected"), TRANSITIONS)
def test_transitions(
    rise: int, fall: int, results: list[bool], expected: list[Transition | None]
) -> None:
    counter = HealthCounter(rise, fall)
    assert [counter.record(r) for r in results] == expected


@pytest.mark.parametrize(
    ("health", "phase"),
    [(0, Phase.DOWN), (1, Phase.GOING_UP), (2, Phase.GOING_DOWN), (3, Phase.GOING_DOWN),
     (4, Phase.UP)],
)  # fmt: skip
def test_phases(health: int, phase: Phase) -> None:
    assert HealthCounter(rise=2, fall=3, health=health).phase is phase


def test_health_stays_in_bounds() -> None:
    counter = HealthCounter(2, 3)
    for _ in range(10):
        counter.record(True)
    assert counter.health == 4
    for _ in range(10):
        counter.record(False)
    assert counter.health == 0
    assert HealthCounter(2, 3, health=99).health == 4


def test_retune_keeps_the_side_and_the_progress() -> None:
    counter = HealthCounter(2, 3)
    counter.record(True)  # fully up
    counter.retune(rise=5, fall=5)
    assert counter.phase is Phase.UP and counter.health == 9
    counter.record(False)
    counter.retune(rise=2, fall=2)
    assert counter.up and counter.phase is Phase.GOING_DOWN
    assert counter.health == 2  # one failure counted, as before
    down = HealthCounter(3, 3, health=2)  # DOWN 2/3
    down.retune(rise=2, fall=3)
    assert not down.up and down.health == 1
    down.retune(rise=4, fall=3)
    assert down.health == 1


def test_force_up_is_one_failure_from_down() -> None:
    counter = HealthCounter(2, 3, health=0)
    counter.force_up()
    assert counter.up
    assert counter.record(False) is Transition.WENT_DOWN


@pytest.mark.parametrize("bad", [(0, 1), (1, 0)])
def test_rise_and_fall_must_be_positive(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        HealthCounter(*bad)


# (state, rise, fall, status) — HAProxy 2.6 on the same situations
STATUSES = [
    (ServerState(checked=False), 2, 3, "no check"),
    (ServerState(checked=False, admin=ADMIN_FDRAIN), 2, 3, "DRAIN"),
    (ServerState(checked=False, admin=ADMIN_CMAINT, op=OpState.STOPPED), 2, 3, "MAINT"),
    (ServerState(checked=True, admin=ADMIN_FMAINT, health=4, op=OpState.STOPPED), 2, 3, "MAINT"),
    (ServerState(checked=True, health=4), 2, 3, "UP"),
    (ServerState(checked=True, health=2, admin=ADMIN_FDRAIN), 2, 3, "DRAIN 1/3"),
    (ServerState(checked=True, health=4, admin=ADMIN_FDRAIN), 2, 3, "DRAIN"),
    (ServerState(checked=True, health=4, op=OpState.STOPPING), 2, 3, "NOLB"),
    (ServerState(checked=True, health=0, op=OpState.STOPPED), 2, 3, "DOWN"),
    (ServerState(checked=True, health=1, op=OpState.STOPPED), 2, 3, "DOWN 1/2"),
    (ServerState(checked=True, health=3, op=OpState.STARTING), 2, 3, "UP 2/3"),
    (ServerState(checked=True, health=1, eweight=0), 1, 1, "UP"),  # weight 0 is still UP
]


@pytest.mark.parametrize(("state", "rise", "fall", "text"), STATUSES)
def test_status_text(state: ServerState, rise: int, fall: int, text: str) -> None:
    assert state.status_text(rise, fall) == text
