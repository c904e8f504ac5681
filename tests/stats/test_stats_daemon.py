"""The statistics in a running lb: the runtime API answers from the workers' slabs."""

from __future__ import annotations

import csv
import io
import os
import signal
import time
from collections.abc import Callable

from tests.support.backends import Backend
from tests.support.clients import echo_roundtrip, free_port
from tests.support.lbproc import LbProcess, tcp_config


def rows(text: str) -> dict[tuple[str, str], dict[str, str]]:
    lines = [line for line in text.splitlines() if line]
    header = lines[0].removeprefix("# ").rstrip(",").split(",")
    out = {}
    for r in csv.reader(io.StringIO("\n".join(lines[1:]))):
        out[(r[0], r[1])] = dict(zip(header, r, strict=False))
    return out


def test_show_stat_survives_a_killed_worker_and_follows_admin_changes(
    lb_factory: Callable[..., LbProcess], backend: Callable[..., Backend]
) -> None:
    echo = backend("echo", name="s1")
    port = free_port()
    lb = lb_factory(workers=2)
    lb.start(tcp_config(stats_socket=lb.stats_socket, bind_port=port, servers=[("s1", echo.port)]))
    assert echo_roundtrip(port, b"hello\n") == b"hello\n"
    table = rows(lb.api("show stat"))
    assert list(table) == [("fe", "FRONTEND"), ("be", "s1"), ("be", "BACKEND")]
    assert table[("be", "s1")]["status"] == "no check"
    assert table[("fe", "FRONTEND")]["mode"] == "tcp"

    victim = lb.workers()[0].pid
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = lb.show_info()
        if info.get("WorkerRestarts") == "1" and len(lb.show_proc().current()) == 2:
            break
        time.sleep(0.05)
    assert info["WorkerRestarts"] == "1", info
    assert "CumReq" in info and "MaxSessRate" in info
    assert rows(lb.api("show stat")).keys() == table.keys()

    assert lb.api("set server be/s1 state maint") == "\n"
    assert rows(lb.api("show stat"))[("be", "s1")]["status"] == "MAINT"
    assert rows(lb.api("show stat"))[("be", "BACKEND")]["status"] == "DOWN"
    assert lb.api("set server be/s1 state ready") == "\n"
    assert rows(lb.api("show stat"))[("be", "s1")]["status"] == "no check"
    typed = lb.api("show stat typed")
    assert typed.startswith("F.1.0.0.pxname.1:KNS:str:fe\n")
    assert "Traceback" not in lb.stderr()


def test_the_seed_stats_section_runs(lb_factory: Callable[..., LbProcess]) -> None:
    port = free_port()
    text = (
        "global\n"
        "    stats socket SOCKET mode 600 level admin\n"
        "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n"
        "    timeout server 5s\n"
        f"listen stats\n    bind 127.0.0.1:{port}\n    stats enable\n    stats hide-version\n"
        "    stats uri /haproxy?stats\n    stats realm no\\ entrance\n    stats auth admin:admin\n"
        "    stats admin if TRUE\n"
    )
    lb = lb_factory(workers=1)
    lb.start(text.replace("SOCKET", lb.stats_socket))
    table = rows(lb.api("show stat"))
    assert table[("stats", "BACKEND")]["status"] == "UP"
    assert table[("stats", "FRONTEND")]["slim"]
