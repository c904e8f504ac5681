"""The runtime API's statistics and server commands, on a master's region."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from lb.master.runtime_api import RuntimeApi
from lb.stats.admin import FrameDecoder, allowed_from_worker, encode_frame
from lb.stats.runtime import admin_flags, parse_weight
from lb.stats.server_state import (
    ADMIN_CMAINT,
    ADMIN_FDRAIN,
    ADMIN_FMAINT,
    ServerStateTable,
    state_slots,
    version_index,
)
from tests.stats.helpers import Rig, load


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[RuntimeApi, Rig]]:
    rig = Rig(load(tmp_path))
    arbiter = SimpleNamespace(
        current=SimpleNamespace(config=rig.config, maxconn=1000, number=1, nworkers=1),
        stats=rig.stats,
        region=rig.region,
        gauges=rig.gauges,
    )
    try:
        yield RuntimeApi(arbiter), rig  # type: ignore[arg-type]
    finally:
        rig.close()


def run(api: RuntimeApi, command: str, level: int = 2) -> str:
    return asyncio.run(api.execute(command, level))


def state(rig: Rig, backend: str, server: str):  # type: ignore[no-untyped-def]
    table = ServerStateTable(rig.region.counters, version_index(rig.region, rig.gauges.slot))
    return table.load(state_slots(rig.region, rig.gauges.slot, backend, server))


def test_show_stat_in_three_forms(api: tuple[RuntimeApi, Rig]) -> None:
    a, _rig = api
    assert run(a, "show stat").startswith("# pxname,svname,")
    assert run(a, "show stat").endswith(",\n\n")
    assert run(a, "show stat typed").startswith("F.1.0.0.pxname.1:KNS:str:web\n")
    assert run(a, "show stat json").startswith('[[{"objType":"Frontend"')


@pytest.mark.parametrize(
    ("commands", "admin", "weights"),
    [
        (["set server app/s1 state maint"], ADMIN_FMAINT, (1, 1)),
        (["set server app/s1 state drain"], ADMIN_FDRAIN, (1, 1)),
        (["set server app/s1 state maint", "set server app/s1 state ready"], 0, (1, 1)),
        (["disable server app/s1"], ADMIN_FMAINT, (1, 1)),
        (["disable server app/s1", "enable server app/s1"], 0, (1, 1)),
        (["set weight app/s1 7"], 0, (7, 7)),
        (["set weight app/s1 50%"], 0, (0, 0)),  # of the configured weight 1
    ],
)
def test_server_commands_write_the_state_table(
    api: tuple[RuntimeApi, Rig], commands: list[str], admin: int, weights: tuple[int, int]
) -> None:
    a, rig = api
    for command in commands:
        assert run(a, command) == "\n", command
    s = state(rig, "app", "s1")
    assert s is not None
    assert s.admin == admin
    assert (s.eweight, s.uweight) == weights


def test_a_disabled_server_can_be_made_ready(api: tuple[RuntimeApi, Rig]) -> None:
    a, rig = api
    assert run(a, "set server pg/p1 state ready") == "\n"
    s = state(rig, "pg", "p1")
    assert s is not None and s.admin == 0


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("set server app/nope state maint", "No such server."),
        ("set server nope/s1 state maint", "No such backend."),
        ("set server app/s1 state sleepy", "expects 'ready', 'drain' and 'maint'"),
        ("set server app state maint", "expects"),
        ("set weight app/s1 257", "Invalid value."),
        ("set weight app/s1", "Require"),
        ("set maxconn server app/s1 10", "not supported"),
    ],
)
def test_bad_server_commands(api: tuple[RuntimeApi, Rig], command: str, answer: str) -> None:
    a, _rig = api
    assert answer in run(a, command)


def test_levels(api: tuple[RuntimeApi, Rig]) -> None:
    a, _rig = api
    assert run(a, "set server app/s1 state maint", level=0).startswith("Unknown command")
    assert run(a, "show stat", level=0).startswith("# pxname")
    help_text = run(a, "help", level=2)
    assert "set server" in help_text and "clear counters" in help_text


def test_clear_counters(api: tuple[RuntimeApi, Rig]) -> None:
    a, rig = api
    _pid, ws = rig.worker()
    ws.frontend("web").stot += 9
    ws.flush(0.0)
    row = next(line for line in run(a, "show stat").splitlines() if line.startswith("web,FRONTEND"))
    assert row.split(",")[7] == "9"
    run(a, "clear counters all")
    row = next(line for line in run(a, "show stat").splitlines() if line.startswith("web,FRONTEND"))
    assert row.split(",")[7] == "0"


@pytest.mark.parametrize(
    ("admin", "action", "expected"),
    [
        (0, "maint", ADMIN_FMAINT),
        (ADMIN_CMAINT, "ready", 0),
        (ADMIN_FMAINT | ADMIN_FDRAIN, "ready", 0),
        (ADMIN_FMAINT, "drain", ADMIN_FDRAIN),
        (ADMIN_FDRAIN, "maint", ADMIN_FDRAIN | ADMIN_FMAINT),
    ],
)
def test_admin_transitions(admin: int, action: str, expected: int) -> None:
    assert admin_flags(admin, action) == expected


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("256", 256), ("257", None), ("50%", 5), ("x", None)]
)
def test_weights(text: str, value: int | None) -> None:
    assert parse_weight(text, 10) == value


def test_frames_between_worker_and_master() -> None:
    decoder = FrameDecoder()
    wire = (
        b"R" + encode_frame("set server app/s1 state drain") + encode_frame("set weight app/s1 3")
    )
    assert decoder.feed(wire[:7]) == []
    assert decoder.feed(wire[7:]) == ["set server app/s1 state drain", "set weight app/s1 3"]
    with pytest.raises(ValueError):
        encode_frame("reload\nshow info")


@pytest.mark.parametrize(
    ("command", "ok"),
    [
        ("set server app/s1 state drain", True),
        ("set weight app/s1 12", True),
        ("set weight app/s1 50%", True),
        ("disable server app/s1", True),
        ("reload", False),
        ("set server app/s1 state drain; reload", False),
        ("clear counters all", False),
        ("show stat", False),
    ],
)
def test_a_worker_may_only_change_servers(command: str, ok: bool) -> None:
    assert allowed_from_worker(command) is ok
