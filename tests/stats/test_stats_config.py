"""The ``stats`` keywords of a proxy."""

from __future__ import annotations

from pathlib import Path

import pytest

import lb.config
from lb.config.model import StatsAuth

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "examples" / "seed-haproxy.cfg"

HEAD = """
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
"""


def load(tmp_path: Path, body: str) -> lb.config.LoadResult:
    path = tmp_path / "lb.cfg"
    path.write_text(HEAD + body)
    return lb.config.load_files([str(path)], environ={})


def test_the_seeds_listen_stats_loads() -> None:
    result = lb.config.load_files([str(SEED)], environ={}, unsupported="warn")
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.config is not None
    stats = next(p for p in result.config.proxies if p.name == "stats").stats
    assert stats is not None
    assert stats.uri == "/haproxy?stats"
    assert stats.realm == "no entrance"  # "no\\ entrance" in the file
    assert stats.auth == [StatsAuth("admin", "admin")]
    assert stats.admin == [["if", "TRUE"]]
    assert stats.hide_version


def test_every_keyword(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        """
listen admin
    bind 127.0.0.1:9000
    stats uri /st
    stats auth a:b
    stats auth c:d:e
    stats refresh 5s
    stats show-node
    stats show-desc "the edge"
    stats scope .
    stats scope app
    stats admin unless FALSE
""",
    )
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.config is not None
    s = result.config.proxies[0].stats
    assert s is not None
    assert s.uri == "/st" and s.refresh == 5000
    assert s.auth == [StatsAuth("a", "b"), StatsAuth("c", "d:e")]
    assert (s.show_node, s.show_desc) == ("", "the edge")
    assert s.scope == [".", "app"]
    assert s.admin == [["unless", "FALSE"]]
    assert not s.hide_version


def test_stats_enable_alone_uses_the_default_uri(tmp_path: Path) -> None:
    result = load(tmp_path, "frontend f\n    bind 127.0.0.1:9000\n    stats enable\n")
    assert result.ok and result.config is not None
    s = result.config.proxies[0].stats
    assert s is not None and s.uri == "/haproxy?stats" and s.auth == []


def test_proxies_without_stats_have_none(tmp_path: Path) -> None:
    result = load(tmp_path, "frontend f\n    bind 127.0.0.1:9000\n")
    assert result.config is not None and result.config.proxies[0].stats is None


def test_defaults_are_inherited(tmp_path: Path) -> None:
    path = tmp_path / "lb.cfg"
    path.write_text(
        HEAD.replace("defaults\n", "defaults\n    stats uri /d\n    stats auth u:p\n", 1)
        + "frontend f\n    bind 127.0.0.1:9000\n    stats realm R\n"
        + "frontend g\n    bind 127.0.0.1:9001\n"
    )
    result = lb.config.load_files([str(path)], environ={})
    assert result.ok and result.config is not None
    f, g = result.config.proxies
    assert f.stats is not None and (f.stats.uri, f.stats.realm) == ("/d", "R")
    assert g.stats is not None and g.stats.auth == [StatsAuth("u", "p")] and g.stats.realm is None
    f.stats.auth.append(StatsAuth("x", "y"))
    assert len(g.stats.auth) == 1  # copies, not a shared list


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("stats auth nocolon", "expects <user>:<password>"),
        ("stats auth :pw", "user name"),
        ("stats refresh soon", "stats refresh"),
        ("stats admin TRUE", "'if' or 'unless'"),
        ("stats admin if", "'if' or 'unless'"),
        ("stats uri", "URI prefix"),
        ("stats enable now", "takes no argument"),
        ("stats hide-version yes", "takes no argument"),
        ("stats realm", "exactly one argument"),
        ("stats scope", "proxy name"),
        ("stats show-node a b", "at most one"),
    ],
)
def test_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    result = load(tmp_path, f"frontend f\n    bind 127.0.0.1:9000\n    {line}\n")
    assert not result.ok
    alerts = [d for d in result.diagnostics if d.level == "ALERT"]
    assert len(alerts) == 1 and message in alerts[0].message, [str(d) for d in alerts]
    assert alerts[0].source.line == len(HEAD.splitlines()) + 3


def test_stats_admin_is_not_allowed_in_defaults(tmp_path: Path) -> None:
    path = tmp_path / "lb.cfg"
    path.write_text(HEAD + "    stats admin if TRUE\n")
    result = lb.config.load_files([str(path)], environ={})
    assert not result.ok
    assert "not allowed in a 'defaults' section" in result.diagnostics[0].message
