"""lb's CSV and typed output against a real HAProxy's for the same configuration.

HAProxy (Debian's package) runs on loopback with a stats socket; both answer ``show stat``
for one configuration before any traffic. The header must be HAProxy's, column for column
(0-61 are what every tool reads; lb prints HAProxy's general fields up to 102), and every
row must fill the same columns, with the same values where the value is not a clock.
"""

from __future__ import annotations

import csv
import io
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lb.stats.fields import NAMES, TYPED
from lb.stats.render_text import CSV_HEADER, render_csv, render_typed
from lb.stats.view import View, select
from tests.stats.helpers import CONFIG, Rig, load
from tests.support.clients import free_port
from tests.support.peers import need_command

# Columns that depend on time, on pids, or on ids that HAProxy numbers its own way.
_VOLATILE = {"lastchg", "iid", "pid", "lastsess"}


def _config(tmp: Path) -> tuple[str, Path]:
    sock = tmp / "haproxy.sock"
    text = CONFIG.replace("18080", str(free_port())).replace("15432", str(free_port()))
    text = text.replace("global\n", f"global\n    stats socket {sock} mode 600 level admin\n", 1)
    return text, sock


def _ask(sock: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while data := s.recv(65536):
            chunks.append(data)
    return b"".join(chunks).decode()


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    binary = need_command("haproxy")
    text, sock = _config(tmp_path)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    proc = subprocess.Popen([binary, "-db", "-f", str(cfg)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "haproxy did not open its stats socket"
            time.sleep(0.02)
        time.sleep(0.05)
        yield text, sock
    finally:
        proc.terminate()
        proc.wait(5)


def _rows(text: str) -> tuple[list[str], dict[tuple[str, str], list[str]]]:
    lines = [line for line in text.splitlines() if line]
    header = lines[0].removeprefix("# ").rstrip(",").split(",")
    rows = {}
    for r in csv.reader(io.StringIO("\n".join(lines[1:]))):
        rows[(r[0], r[1])] = r
    return header, rows


def _lb(tmp_path: Path, text: str) -> tuple[str, str]:
    rig = Rig(load(tmp_path, text))
    try:
        snapshot = rig.stats.snapshot(rig.config, 1000)
        proxies = select(snapshot, View())
        return render_csv(proxies), render_typed(proxies)
    finally:
        rig.close()


def test_the_csv_header_is_haproxys(haproxy: tuple[str, Path]) -> None:
    _text, sock = haproxy
    theirs = _rows(_ask(sock, "show stat"))[0]
    assert theirs[:62] == list(NAMES[:62])  # pxname … ttime: what every tool reads
    assert theirs[: len(NAMES)] == list(NAMES)  # and lb's 62-102 are HAProxy's too
    assert CSV_HEADER.startswith("# pxname,svname,qcur,qmax,")


def test_every_row_fills_the_columns_haproxy_fills(
    haproxy: tuple[str, Path], tmp_path: Path
) -> None:
    text, sock = haproxy
    _h, theirs = _rows(_ask(sock, "show stat"))
    _h2, ours = _rows(_lb(tmp_path, text)[0])
    assert list(ours) == list(theirs)  # the same rows, in the same order
    for key, their_row in theirs.items():
        our_row = ours[key]
        for pos, name in enumerate(NAMES):
            theirs_v, ours_v = their_row[pos], our_row[pos]
            assert (theirs_v == "") == (ours_v == ""), f"{key} {name}: {theirs_v!r} vs {ours_v!r}"
            if name not in _VOLATILE:
                assert theirs_v == ours_v, f"{key} {name}: {theirs_v!r} vs {ours_v!r}"


def test_typed_tags_and_types_are_haproxys(haproxy: tuple[str, Path], tmp_path: Path) -> None:
    text, sock = haproxy

    def parse(typed: str) -> dict[tuple[str, int], tuple[str, str]]:
        out = {}
        for line in typed.splitlines():
            if not line:
                continue
            where, tags, typ, _value = line.split(":", 3)
            letter, _iid, _sid, pos, _name, _proc = where.split(".")
            if int(pos) < len(NAMES):
                out[(letter, int(pos))] = (tags, typ)
        return out

    theirs = parse(_ask(sock, "show stat typed"))
    ours = parse(_lb(tmp_path, text)[1])
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == value == TYPED[key], key
