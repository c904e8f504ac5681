"""keepalived ``virtual_server`` → lb proxy: the mapping, what is refused, and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb.config import LoadResult, load_files
from lb.config.keepalived_vs import CONNECT_TIMEOUT_MS, LVS_TCP_IDLE_MS
from lb.config.model import Proxy

VS = """\
virtual_server {addr} {{
{body}
    real_server 10.0.0.11 8080 {{
        weight 3
        TCP_CHECK {{
        }}
    }}
    real_server 10.0.0.12 {{
    }}
}}
"""


def load(tmp_path: Path, text: str, unsupported: str = "error") -> LoadResult:
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    return load_files([str(path)], environ={}, unsupported=unsupported)  # type: ignore[arg-type]


def only_proxy(result: LoadResult) -> Proxy:
    assert result.ok and result.config is not None, [str(d) for d in result.diagnostics]
    (proxy,) = result.config.proxies
    return proxy


# (virtual_server address, body lines, name, bind host, balance)
MAPPED = [
    ("192.0.2.10 80", "", "vs_192.0.2.10_80", "192.0.2.10", "lvs:wlc"),  # keepalived's default
    ("192.0.2.10 80", "    lb_algo rr\n    lb_kind NAT\n    protocol TCP", "vs_192.0.2.10_80",
     "192.0.2.10", "lvs:rr"),
    ("192.0.2.10 443", "    lvs_sched sh\n    lvs_method NAT", "vs_192.0.2.10_443",
     "192.0.2.10", "lvs:sh"),
    ("2001:db8::10 80", "    lb_algo nq", "vs_2001:db8::10_80", "2001:db8::10", "lvs:nq"),
    ("2001:DB8:0::10 80", "    lb_algo lblcr", "vs_2001:db8::10_80", "2001:db8::10", "lvs:lblcr"),
]  # fmt: skip


@pytest.mark.parametrize(("addr", "body", "name", "host", "balance"), MAPPED)
def test_virtual_server_becomes_a_tcp_listen_proxy(
    tmp_path: Path, addr: str, body: str, name: str, host: str, balance: str
) -> None:
    proxy = only_proxy(load(tmp_path, VS.format(addr=addr, body=body)))
    port = int(addr.split()[1])
    assert (proxy.name, proxy.kind, proxy.mode, proxy.balance) == (name, "listen", "tcp", balance)
    (bind,) = proxy.binds
    # freebind: the address may be a VIP that VRRP holds on the peer for now
    assert (bind.host, bind.port, bind.freebind) == (host, port, True)
    assert bind.source.line == 1 and proxy.source.line == 1
    s1, s2 = proxy.servers
    assert (s1.name, s1.host, s1.port, s1.weight, s1.check) == (
        "10.0.0.11:8080",
        "10.0.0.11",
        8080,
        3,
        True,
    )
    # no port: the virtual server's; no check block: not checked (always up, as in LVS)
    assert (s2.name, s2.port, s2.weight, s2.check) == (f"10.0.0.12:{port}", port, 1, False)
    t = proxy.timeouts
    assert (t.connect, t.client, t.server) == (CONNECT_TIMEOUT_MS, LVS_TCP_IDLE_MS, LVS_TCP_IDLE_MS)
    assert proxy.virtual_server is not None and proxy.virtual_server.host == host


def test_v6_real_servers_are_bracketed(tmp_path: Path) -> None:
    text = "virtual_server 2001:db8::1 80 {\n  real_server 2001:db8::2 81 {\n  }\n}\n"
    (server,) = only_proxy(load(tmp_path, text)).servers
    assert (server.name, server.host, server.port) == ("[2001:db8::2]:81", "2001:db8::2", 81)


# (virtual_server head, body, line of the message, what is not supported yet)
NOT_YET = [
    ("192.0.2.10 80", "    lb_kind DR", 2, "lb_kind DR"),
    ("192.0.2.10 80", "    lb_kind TUN", 2, "lb_kind TUN"),
    ("192.0.2.10 80", "    lvs_method TUN type gue port 6080", 2, "lvs_method TUN"),
    ("192.0.2.10 80", "    protocol UDP", 2, "protocol UDP"),
    ("192.0.2.10 80", "    protocol SCTP", 2, "protocol SCTP"),
    ("fwmark 7", "", 1, "virtual_server fwmark"),
    ("group web", "", 1, "virtual_server group"),
    ("192.0.2.10 0", "", 1, "virtual_server port 0"),
]


@pytest.mark.parametrize(("head", "body", "line", "what"), NOT_YET)
def test_what_a_proxy_cannot_do_is_not_supported_yet(
    tmp_path: Path, head: str, body: str, line: int, what: str
) -> None:
    result = load(tmp_path, VS.format(addr=head, body=body))
    found = [(d.source.line, d.message) for d in result.alerts()]
    assert found == [(line, f"'{what}' is not supported yet")]
    # run anyway (--unsupported warn): without that virtual server, not a wrong proxy
    warned = load(tmp_path, VS.format(addr=head, body=body), unsupported="warn")
    assert warned.ok and warned.config is not None
    assert warned.config.proxies == []


# (body lines, line, what): the virtual server is proxied, without the unsupported part
PARTLY = [
    ("    sorry_server 10.0.0.99 80", 2, "sorry_server"),
    ("    quorum 2", 2, "quorum"),
    ("    ha_suspend", 2, "ha_suspend"),
    ("    warmup 3", 2, "warmup"),
]


@pytest.mark.parametrize(("body", "line", "what"), PARTLY)
def test_unsupported_settings_are_reported_at_their_line(
    tmp_path: Path, body: str, line: int, what: str
) -> None:
    text = VS.format(addr="192.0.2.10 80", body=body)
    result = load(tmp_path, text)
    assert [(d.source.line, d.message.split(" (")[0]) for d in result.alerts()] == [
        (line, f"'{what}' is not supported yet")
    ]
    only_proxy(load(tmp_path, text, unsupported="warn"))


def test_real_server_weight_above_lb_range(tmp_path: Path) -> None:
    text = "virtual_server 192.0.2.10 80 {\n  real_server 10.0.0.1 80 {\n    weight 1000\n  }\n}\n"
    result = load(tmp_path, text)
    assert [(d.source.line, d.message.split(" (")[0]) for d in result.alerts()] == [
        (2, "'weight 1000' is not supported yet")
    ]
    (server,) = only_proxy(load(tmp_path, text, unsupported="warn")).servers
    assert server.weight == 256


# (text, line, fragment): real errors, whatever --unsupported says
BROKEN = [
    (
        "virtual_server 192.0.2.10 80 {\n}\nvirtual_server 192.0.2.10 80 {\n}\n",
        3,
        "already declared at",
    ),
    (
        "virtual_server 192.0.2.10 80 {\n  real_server 10.0.0.1 80 {\n  }\n"
        "  real_server 10.0.0.1 {\n  }\n}\n",
        4,
        "real_server 10.0.0.1 80 already declared",
    ),
    ("virtual_server 192.0.2.10 80 {\n  lb_kind FOO\n}\n", 2, "must be one of"),
    ("virtual_server 192.0.2.10 80 {\n  inhibit_on_failure maybe\n}\n", 2, "true or false"),
    ("virtual_server 192.0.2.10 80 {\n  real_server 10.0.0.1 80 {\n  notify_up\n  }\n}\n", 3,
     "expects 'COMMAND [USER [GROUP]]'"),
    ("virtual_server 192.0.2.10 80 {\n  real_server 10.0.0.1 80 {\n  TCP_CHECK\n  }\n}\n", 3,
     "expects a '{ … }' block"),
    ("virtual_server 192.0.2.10 80 {\n  real_server 10.0.0.1 80 {\n  frob 1\n  }\n}\n", 3,
     "unknown keyword 'frob' in 'real_server' block"),
    ("virtual_server 192.0.2.10 80 {\n  real_server 10.0.0.1 80 {\n"
     "  notify_down /bin/true no-such-user-here\n  }\n}\n", 2, "unknown user or group"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "fragment"), BROKEN)
def test_broken(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    result = load(tmp_path, text, unsupported="warn")
    at_line = [d.message for d in result.alerts() if d.source.line == line]
    assert any(fragment in m for m in at_line), [str(d) for d in result.diagnostics]
    assert not result.ok


def test_collisions_with_haproxy_proxies(tmp_path: Path) -> None:
    (tmp_path / "h.cfg").write_text(
        "defaults\n mode tcp\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n"
        "listen vs_192.0.2.10_80\n bind 127.0.0.1:9000\n server s 127.0.0.1:9\n"
        "frontend fe\n bind 192.0.2.11:80\n default_backend vs_192.0.2.10_80\n"
    )
    (tmp_path / "k.conf").write_text(
        "virtual_server 192.0.2.10 80 {\n}\nvirtual_server 192.0.2.11 80 {\n}\n"
        "virtual_server 192.0.2.12 80 {\n}\n"
    )
    result = load_files([str(tmp_path / "h.cfg"), str(tmp_path / "k.conf")], environ={})
    alerts = {d.source.line: d.message for d in result.alerts()}
    assert "a name already taken by listen 'vs_192.0.2.10_80'" in alerts[1]
    assert "frontend 'fe'" in alerts[3] and "already binds 192.0.2.11:80" in alerts[3]
    assert set(alerts) == {1, 3}


def test_haproxy_and_keepalived_files_make_one_configuration(tmp_path: Path) -> None:
    (tmp_path / "h.cfg").write_text("global\n stats socket /tmp/x.sock level admin\n")
    (tmp_path / "k.conf").write_text(VS.format(addr="127.0.0.1 8080", body="    lb_algo wrr"))
    result = load_files([str(tmp_path / "h.cfg"), str(tmp_path / "k.conf")], environ={})
    assert result.ok and result.config is not None, [str(d) for d in result.diagnostics]
    assert [p.name for p in result.config.frontends()] == ["vs_127.0.0.1_8080"]
    assert result.config.backend("vs_127.0.0.1_8080") is not None
    assert result.config.global_.stats_sockets[0].path == "/tmp/x.sock"


@pytest.mark.parametrize(
    ("body", "expire"),
    [("    persistence_timeout 300", 300_000), ("    persistence_timeout", 360_000)],
)
def test_persistence_timeout_is_a_stick_table_on_the_source(
    tmp_path: Path, body: str, expire: int
) -> None:
    proxy = only_proxy(load(tmp_path, VS.format(addr="192.0.2.10 80", body=body)))
    table = proxy.stick_table
    assert table is not None and (table.type, table.expire) == ("ip", expire)
    assert [s.name for s in table.store] == ["server_id"]  # what stick on keeps
    assert [(r.kind, r.words) for r in proxy.stick_rules] == [("on", ["src"])]
