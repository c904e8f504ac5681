"""``lb -c``: check configuration files, the real ones people have, and broken ones."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.lbproc import run_lb, tcp_config
from tests.support.peers import need_command

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared/examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*")) if EXAMPLES.is_dir() else []
HAPROXY_SEED = EXAMPLES / "seed-haproxy.cfg"
KEEPALIVED_FILES = [p for p in EXAMPLE_FILES if "keepalived" in p.name]


def lines_matching(path: Path, pattern: str) -> list[int]:
    """1-based numbers of the lines whose code (before any #) matches pattern."""
    rx = re.compile(pattern)
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if rx.search(line.split("#", 1)[0]):
            out.append(n)
    return out


def reported_lines(output: str, level: str, path: Path, keyword: str) -> set[int]:
    rx = re.compile(
        rf"^\[{level}\] {re.escape(str(path))}:(\d+): '{re.escape(keyword)}' is not supported yet",
        re.M,
    )
    return {int(m) for m in rx.findall(output)}


def assert_no_traceback(out: str) -> None:
    assert "Traceback (most recent call last)" not in out, out


def test_examples_exist() -> None:
    assert HAPROXY_SEED in EXAMPLE_FILES
    assert KEEPALIVED_FILES, f"no keepalived examples in {EXAMPLES}"


def test_check_seed_haproxy_is_valid() -> None:
    """ACLs, content switching, health checks and the stats page are built: the users'
    HAProxy file checks clean as it is, with no message at all."""
    assert lines_matching(HAPROXY_SEED, r"^\s*acl\s")  # the file as we know it
    r = run_lb("-c", "-f", str(HAPROXY_SEED))
    out = r.stdout + r.stderr
    assert_no_traceback(out)
    assert r.returncode == 0, out
    assert "[ALERT]" not in out and "[WARNING]" not in out, out
    assert "Configuration file is valid" in out


@pytest.mark.parametrize("path", KEEPALIVED_FILES, ids=lambda p: p.name)
def test_check_keepalived_examples_are_valid(path: Path) -> None:
    """VRRP is built: the seeds' keepalived files check clean, with no message at all."""
    assert lines_matching(path, r"^\s*vrrp_instance\s")
    r = run_lb("-c", "-f", str(path))
    out = r.stdout + r.stderr
    assert_no_traceback(out)
    assert r.returncode == 0, out
    assert "[ALERT]" not in out and "[WARNING]" not in out, out
    assert "Configuration file is valid" in out


VALID = tcp_config(stats_socket="/tmp/lb-check-only.sock", bind_port=18080, servers=[("s1", 18081)])


def test_check_valid_config_exits_zero(tmp_path: Path) -> None:
    cfg = tmp_path / "ok.cfg"
    cfg.write_text(VALID)
    r = run_lb("-c", "-f", str(cfg))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "[ALERT]" not in out
    assert_no_traceback(out)


def _valid_with(line_in_section: str, section: str) -> tuple[str, int]:
    """VALID with one line added at the end of section; returns (text, its line number)."""
    lines = VALID.splitlines()
    start = lines.index(section)
    end = start + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    lines.insert(end, "    " + line_in_section)
    return "\n".join(lines) + "\n", end + 1


BROKEN = {
    "unknown-keyword": ("frobnicate yes", "frontend fe", "frobnicate"),
    "bad-timeout": ("timeout client 10zz", "defaults", "10zz"),
    "bad-port": ("bind 127.0.0.1:70000", "frontend fe", "70000"),
    "server-without-address": ("server s2", "backend be", "s2"),
    "bad-weight": ("server s3 127.0.0.1:1 weight lots", "backend be", "lots"),
    "unknown-default-backend": ("default_backend nowhere", "frontend fe", "nowhere"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_check_broken_config_names_file_and_line(tmp_path: Path, case: str) -> None:
    line, section, word = BROKEN[case]
    text, lineno = _valid_with(line, section)
    cfg = tmp_path / "broken.cfg"
    cfg.write_text(text)
    r = run_lb("-c", "-f", str(cfg))
    out = r.stdout + r.stderr
    assert_no_traceback(out)
    assert r.returncode != 0, out
    alerts = [a for a in out.splitlines() if a.startswith(f"[ALERT] {cfg}:{lineno}:")]
    assert alerts, f"no alert at {cfg}:{lineno}:\n{out}"
    assert any(word in a for a in alerts), out


def test_check_broken_second_file_is_named(tmp_path: Path) -> None:
    first = tmp_path / "a.cfg"
    first.write_text(VALID)
    second = tmp_path / "b.cfg"
    second.write_text("backend other\n    server s9 127.0.0.1:1\n    frobnicate\n")
    r = run_lb("-c", "-f", str(first), "-f", str(second))
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert f"[ALERT] {second}:3:" in out, out
    assert str(first) + ":" not in out, out


def test_check_broken_keepalived_block(tmp_path: Path) -> None:
    cfg = tmp_path / "keepalived.conf"
    cfg.write_text("vrrp_instance VI_1 {\n    state MASTER\n    interface lo\n")  # no closing brace
    r = run_lb("-c", "--unsupported", "warn", "-f", str(cfg))
    out = r.stdout + r.stderr
    assert_no_traceback(out)
    assert r.returncode != 0, out
    assert re.search(rf"^\[ALERT\] {re.escape(str(cfg))}:\d+: ", out, re.M), out


def test_check_missing_file(tmp_path: Path) -> None:
    r = run_lb("-c", "-f", str(tmp_path / "nope.cfg"))
    out = r.stdout + r.stderr
    assert_no_traceback(out)
    assert r.returncode != 0
    assert "[ALERT]" in out and "nope.cfg" in out


# --------------------------------------------------------------------------- HAProxy agrees

VARIANTS: dict[str, dict[str, list[str]]] = {
    "plain": {},
    "retries-redispatch": {"defaults_lines": ["retries 1", "option redispatch"]},
    "global-maxconn": {"global_lines": ["maxconn 3", "nbthread 2"]},
    "frontend-maxconn": {"frontend_lines": ["maxconn 3"]},
    "timeouts": {
        "defaults_lines": ["timeout connect 300ms", "timeout tunnel 1h", "timeout client 500ms"]
    },
    "pidfile-hard-stop": {"global_lines": ["pidfile /tmp/lb-check.pid", "hard-stop-after 1s"]},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_configs_the_tests_use_are_valid_for_haproxy_and_lb(tmp_path: Path, variant: str) -> None:
    """The syntax lb accepts is HAProxy's: both accept what the integration tests run."""
    haproxy = need_command("haproxy")
    cfg = tmp_path / "v.cfg"
    cfg.write_text(
        tcp_config(
            stats_socket=str(tmp_path / "s.sock"),
            bind_port=18080,
            servers=[("s1", 18081), ("s2", 18082)],
            **VARIANTS[variant],
        )
    )
    hp = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert hp.returncode == 0, hp.stdout + hp.stderr
    r = run_lb("-c", "-f", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("case", sorted(set(BROKEN) - {"bad-weight"}))  # haproxy takes atoi()
def test_haproxy_rejects_the_broken_configs_too(tmp_path: Path, case: str) -> None:
    haproxy = need_command("haproxy")
    line, section, _ = BROKEN[case]
    text, _ = _valid_with(line, section)
    cfg = tmp_path / "broken.cfg"
    cfg.write_text(text)
    hp = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert hp.returncode != 0, hp.stdout + hp.stderr
