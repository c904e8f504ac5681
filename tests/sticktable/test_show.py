"""show table / set table / clear table: HAProxy's output format, on in-process tables."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from lb.sticktable.layout import TableLayout
from lb.sticktable.show import TABLE_COMMANDS
from lb.sticktable.table import StickTable

STORE = [("gpc0", 0), ("conn_cnt", 0), ("http_req_rate", 10_000), ("server_id", 0)]


@pytest.fixture
def tables() -> Iterator[dict[str, StickTable]]:
    out = {
        "fe": StickTable.create("fe", TableLayout.build("ip", 0, 102400, STORE, 30_000)),
        "be": StickTable.create("be", TableLayout.build("string", 8, 1024, STORE, 0)),
    }
    yield out
    for t in out.values():
        t.close()


def run(tables: dict[str, StickTable], line: str) -> str:
    words = line.split()
    return TABLE_COMMANDS[words[0]](tables, words[2:])


def test_show_set_clear(tables: dict[str, StickTable]) -> None:
    # every table's header, newest first as HAProxy lists them, then the end of the answer
    assert run(tables, "show table") == (
        "# table: be, type: string, size:1024, used:0\n"
        "# table: fe, type: ip, size:102400, used:0\n\n"
    )
    assert run(tables, "set table fe key 10.0.0.1 data.gpc0 7 data.http_req_rate 3") == "\n"
    assert run(tables, "set table be key alicealice data.server_id 2") == "\n"
    shown = run(tables, "show table fe")
    assert re.fullmatch(
        r"# table: fe, type: ip, size:102400, used:1\n"
        r"0x[0-9a-f]+: key=10\.0\.0\.1 use=0 exp=(29\d\d\d|30000) server_id=0 gpc0=7 "
        r"conn_cnt=0 http_req_rate\(10000\)=3\n\n",
        shown,
    ), shown
    assert "key=aliceali use=0 exp=0 server_id=2 " in run(tables, "show table be")
    run(tables, "set table fe key 10.0.0.2 data.gpc0 1")
    assert run(tables, "show table fe data.gpc0 gt 5").count("key=") == 1
    assert run(tables, "show table fe key 10.0.0.2").count("key=10.0.0.2") == 1
    assert run(tables, "clear table fe data.gpc0 lt 5") == "\n"
    assert "used:1" in run(tables, "show table fe")
    assert run(tables, "clear table fe") == "\n"
    assert run(tables, "show table fe") == "# table: fe, type: ip, size:102400, used:0\n\n"


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("show table nope", "No such table\n\n"),
        ("clear table nope", "No such table\n\n"),
        ("set table fe key nope data.gpc0 1", "Unable to parse the key.\n\n"),
        ("set table fe key 10.0.0.1 data.gpc1 1", "Data type not stored in this table\n\n"),
        ("show table fe data.gpc1 gt 1", "Data type not stored in this table\n\n"),
        ("show table fe data.gpc0 zz 1", "Require a valid operator"),
        ("show table fe nonsense", "Optional argument only supports"),
    ],
)
def test_errors(tables: dict[str, StickTable], line: str, answer: str) -> None:
    assert run(tables, line).startswith(answer)
