"""HAProxy syntax: a valid tcp configuration to the last field, and broken inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lb.config import LoadResult, load_files
from lb.config.model import Bind, Server, Source, Timeouts

VALID_TCP = """\
global
    daemon
    maxconn 20000
    nbthread 4
    hard-stop-after 30s
    pidfile /run/lb.pid
    stats socket /run/lb.sock mode 600 level operator uid 0 gid 0
    description edge  balancer

defaults
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 90000
    timeout tunnel 1h
    retries 2
    option redispatch
    maxconn 1000

frontend fe
    bind :8080
    bind 127.0.0.1:80,[::1]:81 name pair
    bind :::443 v6only backlog 512
    bind ipv4@0.0.0.0:8443 v4v6
    default_backend be

frontend fe2 from named
    bind *:9000
    use_backend be

backend be
    balance roundrobin
    server s1 10.0.0.1:80 weight 10
    server s2 10.0.0.2:8080 weight 0 disabled
    server s3 [2001:db8::1]:81

defaults named
    mode tcp
    timeout client 2s

listen li
    bind 127.0.0.1:7000
    no option redispatch
    timeout client 3s
    timeout connect 4s
    timeout server 5s
    server only 127.0.0.1:7001
"""


def load_text(tmp_path: Path, text: str, name: str = "lb.cfg", **kw: object) -> LoadResult:
    path = tmp_path / name
    path.write_text(text)
    return load_files([str(path)], environ={}, **kw)  # type: ignore[arg-type]


def messages(result: LoadResult) -> list[str]:
    return [str(d) for d in result.diagnostics]


def test_valid_tcp_config_exact_model(tmp_path: Path) -> None:
    # fe2 refers to a defaults section declared *after* it: that is an error in
    # HAProxy too, so this test's config moves it first.
    text = VALID_TCP.replace("frontend fe2 from named\n    bind *:9000\n    use_backend be\n", "")
    text += "\nfrontend fe2 from named\n    bind *:9000\n    use_backend be\n"
    result = load_text(tmp_path, text)
    assert messages(result) == []
    assert result.ok
    cfg = result.config
    assert cfg is not None
    f = str(tmp_path / "lb.cfg")
    lines = text.splitlines()

    def src_line(fragment: str) -> int:
        return next(i for i, line in enumerate(lines, 1) if line.strip() == fragment)

    g = cfg.global_
    assert (g.daemon, g.maxconn, g.nbthread, g.hard_stop_after, g.pidfile) == (
        True,
        20000,
        4,
        30_000,
        "/run/lb.pid",
    )
    assert g.description == "edge balancer"
    [sock] = g.stats_sockets
    assert (sock.path, sock.mode, sock.level, sock.uid, sock.gid) == (
        "/run/lb.sock",
        0o600,
        "operator",
        0,
        0,
    )

    by_name = {p.name: p for p in cfg.proxies}
    fe = by_name["fe"]
    assert fe.binds == [
        Bind("", 8080, source=fe.binds[0].source),
        Bind("127.0.0.1", 80, source=fe.binds[1].source, name="pair"),
        Bind("::1", 81, source=fe.binds[1].source, name="pair"),
        Bind("::", 443, source=fe.binds[3].source, v6only=True, backlog=512),
        Bind("0.0.0.0", 8443, source=fe.binds[4].source, v4v6=True),
    ]
    assert [b.source.line for b in fe.binds] == [
        src_line("bind :8080"),
        src_line("bind 127.0.0.1:80,[::1]:81 name pair"),
        src_line("bind 127.0.0.1:80,[::1]:81 name pair"),
        src_line("bind :::443 v6only backlog 512"),
        src_line("bind ipv4@0.0.0.0:8443 v4v6"),
    ]
    assert all(b.source.file == f for b in fe.binds)
    assert fe.mode == "tcp" and fe.maxconn == 1000 and fe.default_backend == "be"
    # a frontend takes only the client side of the defaults
    assert fe.timeouts == Timeouts(client=60_000)

    be = by_name["be"]
    assert be.kind == "backend" and be.balance == "roundrobin"
    assert (be.retries, be.redispatch, be.maxconn) == (2, True, None)
    assert be.timeouts == Timeouts(connect=5_000, server=90_000, tunnel=3_600_000)
    assert be.servers == [
        Server("s1", "10.0.0.1", 80, source=be.servers[0].source, weight=10, id=1),
        Server("s2", "10.0.0.2", 8080, source=be.servers[1].source, weight=0, disabled=True, id=2),
        Server("s3", "2001:db8::1", 81, source=be.servers[2].source, id=3),
    ]

    li = by_name["li"]
    assert li.kind == "listen" and li.redispatch is False  # "no option redispatch"
    # listen follows the *last* defaults section before it: "named"
    assert li.timeouts == Timeouts(connect=4_000, client=3_000, server=5_000)
    assert li.retries == 3 and li.maxconn is None

    fe2 = by_name["fe2"]
    assert fe2.timeouts.client == 2_000 and fe2.maxconn is None
    assert [(u.backend, u.condition) for u in fe2.use_backends] == [("be", [])]
    assert [p.name for p in cfg.frontends()] == ["fe", "li", "fe2"]
    assert cfg.backend("be") is be


def test_env_expansion_reaches_the_model(tmp_path: Path) -> None:
    text = (
        'frontend fe\n    bind "${ADDR}:${PORT-9999}"\n    default_backend be\n'
        "    timeout client 1s\n"
        "backend be\n    server s $SRV:80\n    timeout connect 1s\n    timeout server 1s\n"
    )
    path = tmp_path / "e.cfg"
    path.write_text(text)
    result = load_files([str(path)], environ={"ADDR": "127.0.0.2", "SRV": "10.9.9.9"})
    assert messages(result) == []
    assert result.config is not None
    fe, be = result.config.proxies
    assert (fe.binds[0].host, fe.binds[0].port) == ("127.0.0.2", 9999)
    assert be.servers[0].host == "10.9.9.9"


BASE = """\
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind :80
    default_backend be
backend be
    server s1 127.0.0.1:81
"""


def with_line(section: str, line: str) -> tuple[str, int]:
    """BASE plus ``line`` at the end of ``section``; returns (text, the new line's number)."""
    lines = BASE.splitlines()
    at = lines.index(section) + 1
    while at < len(lines) and lines[at].startswith(" "):
        at += 1
    lines.insert(at, "    " + line)
    return "\n".join(lines) + "\n", at + 1


# (section, line added, fragment expected in an ALERT at that line)
BROKEN_LINES = [
    ("frontend fe", "frobnicate yes", "unknown keyword 'frobnicate' in 'frontend' section"),
    ("frontend fe", "option frobnicate", "unknown option 'frobnicate'"),
    ("frontend fe", "timeout client 10zz", "'10zz'"),
    ("defaults", "timeout connect 5 s", "takes no more than 1"),
    ("defaults", "timeout lunch 5s", "unknown timeout 'lunch'"),
    ("frontend fe", "bind 127.0.0.1:70000", "70000"),
    ("frontend fe", "bind 127.0.0.1", "missing port"),
    ("frontend fe", "bind :80 frobnicate", "unknown bind option 'frobnicate'"),
    ("frontend fe", "bind :80 backlog lots", "'lots'"),
    ("frontend fe", "bind", "'bind' expects an argument"),
    ("frontend fe", "bind :80,,:81", "empty address"),
    ("frontend fe", 'bind "unclosed', "unmatched quote"),
    ("frontend fe", "maxconn -1", "'-1'"),
    ("frontend fe", "maxconn many", "'many'"),
    ("frontend fe", "use_backend nowhere", "missing backend 'nowhere'"),
    ("frontend fe", "use_backend be when x", "expected 'if' or 'unless'"),
    ("frontend fe", "server s 1.2.3.4:80", "'server' is not allowed in a 'frontend' section"),
    ("backend be", "bind :80", "'bind' is not allowed in a 'backend' section"),
    ("backend be", "default_backend be", "not allowed in a 'backend' section"),
    ("defaults", "bind :80", "'bind' is not allowed in a 'defaults' section"),
    ("defaults", "server s 1.2.3.4:80", "not allowed in a 'defaults' section"),
    ("backend be", "server s2", "server 's2' has no address"),
    ("backend be", "server s2 192.168.10.3", "missing port"),
    ("backend be", "server s2 192.168.10.3:0", "out of range"),
    ("backend be", "server s2 10.0.0.1:80 weight 257", "'257' is out of range 0..256"),
    ("backend be", "server s2 10.0.0.1:80 weight lots", "'lots'"),
    ("backend be", "server s2 10.0.0.1:80 frob", "unknown server option 'frob'"),
    ("backend be", "server s2 10.0.0.1:80 weight", "expects an argument"),
    ("backend be", "server s1 10.0.0.1:80", "duplicate server name 's1'"),
    ("backend be", "balance frobnicate", "unknown balance algorithm"),
    ("backend be", "balance roundrobin extra", "takes no argument"),
    ("backend be", "retries x", "'x'"),
    ("backend be", "mode frob", "unknown mode 'frob'"),
    ("backend be", "mode health", "'mode health' is not accepted"),
    ("backend be", "contimeout 5s", "use 'timeout connect'"),
    ("frontend fe", "clitimeout 5s", "use 'timeout client'"),
    ("backend be", "srvtimeout 5s", "use 'timeout server'"),
    ("frontend fe", "reqadd X-Foo:\\ bar", "removed from HAProxy"),
    ("frontend fe", "disabled now", "takes no more than 0"),
]


@pytest.mark.parametrize(("section", "line", "fragment"), BROKEN_LINES)
def test_broken_line_is_alerted_at_its_line(
    tmp_path: Path, section: str, line: str, fragment: str
) -> None:
    text, lineno = with_line(section, line)
    result = load_text(tmp_path, text)
    f = tmp_path / "lb.cfg"
    at_line = [
        d.message for d in result.alerts() if (d.source.file, d.source.line) == (str(f), lineno)
    ]
    assert at_line, messages(result)
    assert any(fragment in m for m in at_line), (fragment, messages(result))
    assert not result.ok and result.config is None
    # nothing raised, and every diagnostic names the file
    assert all(d.source.file == str(f) for d in result.diagnostics)


def test_unknown_keyword_message_format(tmp_path: Path) -> None:
    text, lineno = with_line("frontend fe", "option http-buffer-request")
    result = load_text(tmp_path, text)
    f = tmp_path / "lb.cfg"
    assert messages(result) == [
        f"[ALERT] {f}:{lineno}: 'option http-buffer-request' is not supported yet"
    ]


# (text, line, fragment) for whole-file problems
BROKEN_FILES = [
    ("bind :80\n", 1, "unknown keyword 'bind' out of section"),
    ("frontend\n", 1, "'frontend' expects a name"),
    ("frontend a/b\n  bind :80\n", 1, "character '/' is not permitted"),
    ("frontend fe from nowhere\n  bind :80\n", 1, "unable to find defaults section 'nowhere'"),
    ("frontend fe 0.0.0.0:80\n", 1, "unexpected argument '0.0.0.0:80'"),
    ("frontend fe\n  timeout client 1s\n", 1, "has no 'bind' line"),
    (
        "frontend fe\n  bind :80\n  timeout client 1s\n  default_backend b\n"
        "backend b\n  mode http\n  server s 1.2.3.4:80\n",
        4,
        "in tcp mode and cannot use backend 'b'",
    ),
    (BASE + "backend be\n  server s 1.2.3.4:80\n", 11, "same name as backend 'be'"),
    (BASE + "listen fe\n  bind :81\n", 11, "same name as frontend 'fe'"),
    ("global\n  nbproc 4\n", 2, "use 'nbthread'"),
    ("global\n  nbthread 0\n", 2, "out of range"),
    ("global\n  maxconn x\n", 2, "'x'"),
    ("global\n  hard-stop-after 1x\n", 2, "'1x'"),
    ("global\n  frobnicate\n", 2, "unknown keyword 'frobnicate' in 'global' section"),
    ("global\n  stats socket /x mode 999\n", 2, "not an octal file mode"),
    ("global\n  stats socket /x level root\n", 2, "must be user, operator or admin"),
    ("global\n  stats socket /x user no-such-user-lb\n", 2, "unknown user 'no-such-user-lb'"),
    ("global\n  stats socket /x group no-such-group-lb\n", 2, "unknown group 'no-such-group-lb'"),
    ("global\n  stats socket /x frob\n", 2, "unknown 'stats socket' option 'frob'"),
    ("global\n  stats socket\n", 2, "expects an argument"),
    ("global extra\n", 1, "unexpected argument 'extra'"),
]


@pytest.mark.parametrize(("text", "lineno", "fragment"), BROKEN_FILES)
def test_broken_file(tmp_path: Path, text: str, lineno: int, fragment: str) -> None:
    result = load_text(tmp_path, text)
    f = str(tmp_path / "lb.cfg")
    at_line = [d.message for d in result.alerts() if d.source == Source(f, lineno)]
    assert any(fragment in m for m in at_line), (fragment, messages(result))
    assert result.config is None


# (text, fragment of a WARNING, fragment of a "not supported yet" or None)
WARNINGS = [
    ("global\n  master-worker\n", "lb always runs as a master and workers"),
    (BASE + "  option splice-auto\n", "lb always splices in tcp mode"),
    ("frontend fe\n  bind :80\n  default_backend be\nbackend be\n", "missing timeouts"),
    ("backend be\n  timeout connect 1s\n  timeout server 1s\n", "has no server available"),
    ("global\n  pidfile $NOPE\n", "environment variable 'NOPE' is not set"),
]


@pytest.mark.parametrize(("text", "fragment"), WARNINGS)
def test_warnings(tmp_path: Path, text: str, fragment: str) -> None:
    result = load_text(tmp_path, text)
    warnings = [d.message for d in result.diagnostics if d.level == "WARNING"]
    assert any(fragment in w for w in warnings), messages(result)


NOT_YET_CASES = [
    ("peers mine\n  peer a 127.0.0.1:1024\n  frobnicate\n", ("peers", 1)),
    ("global\n  tune.maxrewrite 1024\n", ("tune.maxrewrite", 2)),
    ("global\n  log-send-hostname\n", ("log-send-hostname", 2)),
    ("global\n  stats socket /x expose-fd listeners\n", ("expose-fd", 2)),
    (BASE + "  default-server agent-check\n", ("agent-check", 11)),
    (BASE + "  server s2 10.0.0.1:80 check inter 2s agent-port 3\n", ("agent-port", 11)),
    (BASE + "  server s2 10.0.0.1:80-90\n", ("80-90", 11)),
    (BASE + "  hash-balance-factor 150\n", ("hash-balance-factor", 11)),
    (BASE + "  balance rdp-cookie\n", ("balance rdp-cookie", 11)),
    (BASE + "  http-check connect\n", ("http-check connect", 11)),
    ("frontend fe\n  bind :443 ssl crt-list /etc/x.lst\n", ("crt-list", 2)),
    ("frontend fe\n  bind :443 ssl verify required\n", ("verify", 2)),
    ("frontend fe\n  bind unix@/run/x.sock\n", ("unix@", 2)),
    ("frontend fe\n  bind :80-90\n", ("80-90", 2)),
    ("frontend fe\n  bind :80\n  http-request set-nice 1\n", ("http-request set-nice", 3)),
    ("frontend fe\n  bind :80\n  no option tcpka\n", ("no option tcpka", 3)),
    (".if defined(X)\n.endif\n", (".if", 1)),
]


@pytest.mark.parametrize(("text", "expected"), NOT_YET_CASES)
def test_not_supported_yet(tmp_path: Path, text: str, expected: tuple[str, int]) -> None:
    what, lineno = expected
    message = f"'{what}' is not supported yet"
    for mode, level in (("error", "ALERT"), ("warn", "WARNING")):
        result = load_text(tmp_path, text, unsupported=mode)
        hits = [d for d in result.diagnostics if d.message.startswith(message)]
        assert [(d.level, d.source.line) for d in hits] == [(level, lineno)], messages(result)


def test_unsupported_section_body_is_skipped_quietly(tmp_path: Path) -> None:
    result = load_text(tmp_path, NOT_YET_CASES[0][0], unsupported="warn")
    assert messages(result) == [
        f"[WARNING] {tmp_path / 'lb.cfg'}:1: 'peers' is not supported yet (section)"
    ]


def test_warn_mode_keeps_real_errors(tmp_path: Path) -> None:
    text, _ = with_line("frontend fe", "frobnicate")
    text2, _ = with_line("frontend fe", "option http-buffer-request")
    result = load_text(tmp_path, text + text2.split("\n", 1)[1], unsupported="warn")
    assert [d.level for d in result.diagnostics if "frobnicate" in d.message] == ["ALERT"]
    assert not result.ok


def test_defaults_carry_across_files_and_named_defaults(tmp_path: Path) -> None:
    a = tmp_path / "a.cfg"
    a.write_text("defaults fast\n  timeout connect 1s\n  retries 7\n")
    b = tmp_path / "b.cfg"
    b.write_text(
        "defaults\n  retries 1\n"
        "backend last\n  server s 1.1.1.1:1\n"
        "backend picked from fast\n  server s 1.1.1.1:1\n"
    )
    result = load_files([str(a), str(b)], environ={})
    assert result.config is not None
    last, picked = result.config.proxies
    assert (last.retries, last.timeouts.connect) == (1, None)  # a new defaults resets
    assert (picked.retries, picked.timeouts.connect) == (7, 1_000)

    c = tmp_path / "c.cfg"
    c.write_text("backend inherits\n  server s 1.1.1.1:1\n")
    result = load_files([str(a), str(c)], environ={})
    assert result.config is not None
    assert result.config.proxies[0].retries == 7  # the last defaults, from the other file


def test_directory_reads_cfg_files_in_lexical_order(tmp_path: Path) -> None:
    d = tmp_path / "conf.d"
    d.mkdir()
    (d / "20-be.cfg").write_text("backend b2\n  server s 1.1.1.1:1\n")
    (d / "10-be.cfg").write_text("backend b1\n  server s 1.1.1.1:1\n")
    (d / "notes.txt").write_text("frobnicate\n")
    (d / "sub.cfg").mkdir()
    result = load_files([str(d)], environ={})
    assert result.config is not None
    assert [p.name for p in result.config.proxies] == ["b1", "b2"]
    assert result.config.files == [str(d / "10-be.cfg"), str(d / "20-be.cfg")]


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.cfg"
    result = load_files([str(missing)])
    assert [(d.level, d.source.file, d.source.line) for d in result.diagnostics] == [
        ("ALERT", str(missing), 0)
    ]
    assert "cannot read" in result.diagnostics[0].message
    if os.geteuid() != 0:
        locked = tmp_path / "locked.cfg"
        locked.write_text("global\n")
        locked.chmod(0)
        result = load_files([str(locked)])
        assert result.diagnostics[0].source.file == str(locked)


def test_no_file_at_all() -> None:
    result = load_files([])
    assert not result.ok


def test_keeps_going_after_errors(tmp_path: Path) -> None:
    text = "frontend fe\n  frob\n  bind :99999\n  maxconn x\n  default_backend nowhere\n"
    result = load_text(tmp_path, text)
    # every line is reported, the missing backend (a cross-check) after the rest
    assert sorted(d.source.line for d in result.alerts()) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("user no-such-user-here", "no user named 'no-such-user-here'"),
        ("group no-such-group-here", "no group named 'no-such-group-here'"),
    ],
)
def test_worker_account_must_exist(tmp_path: Path, line: str, fragment: str) -> None:
    result = load_text(tmp_path, f"global\n    {line}\n" + BASE)
    assert not result.ok
    assert [(d.source.line, fragment in d.message) for d in result.alerts()] == [(2, True)]


def test_existing_worker_account_is_kept(tmp_path: Path) -> None:
    result = load_text(tmp_path, "global\n    user nobody\n    group nogroup\n" + BASE)
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.config is not None
    assert (result.config.global_.user, result.config.global_.group) == ("nobody", "nogroup")
