"""keepalived syntax: every modelled field, includes, and broken inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb.config import LoadResult, load_files
from lb.config.loader import detect_syntax
from lb.config.model import Keepalived

FULL = """\
! full example
global_defs {
   router_id edge1
   notification_email { ops@example.com noc@example.com }
   smtp_server 10.0.0.25 2525
   smtp_connect_timeout 30
   enable_script_security
   script_user keepalived_script nogroup
}
vrrp_script chk {
    script "/usr/bin/pgrep lb"
    interval 0.5
    timeout 3
    weight -20
    rise 2
    fall 3
    user nobody
}
vrrp_instance VI_6
{
    state MASTER
    interface eth0
    virtual_router_id 255
    priority 255
    advert_int 0.25
    version 3
    nopreempt
    preempt_delay 10
    garp_master_delay 2
    garp_master_repeat 3
    garp_master_refresh 60
    unicast_src_ip 10.0.0.1
    unicast_peer {
        10.0.0.2
        10.0.0.3
    }
    authentication {
        auth_type AH
        auth_pass secret
    }
    virtual_ipaddress {
        192.0.2.10/24 dev eth0 label eth0:1 scope global brd 192.0.2.255
        192.0.2.11
        2001:db8::10/64 dev eth0
    }
    virtual_ipaddress_excluded {
        198.51.100.1/32
    }
    track_interface {
        eth0 weight -10
        eth1
    }
    track_script {
        chk weight 5
    }
    notify_master "/etc/keepalived/notify.sh master"
    notify /etc/keepalived/notify.sh
    smtp_alert
}
vrrp_sync_group G1 {
    group {
        VI_6
    }
    notify_fault "/bin/true fault"
}
virtual_server 192.0.2.10 80 {
    delay_loop 6
    lb_algo wlc
    lb_kind DR
    protocol TCP
    persistence_timeout 50
    real_server 10.0.0.11 80 {
        weight 3
        TCP_CHECK {
            connect_timeout 3
            connect_port 80
        }
    }
    real_server 10.0.0.12 80 {
        HTTP_GET {
            url {
              path /health
              status_code 200
            }
        }
    }
}
virtual_server fwmark 7 {
    lb_algo rr
}
"""


def line_of(text: str) -> int:
    return FULL.splitlines().index(text) + 1


def load_text(tmp_path: Path, text: str, name: str = "keepalived.conf", **kw: object) -> LoadResult:
    path = tmp_path / name
    path.write_text(text)
    return load_files([str(path)], **kw)  # type: ignore[arg-type]


def messages(result: LoadResult) -> list[str]:
    return [str(d) for d in result.diagnostics]


def keepalived(result: LoadResult) -> Keepalived:
    assert result.config is not None and result.config.keepalived is not None, messages(result)
    return result.config.keepalived


def test_full_model(tmp_path: Path) -> None:
    result = load_text(tmp_path, FULL, unsupported="warn")
    assert result.ok, messages(result)
    ka = keepalived(result)

    gd = ka.global_defs
    assert gd.router_id == "edge1"
    assert gd.notification_email == ["ops@example.com", "noc@example.com"]
    assert (gd.smtp_server, gd.smtp_server_port, gd.smtp_connect_timeout) == (
        "10.0.0.25",
        2525,
        30_000,
    )
    assert gd.enable_script_security
    assert (gd.script_user, gd.script_group) == ("keepalived_script", "nogroup")

    [script] = ka.vrrp_scripts
    assert (script.name, script.script, script.interval, script.timeout) == (
        "chk",
        "/usr/bin/pgrep lb",
        500,
        3000,
    )
    assert (script.weight, script.rise, script.fall, script.user) == (-20, 2, 3, "nobody")

    [vi] = ka.vrrp_instances
    assert (vi.name, vi.state, vi.interface, vi.virtual_router_id, vi.priority) == (
        "VI_6",
        "MASTER",
        "eth0",
        255,
        255,
    )
    assert (vi.advert_int, vi.version, vi.nopreempt, vi.preempt_delay) == (250, 3, True, 10_000)
    assert (vi.garp_master_delay, vi.garp_master_repeat, vi.garp_master_refresh) == (
        2000,
        3,
        60_000,
    )
    assert (vi.unicast_src_ip, vi.unicast_peer) == ("10.0.0.1", ["10.0.0.2", "10.0.0.3"])
    assert (vi.auth_type, vi.auth_pass) == ("AH", "secret")
    assert [(v.address, v.dev, v.label, v.scope, v.brd) for v in vi.virtual_ipaddress] == [
        ("192.0.2.10/24", "eth0", "eth0:1", "global", "192.0.2.255"),
        ("192.0.2.11/32", None, None, None, None),
        ("2001:db8::10/64", "eth0", None, None, None),
    ]
    assert [v.address for v in vi.virtual_ipaddress_excluded] == ["198.51.100.1/32"]
    assert [(t.name, t.weight) for t in vi.track_interface] == [("eth0", -10), ("eth1", None)]
    assert [(t.name, t.weight) for t in vi.track_script] == [("chk", 5)]
    assert vi.notify_master == "/etc/keepalived/notify.sh master"
    assert vi.notify == "/etc/keepalived/notify.sh" and vi.smtp_alert
    assert vi.source.line == 19

    [group] = ka.vrrp_sync_groups
    assert (group.name, group.group, group.notify_fault) == ("G1", ["VI_6"], "/bin/true fault")

    vs, fw = ka.virtual_servers
    assert (vs.host, vs.port, vs.lb_algo, vs.lb_kind, vs.protocol) == (
        "192.0.2.10",
        80,
        "wlc",
        "DR",
        "TCP",
    )
    assert (vs.delay_loop, vs.persistence_timeout) == (6_000, 50_000)
    rs1, rs2 = vs.real_servers
    assert (rs1.host, rs1.port, rs1.weight) == ("10.0.0.11", 80, 3)
    [tcp] = rs1.checks
    assert tcp.keyword == "TCP_CHECK"
    assert [(c.keyword, c.args) for c in tcp.children] == [
        ("connect_timeout", ["3"]),
        ("connect_port", ["80"]),
    ]
    [http] = rs2.checks
    [url] = http.children
    assert [(c.keyword, c.args) for c in url.children] == [
        ("path", ["/health"]),
        ("status_code", ["200"]),
    ]
    assert (fw.host, fw.port, fw.lb_algo) == ("fwmark 7", 0, "rr")

    reported = {
        (d.message.split("'")[1], d.source.line) for d in result.diagnostics if d.level == "WARNING"
    }
    # VRRP and NAT virtual servers are supported: what a proxy cannot do is reported
    assert reported == {
        ("auth_type AH", line_of("        auth_type AH")),
        ("lb_kind DR", line_of("    lb_kind DR")),
        ("virtual_server fwmark", line_of("virtual_server fwmark 7 {")),
    }
    # neither becomes a proxy: DR is not something a proxy can do, nor is a mark
    assert result.config is not None and result.config.proxies == []


def test_include_relative_glob_and_missing(tmp_path: Path) -> None:
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    (conf_d / "a.conf").write_text("vrrp_script s1 {\n  script /bin/true\n  bogus 1\n}\n")
    (conf_d / "b.conf").write_text("include ../leaf.conf\n")
    (tmp_path / "leaf.conf").write_text("vrrp_script s2 {\n  script /bin/false\n  bogus 2\n}\n")
    main = tmp_path / "keepalived.conf"
    main.write_text("include conf.d/*.conf\ninclude missing.conf\n")
    result = load_files([str(main)], unsupported="warn")
    alerts = {(d.source.file, d.source.line): d.message for d in result.alerts()}
    assert "missing.conf" in alerts.pop((str(main), 2))
    assert result.config is None  # a missing include is a real error
    # the included files were read, and their messages carry their own file:line
    assert set(alerts) == {(str(conf_d / "a.conf"), 3), (str(tmp_path / "leaf.conf"), 3)}
    assert all("unknown keyword 'bogus'" in m for m in alerts.values())


def test_include_recursion_is_bounded(tmp_path: Path) -> None:
    loop = tmp_path / "loop.conf"
    loop.write_text("include loop.conf\n")
    result = load_files([str(loop)])
    assert any("nested more than" in d.message for d in result.alerts())


# (text, line, fragment)
BROKEN = [
    ("vrrp_instance VI_1 {\n    state MASTER\n", 1, "unclosed '{'"),
    ("vrrp_script s {\n  script x\n}\n}\n", 4, "unexpected '}'"),
    ("frobnicate {\n}\n", 1, "unknown keyword 'frobnicate' at top level"),
    (
        "vrrp_instance V {\n  virtual_router_id 1\n  frob 1\n}\n",
        3,
        "unknown keyword 'frob' in 'vrrp_instance' block",
    ),
    ("vrrp_instance V {\n  virtual_router_id 256\n}\n", 2, "out of range 1..255"),
    ("vrrp_instance V {\n  virtual_router_id 0\n}\n", 2, "out of range 1..255"),
    ("vrrp_instance V {\n  virtual_router_id 1\n  priority 0\n}\n", 3, "out of range 1..255"),
    ("vrrp_instance V {\n  virtual_router_id 1\n  priority 300\n}\n", 3, "out of range"),
    ("vrrp_instance V {\n  priority 100\n}\n", 1, "has no 'virtual_router_id'"),
    ("vrrp_instance V {\n  virtual_router_id 1\n  state LEADER\n}\n", 3, "MASTER or BACKUP"),
    ("vrrp_instance V {\n  virtual_router_id 1\n  advert_int x\n}\n", 3, "'x'"),
    (
        "vrrp_instance V {\n  virtual_router_id 1\n  track_script {\n    nope\n  }\n}\n",
        4,
        "track_script 'nope': no vrrp_script",
    ),
    (
        "vrrp_instance V {\n  virtual_router_id 1\n  virtual_ipaddress {\n"
        "    10.0.0.300/24\n  }\n}\n",
        4,
        "invalid address '10.0.0.300/24'",
    ),
    (
        "vrrp_instance V {\n  virtual_router_id 1\n  virtual_ipaddress {\n"
        "    10.0.0.3 device eth0\n  }\n}\n",
        4,
        "unknown option 'device'",
    ),
    ("vrrp_instance V {\n  virtual_router_id 1\n  unicast_src_ip 1.2.3\n}\n", 3, "invalid IP"),
    (
        "vrrp_instance V {\n  virtual_router_id 1\n  authentication {\n    auth_type MD5\n  }\n}\n",
        4,
        "PASS or AH",
    ),
    ("vrrp_instance V\n", 1, "expects a '{ … }' block"),
    ("vrrp_instance {\n}\n", 1, "expects one name"),
    ("vrrp_instance V {\n  virtual_router_id 1\n  priority 1 {\n  }\n}\n", 3, "does not take"),
    ('vrrp_script s {\n  script "unclosed\n}\n', 2, "unclosed quote"),
    ("vrrp_script s {\n  script x\n  interval 0\n}\n", 3, "greater than 0"),
    ("vrrp_script s {\n  script x\n  weight 300\n}\n", 3, "out of range"),
    ("vrrp_script s {\n}\n", 1, "has no 'script'"),
    (
        "vrrp_instance A {\n  virtual_router_id 9\n  interface e\n}\n"
        "vrrp_instance B {\n  virtual_router_id 9\n  interface e\n}\n",
        5,
        "already used by 'A'",
    ),
    (
        "vrrp_instance A {\n  virtual_router_id 9\n}\n"
        "vrrp_instance A {\n  virtual_router_id 8\n}\n",
        4,
        "already declared",
    ),
    ("vrrp_sync_group G {\n  group {\n    nope\n  }\n}\n", 1, "no vrrp_instance 'nope'"),
    ("virtual_server 1.2.3.4 {\n}\n", 1, "expects 'IP PORT'"),
    ("virtual_server 1.2.3.999 80 {\n}\n", 1, "invalid IP"),
    ("virtual_server 1.2.3.4 80 {\n  lb_algo best\n}\n", 2, "must be one of"),
    ("virtual_server 1.2.3.4 80 {\n  real_server 1.2.3.5 99999 {\n  }\n}\n", 2, "out of range"),
    ("global_defs {\n  frob 1\n}\n", 2, "unknown keyword 'frob' in 'global_defs' block"),
    ("global_defs {\n  smtp_connect_timeout soon\n}\n", 2, "'soon'"),
    ("{\n}\n", 1, "unexpected '{'"),
]


@pytest.mark.parametrize(("text", "lineno", "fragment"), BROKEN)
def test_broken(tmp_path: Path, text: str, lineno: int, fragment: str) -> None:
    result = load_text(tmp_path, text, unsupported="warn")
    f = str(tmp_path / "keepalived.conf")
    at_line = [d.message for d in result.alerts() if (d.source.file, d.source.line) == (f, lineno)]
    assert any(fragment in m for m in at_line), (fragment, messages(result))
    assert not result.ok


def test_recognised_but_unmodelled_keywords_are_listed(tmp_path: Path) -> None:
    text = (
        "vrrp_instance V {\n  virtual_router_id 1\n  mcast_src_ip 10.0.0.1\n}\n"
        "static_ipaddress {\n  1.2.3.4 dev lo\n}\n"
    )
    result = load_text(tmp_path, text)
    got = {(d.message, d.source.line) for d in result.diagnostics}
    assert got == {
        ("'mcast_src_ip' is not supported yet", 3),
        ("'static_ipaddress' is not supported yet", 5),
    }


def test_auth_pass_is_truncated_like_keepalived(tmp_path: Path) -> None:
    text = (
        "vrrp_instance V {\n  virtual_router_id 1\n"
        "  authentication {\n    auth_pass 0123456789\n  }\n}\n"
    )
    result = load_text(tmp_path, text, unsupported="warn")
    assert keepalived(result).vrrp_instances[0].auth_pass == "01234567"
    assert any("truncated" in d.message for d in result.diagnostics)


@pytest.mark.parametrize(
    ("text", "syntax"),
    [
        ("global\n  daemon\n", "haproxy"),
        ("# c\n\nfrontend x\n", "haproxy"),
        ("defaults # {tcp|http}\n", "haproxy"),
        ("! c\nglobal_defs {\n}\n", "keepalived"),
        ("vrrp_instance X\n{\n}\n", "keepalived"),
        ("include /etc/keepalived/*.conf\n", "keepalived"),
        ("something {\n}\n", "keepalived"),
        ("frobnicate\n", "haproxy"),
        ("", "haproxy"),
    ],
)
def test_detect_syntax(text: str, syntax: str) -> None:
    assert detect_syntax(text) == syntax


@pytest.mark.parametrize(
    ("line", "flag", "not_yet"),
    [
        ("old_unicast_checksum", True, []),
        (
            "old_unicast_checksum never",
            False,
            ["'old_unicast_checksum never' is not supported yet"],
        ),
        ("", False, []),
    ],
)
def test_old_unicast_checksum(tmp_path: Path, line: str, flag: bool, not_yet: list[str]) -> None:
    text = f"vrrp_instance V {{\n  virtual_router_id 1\n  {line}\n}}\n"
    result = load_text(tmp_path, text, unsupported="warn")
    assert keepalived(result).vrrp_instances[0].v3_checksum_as_v2 is flag
    assert [d.message for d in result.diagnostics] == not_yet
