"""keepalived ``virtual_server`` blocks served by the real daemon: a proxy per virtual server.

lb reads a HAProxy-syntax file (``global`` and its ``stats socket``: a keepalived file has
no runtime API of its own) and a keepalived-syntax file with ``-f`` twice. Observed through
what the clients get, which backend answered, and ``show servers state`` / ``show stat``.
Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import socket
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.backends import Backend
from tests.support.clients import connect, free_port, recv_line
from tests.support.http_servers import HttpBackend
from tests.support.lbproc import LbProcess

BackendFactory = Callable[..., Backend]
HttpFactory = Callable[..., HttpBackend]


def start(lb: LbProcess, keepalived: str) -> None:
    """lb with the runtime API from a HAProxy-syntax file and the virtual servers from
    a keepalived one."""
    ka = lb.workdir / "keepalived.conf"
    ka.write_text(keepalived)
    lb.args += ["-f", str(ka)]
    lb.start(f"global\n    stats socket {lb.stats_socket} mode 600 level admin\n")


def virtual_server(port: int, algo: str, reals: list[tuple[int, str]], extra: str = "") -> str:
    """``reals``: (port, the real_server block's body)."""
    text = f"virtual_server 127.0.0.1 {port} {{\n    lb_algo {algo}\n{extra}"
    for rport, body in reals:
        text += f"    real_server 127.0.0.1 {rport} {{\n{body}    }}\n"
    return text + "}\n"


def tcp_check(weight: int = 1) -> str:
    return (
        f"        weight {weight}\n"
        "        TCP_CHECK {\n"
        "            connect_timeout 0.5\n"
        "            retry 1\n"
        "            delay_before_retry 0.2\n"
        "        }\n"
    )


def servers_state(lb: LbProcess) -> dict[str, dict[str, str]]:
    """``show servers state``: server name → its columns."""
    lines = lb.api("show servers state").splitlines()
    columns = lines[1].lstrip("# ").split()
    rows = [dict(zip(columns, ln.split(), strict=True)) for ln in lines[2:] if ln.strip()]
    return {r["srv_name"]: r for r in rows}


def wait_op_state(lb: LbProcess, name: str, op: int, timeout: float = 10.0) -> float:
    """Seconds until the server's operational state is ``op`` (0 down, 2 up)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if servers_state(lb).get(name, {}).get("srv_op_state") == str(op):
            return time.monotonic() - t0
        time.sleep(0.02)
    raise AssertionError(f"{name} not in op state {op} after {timeout}s: {servers_state(lb)}")


def show_stat(lb: LbProcess) -> dict[str, dict[str, str]]:
    """``show stat`` rows of servers: name → columns."""
    text = lb.api("show stat").lstrip("# ")
    rows = csv.DictReader(io.StringIO(text))
    return {r["svname"]: r for r in rows if r["svname"] not in ("FRONTEND", "BACKEND")}


def hello(port: int) -> str:
    with connect(port, timeout=5.0) as s:
        return recv_line(s).decode().strip()


def http_server_name(port: int, path: str = "/") -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.getheader("X-Server") or ""
    finally:
        conn.close()


# (lb_algo, weights, the share of 8 connections each server gets): rr ignores the weights
ORDERS = [
    ("rr", (3, 1), ["s1", "s2", "s1", "s2", "s1", "s2", "s1", "s2"]),
    ("wrr", (3, 1), None),
]


@pytest.mark.parametrize(("algo", "weights", "order"), ORDERS)
def test_traffic_follows_lb_algo_and_avoids_a_killed_real_server(
    lb_factory: Callable[..., LbProcess],
    backend: BackendFactory,
    algo: str,
    weights: tuple[int, int],
    order: list[str] | None,
) -> None:
    s1, s2 = backend("hello", name="s1"), backend("hello", name="s2")
    port = free_port()
    lb = lb_factory(workers=2)  # the order is daemon-wide: two workers, one cycle
    start(
        lb,
        virtual_server(
            port,
            algo,
            [(s1.port, tcp_check(weights[0])), (s2.port, tcp_check(weights[1]))],
            extra="    delay_loop 0.3\n",
        ),
    )
    got = [hello(port) for _ in range(8)]
    if order is not None:
        assert got == order
    else:  # weighted: 3 to 1, interleaved (the engine's smooth weighted round robin)
        assert Counter(got) == {"s1": 6, "s2": 2}
        assert got[:4].count("s2") == 1
    name1, name2 = f"127.0.0.1:{s1.port}", f"127.0.0.1:{s2.port}"
    state = servers_state(lb)
    assert state[name1]["be_name"] == f"vs_127.0.0.1_{port}"
    assert state[name1]["srv_op_state"] == state[name2]["srv_op_state"] == "2"
    assert state[name1]["srv_check_status"] == "6"  # L4OK
    assert show_stat(lb)[name1]["status"] == "UP"

    s1.kill()
    # down after the first failure and its one retry: delay_loop + delay_before_retry
    took = wait_op_state(lb, name1, 0)
    assert took < 0.3 + 0.2 + 1.0, took
    assert [hello(port) for _ in range(6)] == ["s2"] * 6
    stat = show_stat(lb)
    assert (stat[name1]["status"], stat[name1]["check_status"]) == ("DOWN", "L4CON")
    assert stat[name2]["status"] == "UP"
    # rise/fall shown as keepalived counts them: down after 2 failures, up after 1 success
    assert (stat[name1]["check_rise"], stat[name1]["check_fall"]) == ("1", "2")


def test_http_get_digest_and_status_code(
    lb_factory: Callable[..., LbProcess], http_backend: HttpFactory
) -> None:
    good, wrong_digest, wrong_status = http_backend("good"), http_backend("md5"), http_backend("st")
    path = "/check?s=64"  # a deterministic 64-byte body, the same from every backend
    conn = http.client.HTTPConnection("127.0.0.1", good.port, timeout=5.0)
    conn.request("GET", path)
    digest = hashlib.md5(conn.getresponse().read(), usedforsecurity=False).hexdigest()
    conn.close()
    bad = "0" * 32

    def http_get(check_path: str, md5: str) -> str:
        return (
            "        HTTP_GET {\n"
            "            url {\n"
            f"                path {check_path}\n"
            f"                digest {md5}\n"
            "                status_code 200\n"
            "            }\n"
            "            connect_timeout 1\n"
            "            retry 1\n"
            "            delay_before_retry 0.2\n"
            "        }\n"
        )

    port = free_port()
    lb = lb_factory(workers=2)
    start(
        lb,
        virtual_server(
            port,
            "rr",
            [
                (good.port, http_get(path, digest)),
                (wrong_digest.port, http_get(path, bad)),
                (wrong_status.port, http_get(path + "&r=404", digest)),  # same body, 404
            ],
            extra="    delay_loop 0.3\n",
        ),
    )
    names = {b.port: f"127.0.0.1:{b.port}" for b in (good, wrong_digest, wrong_status)}
    wait_op_state(lb, names[wrong_digest.port], 0)
    wait_op_state(lb, names[wrong_status.port], 0)
    stat = show_stat(lb)
    assert (stat[names[good.port]]["status"], stat[names[good.port]]["check_status"]) == (
        "UP",
        "L7OK",
    )
    assert stat[names[wrong_digest.port]]["check_status"] == "L7RSP"
    status_row = stat[names[wrong_status.port]]
    assert (status_row["check_status"], status_row["check_code"]) == ("L7STS", "404")
    # the checks asked what the block says, as keepalived does
    check = good.requests()[-1]
    assert (check["method"], check["target"]) == ("GET", path)
    good.clear()
    assert {http_server_name(port) for _ in range(6)} == {"good"}
    assert len([r for r in good.requests() if r["target"] == "/"]) == 6


def test_misc_check_marks_down_and_up_and_runs_notify(
    lb_factory: Callable[..., LbProcess], backend: BackendFactory, tmp_path: Path
) -> None:
    s1, s2 = backend("hello", name="s1"), backend("hello", name="s2")
    healthy = tmp_path / "healthy"
    healthy.touch()
    went_down, came_up = tmp_path / "went-down", tmp_path / "came-up"
    # run without a shell: "test -e FILE" exits 1 once the file is gone
    misc = (
        f'        notify_down "/usr/bin/touch {went_down}"\n'
        f'        notify_up "/usr/bin/touch {came_up}"\n'
        "        MISC_CHECK {\n"
        f'            misc_path "/usr/bin/test -e {healthy}"\n'
        "            misc_timeout 2\n"
        "        }\n"
    )
    port = free_port()
    lb = lb_factory(workers=2)
    start(
        lb,
        virtual_server(port, "wlc", [(s1.port, misc), (s2.port, "")], extra="    delay_loop 0.2\n"),
    )
    name1, name2 = f"127.0.0.1:{s1.port}", f"127.0.0.1:{s2.port}"
    assert servers_state(lb)[name1]["srv_op_state"] == "2"
    assert show_stat(lb)[name2]["status"] == "no check"  # no check block: always up

    healthy.unlink()
    # MISC_CHECK retries 0 times: down at the first failed run
    assert wait_op_state(lb, name1, 0) < 0.2 + 1.0
    stat = show_stat(lb)[name1]
    assert (stat["status"], stat["check_status"]) == ("DOWN", "PROCERR")
    assert {hello(port) for _ in range(6)} == {"s2"}
    deadline = time.monotonic() + 5
    while not went_down.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert went_down.exists() and not came_up.exists()

    healthy.touch()
    wait_op_state(lb, name1, 2)  # up again at the first success
    assert show_stat(lb)[name1]["check_status"] == "PROCOK"
    deadline = time.monotonic() + 5
    while not came_up.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert came_up.exists()
    assert {hello(port) for _ in range(6)} == {"s1", "s2"}


def test_check_refuses_what_a_proxy_cannot_do(tmp_path: Path) -> None:
    from tests.support.lbproc import run_lb

    conf = tmp_path / "keepalived.conf"
    conf.write_text(
        "virtual_server 127.0.0.1 80 {\n    lb_kind DR\n    protocol UDP\n"
        "    real_server 127.0.0.1 81 {\n        SSL_GET {\n        }\n    }\n}\n"
    )
    out = run_lb("-c", "-f", str(conf))
    assert out.returncode == 1
    assert f"{conf}:2: 'lb_kind DR' is not supported yet" in out.stderr
    assert f"{conf}:3: 'protocol UDP' is not supported yet" in out.stderr
    ok = run_lb("-c", "-f", str(conf), "--unsupported", "warn")
    assert ok.returncode == 0, ok.stderr


def hello_from(source: str, port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), 5.0, (source, 0)) as s:
        s.settimeout(5.0)
        return recv_line(s).decode().strip()


def test_persistence_timeout_keeps_a_client_on_its_real_server(
    lb_factory: Callable[..., LbProcess], backend: BackendFactory
) -> None:
    """LVS persistence: rr alternates between clients, but each client keeps its server
    (a stick table on the source address, one for both workers)."""
    s1, s2 = backend("hello", name="s1"), backend("hello", name="s2")
    port = free_port()
    lb = lb_factory(workers=2)
    start(
        lb,
        virtual_server(
            port, "rr", [(s1.port, ""), (s2.port, "")], extra="    persistence_timeout 60\n"
        ),
    )
    first = [hello_from("127.0.0.2", port) for _ in range(6)]
    second = [hello_from("127.0.0.3", port) for _ in range(6)]
    assert first == ["s1"] * 6 and second == ["s2"] * 6  # rr without persistence alternates
    table = lb.api(f"show table vs_127.0.0.1_{port}")
    assert f"# table: vs_127.0.0.1_{port}, type: ip, size:102400, used:2" in table
    assert "key=127.0.0.2" in table and "key=127.0.0.3" in table
