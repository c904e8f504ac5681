"""The example configurations in /work/shared/examples: what lb makes of them, exactly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lb.config import LoadResult, load_files
from lb.config.model import ForwardFor, Keepalived, LogOptions, LogTarget, Source

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "examples"
HAPROXY_SEED = EXAMPLES / "seed-haproxy.cfg"
KEEPALIVED_FILES = {
    name: EXAMPLES / name
    for name in (
        "seed-keepalived-active-active-a.conf",
        "seed-keepalived-active-active-b.conf",
        "seed-keepalived-backup.conf",
        "seed-keepalived-master.conf",
    )
}
NOT_YET = re.compile(r"^'(?P<what>[^']+)' is not supported yet")


def not_yet(result: LoadResult, level: str = "ALERT") -> set[tuple[str, int]]:
    """(keyword, line) of every "not supported yet" message at ``level``."""
    out = set()
    for d in result.diagnostics:
        m = NOT_YET.match(d.message)
        if m and d.level == level:
            out.add((m.group("what"), d.source.line))
    return out


def other_diagnostics(result: LoadResult) -> list[str]:
    return [str(d) for d in result.diagnostics if not NOT_YET.match(d.message)]


def test_examples_are_there() -> None:
    # Fail, not skip: these files are the acceptance set.
    assert HAPROXY_SEED.is_file(), HAPROXY_SEED
    for path in KEEPALIVED_FILES.values():
        assert path.is_file(), path


# --------------------------------------------------------------------------- HAProxy seed

# Since mode http: what remains is what lb truly does not do yet.
SEED_NOT_YET: set[tuple[str, int]] = set()  # the stats page landed: the seed checks clean


def test_seed_haproxy_not_supported_yet_exactly() -> None:
    result = load_files([str(HAPROXY_SEED)], environ={})
    assert other_diagnostics(result) == []
    assert not_yet(result) == SEED_NOT_YET
    # one message per (keyword, line): no duplicates
    assert len([d for d in result.diagnostics if d.level == "ALERT"]) == len(SEED_NOT_YET)
    assert result.ok == (not SEED_NOT_YET)
    for d in result.diagnostics:
        assert d.source.file == str(HAPROXY_SEED)


def test_seed_haproxy_warn_mode_is_ok() -> None:
    result = load_files([str(HAPROXY_SEED)], environ={}, unsupported="warn")
    assert result.ok
    assert result.alerts() == []
    assert not_yet(result, "WARNING") == SEED_NOT_YET


def test_seed_haproxy_model() -> None:
    result = load_files([str(HAPROXY_SEED)], environ={}, unsupported="warn")
    cfg = result.config
    assert cfg is not None
    g = cfg.global_
    assert (g.daemon, g.chroot, g.pidfile, g.maxconn) == (
        True,
        "/var/lib/haproxy",
        "/var/run/haproxy.pid",
        4000,
    )
    assert (g.user, g.group) == ("haproxy", "haproxy")
    assert [(s.path, s.source.line, s.level) for s in g.stats_sockets] == [
        ("/var/lib/haproxy/stats", 10, "admin")
    ]
    by_name = {p.name: p for p in cfg.proxies}
    assert [(p.name, p.kind) for p in cfg.proxies] == [
        ("stats", "listen"),
        ("web", "frontend"),
        ("static_servers", "backend"),
        ("dynamic_servers", "backend"),
    ]
    stats = by_name["stats"]
    assert [(b.host, b.port) for b in stats.binds] == [("", 8080)]
    assert stats.mode == "http" and stats.maxconn == 3000 and stats.redispatch
    assert stats.timeouts.connect == 10_000 and stats.timeouts.client == 60_000
    assert stats.timeouts.queue == 60_000 and stats.timeouts.http_request == 10_000
    web = by_name["web"]
    assert web.default_backend == "dynamic_servers"
    assert [(u.backend, u.condition) for u in web.use_backends] == [
        ("static_servers", ["if", "url_static"])
    ]
    assert web.timeouts.client == 60_000 and web.timeouts.server is None  # frontend side only
    # mode http, its options and logs, from the defaults and the proxies' own lines
    global_log = LogTarget("127.0.0.1:514", "local2", Source(str(HAPROXY_SEED), 2), "debug")
    assert g.logs == [global_log]
    assert [p.mode for p in cfg.proxies] == ["http"] * 4
    assert web.http.connection_mode == "close"  # its own "option httpclose"
    assert stats.http.connection_mode == "server-close"  # from defaults
    assert web.http.forwardfor == ForwardFor(except_net="127.0.0.0/8")
    assert stats.http.abortonclose and not web.http.abortonclose  # backend side only
    assert [(c.header, c.length, c.source.line) for c in web.http.request_captures] == [
        ("Host", 20, 45),
        ("X-Forwarded-For", 15, 46),
        ("Referer", 60, 47),
    ]
    assert web.logs == LogOptions(
        targets=[global_log], httplog=True, dontlognull=True, logasap=True
    )
    assert stats.logs.targets == [global_log] and not stats.logs.logasap
    assert web.timeouts.http_request == 10_000 and web.timeouts.http_keep_alive == 10_000
    static = by_name["static_servers"]
    assert [(s.name, s.host, s.port, s.maxconn) for s in static.servers] == [
        ("web1", "192.168.10.3", 80, 5000)
    ]
    dynamic = by_name["dynamic_servers"]
    assert dynamic.balance == "source" and dynamic.retries == 3 and dynamic.redispatch
    assert dynamic.hash_type == ["consistent"]
    assert [(s.name, s.host, s.port, s.maxconn) for s in dynamic.servers] == [
        ("web2", "192.168.10.4", 80, 500)
    ]
    # "check" with HAProxy's defaults; "timeout check" from the defaults section
    web2 = dynamic.servers[0]
    assert (web2.check, web2.inter, web2.rise, web2.fall, web2.id) == (True, 2000, 2, 3, 1)
    assert dynamic.timeouts.check == 10_000 and static.servers[0].check


# --------------------------------------------------------------------------- keepalived

# (instance, state, vrid, priority, auth_pass, VIPs with dev, track_script names)
INSTANCES = {
    "seed-keepalived-active-active-a.conf": [
        ("VI_1", "MASTER", 100, 100, "11111", [("192.168.22.249/24", "eth1")], ["chk_haproxy"]),
        ("VI_2", "BACKUP", 101, 99, "22222", [("192.168.22.147/24", "eth1")], []),
    ],
    "seed-keepalived-active-active-b.conf": [
        ("VI_1", "BACKUP", 100, 99, "11111", [("192.168.22.249/24", "eth1")], ["chk_haproxy"]),
        ("VI_2", "MASTER", 101, 100, "22222", [("192.168.22.147/24", "eth1")], []),
    ],
    "seed-keepalived-backup.conf": [
        ("VI_1", "BACKUP", 77, 99, "11111", [("192.168.22.249/24", "eth1")], ["chk_haproxy"]),
    ],
    "seed-keepalived-master.conf": [
        ("VI_1", "MASTER", 77, 100, "11111", [("192.168.22.249/24", "eth1")], ["chk_haproxy"]),
    ],
}

ROUTER_IDS = {
    "seed-keepalived-active-active-a.conf": ("LVS_DEVEL", ["root@localhost"]),
    "seed-keepalived-active-active-b.conf": ("LVS_DEVEL", ["root@localhost"]),
    "seed-keepalived-backup.conf": ("LVS_HAPROXY", ["your_email@163.com"]),
    "seed-keepalived-master.conf": ("LVS_HAPROXY", ["your_email@163.com"]),
}


def _keepalived(result: LoadResult) -> Keepalived:
    assert result.config is not None and result.config.keepalived is not None
    return result.config.keepalived


@pytest.mark.parametrize("name", sorted(KEEPALIVED_FILES))
def test_keepalived_example_model(name: str) -> None:
    result = load_files([str(KEEPALIVED_FILES[name])])
    assert other_diagnostics(result) == []
    ka = _keepalived(result)
    assert result.config is not None and result.config.proxies == []

    got = [
        (
            i.name,
            i.state,
            i.virtual_router_id,
            i.priority,
            i.auth_pass,
            [(v.address, v.dev) for v in i.virtual_ipaddress],
            [t.name for t in i.track_script],
        )
        for i in ka.vrrp_instances
    ]
    assert got == INSTANCES[name]
    for inst in ka.vrrp_instances:
        assert inst.interface == "eth1" and inst.auth_type == "PASS"
        assert inst.advert_int == 1000 and inst.garp_master_delay == 1000
        assert [t.name for t in inst.track_interface] == ["eth1"]

    assert [(s.name, s.script, s.interval, s.weight) for s in ka.vrrp_scripts] == [
        ("chk_haproxy", "killall -0 haproxy", 2000, 2)
    ]
    gd = ka.global_defs
    assert (gd.router_id, gd.notification_email) == ROUTER_IDS[name]
    assert gd.notification_email_from == "root@localhost"
    assert gd.smtp_server == "127.0.0.1" and gd.smtp_connect_timeout == 3000


@pytest.mark.parametrize("name", sorted(KEEPALIVED_FILES))
def test_keepalived_examples_are_fully_supported(name: str) -> None:
    """VRRP is built: the seeds' keepalived files load with no message at all."""
    result = load_files([str(KEEPALIVED_FILES[name])])
    assert result.ok
    assert result.diagnostics == []


def test_all_examples_together_merge() -> None:
    # HAProxy and keepalived files in one load: one Config with both halves.
    paths = [str(HAPROXY_SEED), str(KEEPALIVED_FILES["seed-keepalived-master.conf"])]
    result = load_files(paths, environ={}, unsupported="warn")
    assert result.ok
    assert result.config is not None
    assert len(result.config.proxies) == 4
    assert _keepalived(result).vrrp_instances[0].virtual_router_id == 77
    assert result.config.files == paths
