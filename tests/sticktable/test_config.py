"""stick-table, stick, tcp-request connection, track-sc and the sc_/src_ fetches in the
configuration: what the model gets, and the errors at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb.config import load_files
from lb.config.model import StickStore

HEAD = """\
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind :80
    default_backend be
"""  # the frontend's own lines follow: line 9 on
BACKEND = """\
backend be
    server s1 127.0.0.1:81
"""


def load(tmp_path: Path, fe_lines: list[str], be_lines: list[str] = ()) -> tuple[object, list[str]]:  # type: ignore[assignment]
    text = HEAD + "".join(f"    {x}\n" for x in fe_lines) + BACKEND
    text += "".join(f"    {x}\n" for x in be_lines)
    path = tmp_path / "lb.cfg"
    path.write_text(text)
    result = load_files([str(path)])
    return result.config, [f"{d.level} {d.source.line}: {d.message}" for d in result.diagnostics]


def test_a_table_in_the_model(tmp_path: Path) -> None:
    config, messages = load(
        tmp_path,
        [
            "stick-table type string len 16 size 100k expire 30s nopurge "
            "store http_req_rate(10s),conn_cur store gpc0",
            "tcp-request connection track-sc1 src",
            "tcp-request connection reject if { sc1_conn_cur gt 10 }",
            "http-request track-sc0 src",
            "http-request deny deny_status 429 if { sc_http_req_rate(0) gt 10 }",
            "http-request sc-inc-gpc0(0) if { path /x }",
        ],
    )
    assert messages == []
    fe = config.proxies[0]  # type: ignore[attr-defined]
    t = fe.stick_table
    assert (t.type, t.length, t.size, t.expire, t.nopurge) == ("string", 16, 102400, 30000, True)
    assert t.store == [
        StickStore("http_req_rate", 10000),
        StickStore("conn_cur"),
        StickStore("gpc0"),
    ]
    assert [r.words[0] for r in fe.tcp_request_connection] == ["track-sc1", "reject"]


def test_stick_rules_add_server_id(tmp_path: Path) -> None:
    config, messages = load(
        tmp_path, [], ["stick-table type ip size 1k store gpc0", "stick on src", "stick match src"]
    )
    assert messages == []
    be = config.proxies[1]  # type: ignore[attr-defined]
    assert [s.name for s in be.stick_table.store] == ["gpc0", "server_id"]
    assert [r.kind for r in be.stick_rules] == ["on", "match"]


@pytest.mark.parametrize(
    ("fe_lines", "be_lines", "expected"),
    [
        (["stick-table size 1k"], [], "ALERT 9: stick-table: missing 'type'"),
        (["stick-table type ip"], [], "ALERT 9: stick-table: missing 'size'"),
        (["stick-table type mac size 1"], [], "ALERT 9: stick-table: unknown table type 'mac'"),
        (["stick-table type ip size 1 store foo"], [], "unknown store option 'foo'"),
        (["stick-table type ip size 1 store http_req_rate"], [], "missing period"),
        (["stick-table type ip size 1 store gpc0(1s)"], [], "takes no argument"),
        (
            ["stick-table type ip size 1 store bytes_in_cnt"],
            [],
            "'stick-table store bytes_in_cnt' is not supported yet",
        ),
        (["stick-table type binary size 1"], [], "'stick-table type binary' is not supported yet"),
        (["stick-table type ip size 1 peers p"], [], "'stick-table peers' is not supported yet"),
        (
            ["stick-table type ip size 1", "stick-table type ip size 2"],
            [],
            "ALERT 10: only one stick-table",
        ),
        (
            ["http-request track-sc0 src"],
            [],
            "ALERT 9: 'track-sc0': frontend 'fe' has no stick-table",
        ),
        (["http-request track-sc0 src table nope"], [], "ALERT 9: unable to find table 'nope'"),
        (
            ["http-request deny if { src_conn_cur(nope) gt 1 }"],
            [],
            "ALERT 9: unable to find table 'nope'",
        ),
        (["http-request deny if { sc_conn_cur(5) gt 1 }"], [], "sticky counter 5 out of range"),
        (["http-request sc-inc-gpc0(4)"], [], "invalid sticky counter '4'"),
        (
            ["tcp-request connection track-sc0 src"],
            [],
            "ALERT 9: 'track-sc0': frontend 'fe' has no",
        ),
        (["tcp-request connection frob"], [], "ALERT 9: unknown 'tcp-request connection' action"),
        (
            ["tcp-request connection set-src src"],
            [],
            "'tcp-request connection set-src' is not supported yet",
        ),
        (["tcp-request content accept"], [], "'tcp-request content' is not supported yet"),
        ([], ["tcp-request inspect-delay 5s"], "'tcp-request inspect-delay' is not supported yet"),
        ([], ["stick on src"], "ALERT 11: 'stick on': backend 'be' has no stick-table"),
        ([], ["stick on src table nope"], "ALERT 11: unable to find table 'nope'"),
        ([], ["stick store-response src"], "'stick store-response' is not supported yet"),
        ([], ["tcp-request connection accept"], "not allowed in a 'backend' section"),
        # a datum the table lacks: a warning (HAProxy accepts it; the fetch never matches)
        (
            [
                "stick-table type ip size 1 store conn_cur",
                "http-request deny if { src_get_gpc0 gt 1 }",
            ],
            [],
            "WARNING 10: 'src_get_gpc0': table 'fe' does not store 'gpc0'",
        ),
    ],
)
def test_errors(tmp_path: Path, fe_lines: list[str], be_lines: list[str], expected: str) -> None:
    _config, messages = load(tmp_path, fe_lines, be_lines)
    assert any(expected in m for m in messages), messages


def test_a_frontend_and_a_backend_of_one_name_cannot_both_have_a_table(tmp_path: Path) -> None:
    path = tmp_path / "lb.cfg"
    path.write_text(
        HEAD
        + "    stick-table type ip size 1\n"
        + "backend fe\n    stick-table type ip size 2\n    server s 127.0.0.1:81\n"
        + BACKEND
    )
    result = load_files([str(path)])
    assert [f"{d.source.line}: {d.message}" for d in result.alerts()] == [
        f"11: stick-table name 'fe' conflicts with the table declared at {path}:9"
    ]
