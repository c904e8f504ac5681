"""The keyword tables, the parser's handlers and docs/configuration.md agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb.config import haproxy
from lb.config import keepalived_keywords as kk
from lb.config import keywords as kw
from lb.config.keywords import Status
from lb.config.reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

ALL_HAPROXY_TABLES = {
    "sections": kw.SECTIONS,
    "global": kw.GLOBAL_KEYWORDS,
    "global prefixes": kw.GLOBAL_PREFIXES,
    "proxy": kw.PROXY_KEYWORDS,
    "option": kw.OPTIONS,
    "timeout": kw.TIMEOUTS,
    "stats": kw.STATS_KEYWORDS,
    "mode": kw.MODES,
}


def test_doc_is_generated_from_the_tables() -> None:
    assert DOC.read_text() == render_reference(), (
        "docs/configuration.md is stale: run python -m lb.config.reference > docs/configuration.md"
    )


def every_documented_name() -> list[str]:
    # the value's name: prefix families are keyed "tune." but named "tune.*"
    names = [entry.name for table in ALL_HAPROXY_TABLES.values() for entry in table.values()]
    names += [*kw.BIND_OPTIONS, *kw.SERVER_OPTIONS, *kw.BALANCE_ALGORITHMS]
    names += [name for table in kk.BLOCK_TABLES.values() for name in table]
    return names


@pytest.mark.parametrize("name", every_documented_name())
def test_doc_lists_every_keyword(name: str) -> None:
    assert f"`{name}`" in DOC.read_text()


def test_every_supported_haproxy_keyword_has_a_handler() -> None:
    for name, entry in kw.GLOBAL_KEYWORDS.items():
        if entry.status is Status.SUPPORTED:
            assert name in haproxy._GLOBAL_HANDLERS, name
    for table in (kw.PROXY_KEYWORDS, kw.OPTIONS):
        for name, entry in table.items():
            if entry.status is Status.SUPPORTED:
                assert name in haproxy._PROXY_HANDLERS, name
    for name in kw.TIMEOUTS:
        if kw.TIMEOUTS[name].status is Status.SUPPORTED:
            assert name.split(" ", 1)[1] in kw.TIMEOUT_FIELDS, name


def test_rejected_and_ignored_keywords_say_why() -> None:
    for table in ALL_HAPROXY_TABLES.values():
        for entry in table.values():
            if entry.status in (Status.REJECTED, Status.IGNORED):
                assert entry.note, entry.name


def test_proxy_keywords_are_allowed_somewhere() -> None:
    for table in (kw.PROXY_KEYWORDS, kw.OPTIONS, kw.TIMEOUTS, kw.STATS_KEYWORDS):
        for entry in table.values():
            assert entry.sections, entry.name
            assert entry.sections <= set(kw.PROXY_SECTIONS), entry.name
