"""load_files never raises, whatever the text: random characters and keyword soups."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lb.config import keepalived_keywords as kk
from lb.config import keywords as kw
from lb.config import load_files

HAPROXY_WORDS = sorted(
    {
        *kw.SECTIONS,
        *kw.PROXY_KEYWORDS,
        *kw.GLOBAL_KEYWORDS,
        *(k for name in (*kw.OPTIONS, *kw.TIMEOUTS, *kw.STATS_KEYWORDS) for k in name.split()),
        *kw.BIND_OPTIONS,
        *kw.SERVER_OPTIONS,
        *kw.BALANCE_ALGORITHMS,
        "no",
        "if",
        "unless",
        "from",
        "tcp",
        "http",
        "health",
        ":80",
        "*:8080",
        "127.0.0.1:80",
        "[::1]:81",
        "1.2.3.4",
        ":70000",
        "10s",
        "1m",
        "5",
        "-1",
        "256",
        '"quoted word"',
        "'single'",
        "\\ ",
        "${HOME}",
        "$X",
        "#",
        "unix@/x",
    }
)
KEEPALIVED_WORDS = sorted(
    {
        *kk.TOP_LEVEL,
        *(k for table in kk.BLOCK_TABLES.values() for k in table),
        *kk.CHECK_BLOCKS,
        "include",
        "{",
        "}",
        "MASTER",
        "BACKUP",
        "PASS",
        "AH",
        "dev",
        "eth0",
        "weight",
        "1",
        "255",
        "0.5",
        "192.168.1.1/24",
        "::1",
        "x",
        '"a b"',
        "!",
        "#",
    }
)

SAFE_ALPHABET = st.characters(blacklist_categories=("Cs",))
FUZZ = settings(
    max_examples=int(os.environ.get("LB_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="lb-cfg-fuzz-") as d:
        yield Path(d)


def check_never_raises(path: Path, text: str, mode: str = "error") -> None:
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    result = load_files([str(path)], environ={"X": "1 2", "HOME": "/h"}, unsupported=mode)  # type: ignore[arg-type]
    # the loader's last-resort net must never have been needed
    assert not [d for d in result.diagnostics if "internal error" in d.message], [
        str(d) for d in result.diagnostics
    ]
    for d in result.diagnostics:
        assert d.source.file.startswith(str(path.parent)) or d.source.line == 0
        assert d.source.line >= 0
    if result.config is None:
        assert result.alerts()


@FUZZ
@given(st.text(SAFE_ALPHABET, max_size=400))
def test_random_text(scratch: Path, text: str) -> None:
    check_never_raises(scratch / "random.cfg", text)


def soup(words: list[str]) -> st.SearchStrategy[str]:
    line = st.lists(st.sampled_from(words), min_size=0, max_size=7).map(" ".join)
    indented = st.tuples(st.sampled_from(["", "  ", "\t"]), line).map("".join)
    return st.lists(indented, max_size=30).map("\n".join)


@FUZZ
@given(soup(HAPROXY_WORDS), st.sampled_from(["error", "warn"]))
def test_haproxy_keyword_soup(scratch: Path, text: str, mode: str) -> None:
    check_never_raises(scratch / "soup.cfg", text, mode)


@FUZZ
@given(soup(KEEPALIVED_WORDS), st.sampled_from(["error", "warn"]))
def test_keepalived_keyword_soup(scratch: Path, text: str, mode: str) -> None:
    check_never_raises(scratch / "soup.conf", "vrrp_instance V {\n" + text, mode)
    check_never_raises(scratch / "soup2.conf", "global_defs {\n}\n" + text, mode)


@FUZZ
@given(st.lists(st.sampled_from(["{", "}", "x", "\n", "vrrp_instance", " "]), max_size=3000))
def test_deep_and_unbalanced_braces(scratch: Path, parts: list[str]) -> None:
    check_never_raises(scratch / "braces.conf", "global_defs\n" + "".join(parts))
