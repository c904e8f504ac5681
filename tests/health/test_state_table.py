"""The server state table in shared memory: packing, and a reader in another process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from lb.stats.server_state import (
    ADMIN_CMAINT,
    ADMIN_FDRAIN,
    ADMIN_FMAINT,
    CheckStatus,
    OpState,
    ServerState,
    ServerStateTable,
    state_slots,
    version_index,
    word_eweight,
    word_persistent_ok,
    word_usable,
    word_written,
)
from lb.stats.shm import GaugeTable, SharedRegion

STATES = [
    ServerState(),
    ServerState(
        op=OpState.STOPPED,
        admin=ADMIN_FMAINT | ADMIN_CMAINT,
        eweight=0,
        uweight=256,
        check_status=CheckStatus.L7STS,
        health=65535,
        checked=True,
        check_code=503,
        check_duration_ms=2**32 - 1,
        last_change_ms=1_700_000_000_123,
    ),
    ServerState(op=OpState.STARTING, eweight=37, uweight=100, check_status=CheckStatus.PROCOK),
]


@pytest.mark.parametrize("state", STATES)
def test_pack_roundtrip(state: ServerState) -> None:
    assert ServerState.unpack(*state.pack()) == state
    assert word_written(state.pack()[0])


# (state, usable for new traffic, usable for persistent traffic)
USABILITY = [
    (ServerState(op=OpState.RUNNING), True, True),
    (ServerState(op=OpState.STARTING), True, True),
    (ServerState(op=OpState.STOPPING), False, True),
    (ServerState(op=OpState.STOPPED), False, False),
    (ServerState(op=OpState.RUNNING, admin=ADMIN_FDRAIN), False, True),
    (ServerState(op=OpState.RUNNING, admin=ADMIN_FMAINT), False, False),
    (ServerState(op=OpState.RUNNING, admin=ADMIN_CMAINT), False, False),
]


@pytest.mark.parametrize(("state", "usable", "persistent"), USABILITY)
def test_usability_from_the_word(state: ServerState, usable: bool, persistent: bool) -> None:
    word = state.pack()[0]
    assert (word_usable(word), word_persistent_ok(word)) == (usable, persistent)
    assert (state.usable, state.accepts_persistent) == (usable, persistent)
    assert word_eweight(word) == state.eweight


@pytest.fixture
def region() -> Iterator[SharedRegion]:
    r = SharedRegion.create(capacity=64)
    yield r
    r.close()


def test_store_load_and_version(region: SharedRegion) -> None:
    gauges = GaugeTable(region.capacity)
    table = ServerStateTable(region.counters, version_index(region, gauges.slot))
    slots = state_slots(region, gauges.slot, "be", "s1")
    assert table.load(slots) is None  # never written
    assert table.version() == 0
    table.store(slots, STATES[1])
    assert table.load(slots) == STATES[1] and table.version() == 1
    table.store(slots, STATES[2], bump=False)
    assert table.load(slots) == STATES[2] and table.version() == 1
    other = state_slots(region, gauges.slot, "be", "s2")
    assert set(slots).isdisjoint(other)
    assert state_slots(region, gauges.slot, "be", "s1") == slots  # names keep their slots


READER = textwrap.dedent(
    """
    import sys, time
    from lb.stats.server_state import ServerStateTable, StateSlots
    from lb.stats.shm import SharedRegion
    fd, version_slot, *slots = (int(a) for a in sys.argv[1:])
    region = SharedRegion.attach(fd)
    table = ServerStateTable(region.counters, version_slot)
    seen = table.version()
    print("ready", flush=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        v = table.version()
        if v != seen:
            state = table.load(StateSlots(*slots))
            print(time.monotonic(), state.op.name, state.admin, state.eweight, flush=True)
            break
        time.sleep(0.001)
    """
)


def test_a_reader_in_another_process_sees_a_change_at_once(region: SharedRegion) -> None:
    gauges = GaugeTable(region.capacity)
    version = version_index(region, gauges.slot)
    table = ServerStateTable(region.counters, version)
    slots = state_slots(region, gauges.slot, "be", "s1")
    table.store(slots, ServerState())
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(region.fd), str(version), *map(str, slots)],
        pass_fds=[region.fd],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "ready"
        written = time.monotonic()
        table.store(slots, ServerState(op=OpState.STOPPED, admin=ADMIN_FDRAIN, eweight=7))
        line = reader.stdout.readline().split()
        reader.wait(10)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert line[1:] == ["STOPPED", str(ADMIN_FDRAIN), "7"]
    # well within one check interval (HAProxy's default inter is 2 s)
    assert float(line[0]) - written < 0.5
