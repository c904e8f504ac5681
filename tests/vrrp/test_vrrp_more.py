"""VRRP features beyond the seeds: IPv6 (v3), unicast peers, notify scripts and mail alerts."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.vrrp_nodes import (
    Nodes,
    instance,
    keepalived_conf,
    lan_nodes,
    wait_for,
)
from tests.support.vrrp_nodes import nodes as nodes  # fixture

VIP6 = "fd00:22::249"


@pytest.fixture
def nodes6() -> Iterator[Nodes]:
    """Two hosts with IPv6 (link-local for the adverts, fd00:22::/64 for the VIP)."""
    with lan_nodes(2, ipv6=True) as made:
        yield made


def _has(host: object, address: str) -> bool:
    return any(a.split("/")[0] == address for a in host.addresses())  # type: ignore[attr-defined]


def test_ipv6_pair_v3_elects_and_fails_over(nodes6: Nodes) -> None:
    h1, h2 = nodes6.hosts
    a, b = nodes6.lb(0), nodes6.lb(1)
    conf = lambda prio: keepalived_conf(  # noqa: E731
        instance(priority=prio, vips=[f"{VIP6}/64"], advert_int=0.1, version=3, vrid=61)
    )
    a.start(conf(150))
    b.start(conf(100))
    wait_for(lambda: a.state() == "MASTER" and b.state() == "BACKUP", 8, "h1 MASTER over IPv6")
    assert _has(h1, VIP6) and not _has(h2, VIP6)
    # b is BACKUP from its start; it names the master once an advert reached it (the
    # link-local addresses may still be finishing duplicate address detection)
    wait_for(lambda: b.show()["VI_1"].fields.get("master", "-") != "-", 5, "b hears h1")
    view = b.show()["VI_1"]
    assert view.fields.get("version") == "3"
    assert (view.fields.get("master") or "").startswith("fe80::")  # RFC 5798: link-local source
    a.hard_kill()
    wait_for(lambda: _has(h2, VIP6), 3, "h2 takes the IPv6 VIP")
    assert b.state() == "MASTER"


def test_unicast_peers_without_multicast(nodes: Nodes) -> None:
    h1, h2, h3 = nodes.hosts
    cap = h3.capture("vrrp")
    a, b = nodes.lb(0), nodes.lb(1)

    def conf(me: str, peer: str, prio: int) -> str:
        extra = [f"unicast_src_ip {me}", "unicast_peer {", f"    {peer}", "}"]
        return keepalived_conf(instance(priority=prio, advert_int=0.1, version=3, extra=extra))

    a.start(conf(h1.ip4, h2.ip4, 150))
    b.start(conf(h2.ip4, h1.ip4, 100))
    wait_for(lambda: a.state() == "MASTER" and b.state() == "BACKUP", 8, "unicast election")
    # b is BACKUP from its start: wait for it to have heard the master's unicast adverts
    wait_for(lambda: b.show()["VI_1"].counter("adverts_received") > 0, 5, "b hears a")
    frames = cap.stop()
    # adverts go to the peer only: none to the multicast group (h3 sees no VRRP at all)
    assert not [f for f in frames if f.ip() is not None and f.ip()[1] == "224.0.0.18"]
    a.hard_kill()
    wait_for(lambda: b.state() == "MASTER", 3, "unicast failover")


class _SmtpSink(threading.Thread):
    """Just enough SMTP to take one message per connection; keeps what it got."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.messages: list[str] = []

    def run(self) -> None:
        self.sock.settimeout(30)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as f:
                f.write(b"220 sink\r\n")
                f.flush()
                data: list[bytes] = []
                in_data = False
                for line in f:
                    if in_data:
                        if line == b".\r\n":
                            in_data = False
                            self.messages.append(b"".join(data).decode(errors="replace"))
                            f.write(b"250 ok\r\n")
                        else:
                            data.append(line)
                    elif line.upper().startswith(b"DATA"):
                        in_data = True
                        f.write(b"354 go\r\n")
                    elif line.upper().startswith(b"QUIT"):
                        f.write(b"221 bye\r\n")
                        f.flush()
                        break
                    else:
                        f.write(b"250 ok\r\n")
                    f.flush()


def test_notify_scripts_and_mail_alert(nodes: Nodes, tmp_path: Path) -> None:
    h1 = nodes.hosts[0]
    out = tmp_path / "notify.log"
    script = tmp_path / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$@" >> {out}\n')
    script.chmod(0o755)
    listener = h1.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    sink = _SmtpSink(listener)
    sink.start()
    try:
        a = nodes.lb(0)
        extra = [
            f'notify_master "{script} master-only"',
            f'notify "{script}"',
            "smtp_alert",
        ]
        a.start(
            keepalived_conf(
                instance(priority=150, advert_int=0.1, version=3, extra=extra),
                global_extra=[
                    "notification_email {",
                    "    ops@example.test",
                    "}",
                    "notification_email_from lb@example.test",
                    f"smtp_server 127.0.0.1 {listener.getsockname()[1]}",
                    "smtp_connect_timeout 5",
                ],
            )
        )
        wait_for(lambda: a.state() == "MASTER", 8, "MASTER alone")
        wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= 3, 5, "notify")
        lines = out.read_text().splitlines()
        # keepalived's order and arguments: BACKUP first (start), then MASTER, generic with
        # INSTANCE NAME STATE PRIORITY
        assert lines[:3] == [
            "INSTANCE VI_1 BACKUP 150",
            "master-only",
            "INSTANCE VI_1 MASTER 150",
        ], lines
        wait_for(lambda: any("Entering MASTER" in m for m in sink.messages), 5, "mail alert")
        mail = next(m for m in sink.messages if "Entering MASTER" in m)
        assert "To: ops@example.test" in mail and "From: lb@example.test" in mail
    finally:
        listener.close()


def test_reload_keeps_unchanged_instances_and_restarts_changed_ones(nodes: Nodes) -> None:
    import signal

    a = nodes.lb(0)
    one = instance("VI_1", priority=150, advert_int=0.1, version=3, vrid=81)
    two = instance(
        "VI_2", priority=150, advert_int=0.1, version=3, vrid=82, vips=["192.168.22.150/24"]
    )
    a.start(keepalived_conf(one, two))
    wait_for(lambda: a.state("VI_1") == "MASTER" and a.state("VI_2") == "MASTER", 8, "masters")
    # an unchanged file: no instance leaves MASTER, no new election
    a.signal(signal.SIGUSR2)
    wait_for(lambda: "reloaded" in a.output(), 10, "first reload")
    view = a.show()
    assert view["VI_1"].counter("became_master") == 1 and view["VI_2"].counter("became_master") == 1
    # VI_2 changes (priority): it alone leaves and comes back; VI_1 is untouched
    changed = instance(
        "VI_2", priority=140, advert_int=0.1, version=3, vrid=82, vips=["192.168.22.150/24"]
    )
    a.write(keepalived_conf(one, changed))
    a.signal(signal.SIGUSR2)
    wait_for(lambda: a.output().count("reloaded") >= 2, 10, "second reload")
    wait_for(lambda: a.state("VI_2") == "MASTER", 8, "VI_2 master again")
    view = a.show()
    assert view["VI_1"].counter("became_master") == 1
    assert view["VI_2"].priority == 140


def test_old_unicast_checksum_sends_the_checksum_without_pseudo_header(nodes: Nodes) -> None:
    from lb.vrrp.packet import internet_checksum

    h1, _h2, h3 = nodes.hosts
    cap = h3.capture("vrrp")
    a = nodes.lb(0)
    extra = [f"unicast_src_ip {h1.ip4}", "unicast_peer {", f"    {h3.ip4}", "}"]
    a.start(
        keepalived_conf(
            instance(
                priority=150,
                advert_int=0.1,
                version=3,
                extra=[*extra, "old_unicast_checksum"],
            )
        )
    )
    wait_for(lambda: a.state() == "MASTER", 8, "MASTER")
    wait_for(lambda: len(cap.frames()) >= 3, 3, "adverts at h3")
    adverts = [f.ip()[4] for f in cap.stop() if f.ip() is not None]
    # the VRRP message alone sums to zero: no pseudo-header in the checksum
    assert adverts and all(internet_checksum(p) == 0 for p in adverts)
