"""lb's VRRP as a daemon: real ``python -m lb`` processes in network namespaces.

Hosts: h1 (.11) and h2 (.12) run lb, h3 (.13) watches and sends; the LAN is 192.168.22.0/24
on eth1, as the shared seed files expect. Failover times are measured from the moment the
test sends its signal to the moment an rtnetlink watcher in the backup's namespace sees the
VIP appear (``VipWatcher``).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from lb.vrrp.packet import Advert, encode, internet_checksum
from tests.support.vrrp_nodes import (
    PYTHON,
    VIP,
    VIP2,
    Nodes,
    garps,
    has_vip,
    holders,
    instance,
    keepalived_conf,
    seed,
    send_vrrp,
    wait_for,
)
from tests.support.vrrp_nodes import nodes as nodes  # fixture

MASTER = "seed-keepalived-master.conf"
BACKUP = "seed-keepalived-backup.conf"
# v2, advert_int 1, the backup's priority 99 (RFC 3768 timers)
SKEW_99 = (256 - 99) / 256
MDI_99 = 3 * 1 + SKEW_99
SLACK = 0.1


def elect_pair(nodes: Nodes, master_conf: str, backup_conf: str):
    """Start lb on h1 (the would-be master) and h2; wait until h1 alone holds the VIP."""
    a, b = nodes.lb(0), nodes.lb(1)
    a.start(master_conf)
    b.start(backup_conf)
    wait_for(lambda: a.state() == "MASTER", 8, "h1 MASTER")
    wait_for(lambda: b.show()["VI_1"].fields.get("master") == nodes.hosts[0].ip4, 3, "h2 sees h1")
    assert holders(nodes.hosts) == [nodes.hosts[0]]
    assert b.state() == "BACKUP"
    return a, b


def test_seed_pair_hard_kill_fails_over_with_garp_then_preempts_back(nodes: Nodes) -> None:
    h1, h2, h3 = nodes.hosts
    a, b = elect_pair(nodes, seed(MASTER), seed(BACKUP))
    # the VIP lives on exactly one node, and stays there
    time.sleep(1.5)
    assert holders(nodes.hosts) == [h1]
    assert a.show()["VI_1"].counter("became_master") == 1
    assert b.show()["VI_1"].counter("became_master") == 0

    arp = h3.capture("arp")
    watch = nodes.watch(1)
    t0 = a.hard_kill()
    t1 = watch.wait(VIP, True, t0, MDI_99 + 2)
    assert t1 - t0 <= MDI_99 + SLACK, f"failover took {t1 - t0:.3f}s > {MDI_99 + SLACK:.3f}s"
    assert b.state() == "MASTER"
    # gratuitous ARPs from h2's MAC: a burst at once, another after garp_master_delay (1 s)
    wait_for(lambda: len(garps(arp.frames(), VIP, h2.mac)) >= 2, 2.5, "GARPs from h2")
    time.sleep(1.3)
    sent = garps(arp.stop(), VIP, h2.mac)
    assert sent[-1].time - sent[0].time >= 0.8, "no second burst after garp_master_delay"

    # the old master comes back (its kill -9 left the VIP on eth1) and preempts (default)
    a.start()
    wait_for(lambda: a.state() == "MASTER", MDI_99 + 3, "h1 MASTER again")
    wait_for(lambda: b.state() == "BACKUP", 2, "h2 BACKUP again")
    wait_for(lambda: holders(nodes.hosts) == [h1], 2, "the VIP on h1 only")


def test_seed_pair_clean_stop_hands_over_within_skew_time(nodes: Nodes) -> None:
    _h1, h2, _ = nodes.hosts
    a, b = elect_pair(nodes, seed(MASTER), seed(BACKUP))
    watch_b, watch_a = nodes.watch(1), nodes.watch(0)
    t0 = a.signal(signal.SIGTERM)
    t1 = watch_b.wait(VIP, True, t0, 3)
    assert t1 - t0 <= SKEW_99 + SLACK, f"takeover took {t1 - t0:.3f}s > {SKEW_99 + SLACK:.3f}s"
    watch_a.wait(VIP, False, t0, 2)
    assert a.wait_exit() == 0
    assert holders(nodes.hosts) == [h2]
    view = b.show()["VI_1"]
    assert view.state == "MASTER"
    assert "master down timer expired" in view.transitions[-1]


def test_nopreempt_returning_node_stays_backup_and_drops_stale_vip(nodes: Nodes) -> None:
    """keepalived's rule: preemption is the returning (higher-priority) node's choice, so
    nopreempt goes on both nodes (both ``state BACKUP``, as keepalived requires).

    The returning node was killed with -9: its VIP was still on eth1, and it must remove it
    at start (as keepalived does), or two hosts answer ARP for the VIP.
    """
    h1, h2, _ = nodes.hosts
    a_conf = seed(MASTER, [("state MASTER", "state BACKUP\n    nopreempt")])
    b_conf = seed(BACKUP, [("state BACKUP", "state BACKUP\n    nopreempt")])
    a, b = elect_pair(nodes, a_conf, b_conf)
    a.hard_kill()
    assert has_vip(h1), "kill -9 leaves the address configured"
    wait_for(lambda: b.state() == "MASTER", MDI_99 + 1, "h2 MASTER")
    a.start()
    wait_for(lambda: not has_vip(h1), 1.0, "the stale VIP removed from h1 at start")
    time.sleep(MDI_99 + 0.5)  # long enough for a preemption, were it to happen
    assert a.state() == "BACKUP" and b.state() == "MASTER"
    assert a.show()["VI_1"].fields["master"] == h2.ip4
    assert holders(nodes.hosts) == [h2]


def _flag_seed(tmp_path: Path, weight: int) -> tuple[str, Path]:
    """The master seed tracking a flag file instead of haproxy (fall 2: see the report on
    the arbiter's waitpid(-1), which can steal a script's exit status)."""
    flag = tmp_path / f"flag-{uuid.uuid4().hex[:8]}"
    flag.touch()
    conf = seed(
        MASTER,
        [
            ('script "killall -0 haproxy"', f'script "test -e {flag}"'),
            ("interval 2", "interval 1\nfall 2\nrise 1"),
            ("weight 2", f"weight {weight}"),
        ],
    )
    return conf, flag


def test_track_script_negative_weight_moves_the_vip(nodes: Nodes, tmp_path: Path) -> None:
    h1, h2, _ = nodes.hosts
    conf, flag = _flag_seed(tmp_path, -20)
    a, b = elect_pair(nodes, conf, seed(BACKUP))
    assert a.show()["VI_1"].priority == 100
    flag.unlink()
    wait_for(lambda: a.show()["VI_1"].priority == 80, 3, "priority 100 - 20")
    # h2 (99, preempt) ignores adverts at 80; its Master_Down_Timer runs out
    wait_for(lambda: b.state() == "MASTER", MDI_99 + 2, "h2 MASTER")
    wait_for(lambda: a.state() == "BACKUP", 2, "h1 BACKUP")
    wait_for(lambda: holders(nodes.hosts) == [h2], 2, "the VIP on h2 only")
    flag.touch()
    wait_for(lambda: a.state() == "MASTER", 3 + MDI_99 + 1, "h1 MASTER again (preempt at 100)")
    wait_for(lambda: holders(nodes.hosts) == [h1], 2, "the VIP back on h1 only")


def test_track_script_weight_zero_means_fault(nodes: Nodes, tmp_path: Path) -> None:
    h1, h2, _ = nodes.hosts
    conf, flag = _flag_seed(tmp_path, 0)
    a, b = elect_pair(nodes, conf, seed(BACKUP))
    watch = nodes.watch(1)
    t0 = time.monotonic()
    flag.unlink()
    wait_for(lambda: a.state() == "FAULT", 3, "h1 FAULT")
    view = a.show()["VI_1"]
    assert "chk_haproxy" in view.fields["fault"]
    assert not has_vip(h1)
    # FAULT resigns with priority 0: h2 takes over after its skew time, not a full MDI
    t1 = watch.wait(VIP, True, t0, 4)
    assert b.state() == "MASTER" and holders(nodes.hosts) == [h2]
    assert t1 - t0 < 2 + 0.5 + SKEW_99 + 0.3  # two failed runs (fall 2), a poll, the skew
    flag.touch()
    wait_for(lambda: a.state() != "FAULT", 3, "h1 out of FAULT")
    wait_for(lambda: a.state() == "MASTER", MDI_99 + 2, "h1 MASTER again")
    wait_for(lambda: holders(nodes.hosts) == [h1], 2, "the VIP back on h1 only")


def test_seed_active_active_each_node_masters_one_vip(nodes: Nodes) -> None:
    """The seed's two instances; chk_haproxy (``killall -0 haproxy``, weight 2) runs as
    written. No haproxy runs here, so it fails on both nodes and adds nothing (were one
    running anywhere on the machine, killall would see it from both namespaces: +2 on both,
    same order)."""
    h1, h2, _ = nodes.hosts
    a, b = nodes.lb(0), nodes.lb(1)
    a.start(seed("seed-keepalived-active-active-a.conf"))
    b.start(seed("seed-keepalived-active-active-b.conf"))

    def settled(on1: list[str], on2: list[str]) -> bool:
        return [v for v in (VIP, VIP2) if has_vip(h1, v)] == on1 and [
            v for v in (VIP, VIP2) if has_vip(h2, v)
        ] == on2

    wait_for(lambda: settled([VIP], [VIP2]), 8, "VI_1 on h1, VI_2 on h2")
    va, vb = a.show(), b.show()
    assert (va["VI_1"].state, va["VI_2"].state) == ("MASTER", "BACKUP")
    assert (vb["VI_1"].state, vb["VI_2"].state) == ("BACKUP", "MASTER")
    wait_for(lambda: a.show()["VI_1"].priority in (100, 102), 4, "chk_haproxy settled")
    assert a.show()["VI_1"].priority - b.show()["VI_1"].priority == 1

    a.hard_kill()
    wait_for(lambda: b.show()["VI_1"].state == "MASTER", MDI_99 + 1, "h2 takes VI_1")
    assert has_vip(h2, VIP) and has_vip(h2, VIP2)
    a.start()  # removes its stale VI_1 address, then preempts VI_1 back
    wait_for(lambda: settled([VIP], [VIP2]), MDI_99 + 3, "back to one VIP each")

    b.hard_kill()
    wait_for(lambda: a.show()["VI_2"].state == "MASTER", MDI_99 + 1, "h1 takes VI_2")
    assert has_vip(h1, VIP) and has_vip(h1, VIP2)
    assert a.show()["VI_1"].state == "MASTER"


# --------------------------------------------------------------------------- bad packets


def _v2(**kw: object) -> Advert:
    base = dict(
        version=2, vrid=77, priority=254, advert_int_cs=100, addresses=(VIP,),
        auth_type=1, auth_data=b"11111",
    )  # fmt: skip
    base.update(kw)
    return Advert(**base)  # type: ignore[arg-type]


def test_bad_packets_are_counted_and_change_nothing(nodes: Nodes) -> None:
    """From h3, adverts that would take the master over (priority 254) were they accepted,
    each wrong in one way; then a valid one at priority 1 to show that h3's packets arrive."""
    h1, _h2, h3 = nodes.hosts
    conf_a = keepalived_conf(instance(priority=100, auth_pass="11111", state="MASTER"))
    conf_b = keepalived_conf(instance(priority=99, auth_pass="11111"))
    a, b = elect_pair(nodes, conf_a, conf_b)
    before = {n: n.show()["VI_1"] for n in (a, b)}

    src, dst = h3.ip4, "224.0.0.18"
    good = encode(_v2(), src=src, dst=dst)
    bad_sum = good[:6] + bytes([good[6] ^ 0xFF, good[7]]) + good[8:]
    typed = bytes([0x22]) + good[1:6] + b"\0\0" + good[8:]  # type 2, right checksum
    typed = typed[:6] + internet_checksum(typed).to_bytes(2, "big") + typed[8:]
    cases: list[tuple[str | None, bytes, int]] = [
        ("bad_ttl", good, 1),  # TTL 1 (crossed a router, or a forged sender)
        ("bad_ttl", good, 64),
        ("bad_checksum", bad_sum, 255),
        ("auth_mismatch", encode(_v2(auth_data=b"22222"), src=src, dst=dst), 255),
        ("bad_auth_type", encode(_v2(auth_type=0, auth_data=b""), src=src, dst=dst), 255),
        ("interval_mismatch", encode(_v2(advert_int_cs=200), src=src, dst=dst), 255),
        ("truncated", good[:6], 255),
        ("truncated", good[:3] + b"\x02" + good[4:], 255),  # says 2 addresses, has 1
        ("bad_address_count", good + b"\0\0\0\0", 255),
        ("address_mismatch", encode(_v2(addresses=("192.168.22.99",)), src=src, dst=dst), 255),
        ("bad_version", encode(_v2(version=3, auth_type=0, auth_data=b""), src=src, dst=dst), 255),
        ("bad_type", typed, 255),
        (None, encode(_v2(vrid=78), src=src, dst=dst), 255),  # another router's: not counted
    ]
    expected: dict[str, int] = {}
    for _ in range(3):
        for reason, payload, ttl in cases:
            send_vrrp(h3, payload, ttl=ttl)
            if reason is not None:
                expected[reason] = expected.get(reason, 0) + 1
        time.sleep(0.05)
    time.sleep(0.5)
    for node in (a, b):
        view = node.show()["VI_1"]
        old = before[node]
        assert view.state == old.state, f"{node}: {old.state} -> {view.state}"
        assert view.transitions == old.transitions
        assert view.counter("became_master") == old.counter("became_master")
        assert view.drops == expected, f"{node}: {view.drops} != {expected}"
    assert holders(nodes.hosts) == [h1]

    # control: a valid advert from h3 at priority 1 is received by both, changes nothing
    got = {n: n.show()["VI_1"].counter("adverts_received") for n in (a, b)}
    send_vrrp(h3, encode(_v2(priority=1), src=src, dst=dst))
    wait_for(
        lambda: b.show()["VI_1"].counter("adverts_received") > got[b] + 1,  # +1 from h1 too
        3,
        "h2 counts h3's valid advert",
    )
    # h1 (master) never receives its own; it got h3's, and answered it at once
    wait_for(lambda: a.show()["VI_1"].counter("adverts_received") == got[a] + 1, 2, "h1 counts it")
    assert a.state() == "MASTER" and b.state() == "BACKUP"
    assert a.running() and b.running()


# --------------------------------------------------------------------------- one daemon

ECHO_PEER = (
    "import socket\n"
    "s = socket.create_server(('0.0.0.0', 9000))\n"
    "while True:\n"
    "    c, peer = s.accept()\n"
    "    c.sendall(('served via ' + peer[0] + chr(10)).encode())\n"
    "    c.close()\n"
)


def _ask_vip(nodes: Nodes) -> str:
    """Connect from h3 to VIP:8080; the backend (on h3) names the lb host that relayed."""
    import socket as _socket

    h3 = nodes.hosts[2]
    with h3.socket(_socket.AF_INET, _socket.SOCK_STREAM) as s:
        s.settimeout(2.0)
        try:
            s.connect((VIP, 8080))
            return s.recv(100).decode().strip()
        except OSError as exc:
            return f"error: {exc}"


def test_one_daemon_proxies_on_the_vip_and_gives_it_up_when_no_worker_serves(
    nodes: Nodes, tmp_path: Path
) -> None:
    """``lb -f keepalived.conf -f haproxy.cfg``: VRRP and the proxy in one daemon.

    The data plane is made to fail for real: workers run in a chroot, the test removes the
    chroot directory and kills h1's worker, so every respawn fails at boot. lb's own tracking
    ("no lb worker serves") puts VI_1 in FAULT and h2's proxy takes the VIP's traffic.
    """
    h1, h2, h3 = nodes.hosts
    h3.popen(PYTHON, "-c", ECHO_PEER)
    a, b = nodes.lb(0), nodes.lb(1)
    jails = []
    for node in (a, b):
        jail = node.dir / "jail"
        jail.mkdir()
        jails.append(jail)
        proxy = "\n".join(
            [
                "global",
                f"    stats socket {node.sock} mode 600 level admin",
                f"    chroot {jail}",
                "defaults",
                "    mode tcp",
                "    timeout connect 2s",
                "    timeout client 10s",
                "    timeout server 10s",
                "frontend fe",
                "    bind 0.0.0.0:8080",
                "    default_backend be",
                "backend be",
                f"    server s1 {h3.ip4}:9000",
                "",
            ]
        )
        conf = keepalived_conf(
            instance(priority=100 if node is a else 99, version=3, advert_int=0.1, vrid=61)
        )
        node.start(conf, extra=[proxy], workers=1)
    wait_for(lambda: holders(nodes.hosts) == [h1], 5, "the VIP on h1")
    wait_for(lambda: _ask_vip(nodes) == f"served via {h1.ip4}", 3, "h1's proxy serves the VIP")

    jails[0].rmdir()
    workers = [int(p) for p in Path(f"/proc/{a.pid}/task/{a.pid}/children").read_text().split()]
    assert workers, "h1's lb has no worker"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not has_vip(h1), 5, "h1 gives the VIP up")
    wait_for(lambda: holders(nodes.hosts) == [h2], 2, "the VIP on h2")
    wait_for(lambda: _ask_vip(nodes) == f"served via {h2.ip4}", 3, "h2's proxy serves the VIP")
    assert "MASTER -> FAULT (fault: no lb worker serves)" in a.output()
