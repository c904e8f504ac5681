"""tcp-request inspect-delay / content in the configuration: the model, the errors and
not-yet reports at file:line, and HAProxy's warning for a content track-sc on payload
without inspect-delay."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb.config import load_files
from tests.tls.conftest import Certs

HEAD = """\
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind :80
    default_backend be
"""  # the frontend's own lines follow: line 9 on
BACKEND = """\
backend be
    stick-table type string len 32 size 10
    server s1 127.0.0.1:81
"""


def load(tmp_path: Path, fe_lines: list[str], mode: str = "tcp") -> tuple[object, list[str]]:
    text = HEAD.replace("mode tcp", f"mode {mode}")
    text += "".join(f"    {x}\n" for x in fe_lines) + BACKEND
    path = tmp_path / "lb.cfg"
    path.write_text(text)
    result = load_files([str(path)])
    return result.config, [f"{d.level} {d.source.line}: {d.message}" for d in result.diagnostics]


def test_the_sni_passthrough_config(tmp_path: Path) -> None:
    config, messages = load(
        tmp_path,
        [
            "tcp-request inspect-delay 5s",
            "tcp-request content accept if { req_ssl_hello_type 1 }",
            "tcp-request content reject if { req.len gt 0 } !{ req.proto_http }",
            "tcp-request content track-sc0 req.ssl_sni table be",
            "use_backend be if { req_ssl_sni -i a.test } || { req.payload(0,3) -m bin 474554 }",
        ],
    )
    assert messages == []
    fe = config.proxies[0]  # type: ignore[attr-defined]
    assert fe.tcp_inspect_delay == 5000
    assert [r.words[0] for r in fe.tcp_request_content] == ["accept", "reject", "track-sc0"]


def test_inspect_delay_is_inherited_from_defaults(tmp_path: Path) -> None:
    path = tmp_path / "lb.cfg"
    path.write_text(
        HEAD.replace("timeout server 1s", "timeout server 1s\n    tcp-request inspect-delay 2s")
        + BACKEND
    )
    result = load_files([str(path)])
    assert result.config.proxies[0].tcp_inspect_delay == 2000


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tcp-request inspect-delay", "'tcp-request inspect-delay' expects a timeout value"),
        ("tcp-request inspect-delay soon", "'tcp-request inspect-delay'"),
        ("tcp-request content", "'tcp-request content' expects an action"),
        ("tcp-request content frobnicate", "unknown 'tcp-request content' action 'frobnicate'"),
        ("tcp-request content accept extra", "'tcp-request content accept' takes no argument"),
        ("tcp-request content reject if { req_ssl_sni_nope x }", "req_ssl_sni_nope"),
        ("tcp-request content use-service lua.x", "tcp-request content use-service"),
        ("tcp-request content track-sc0", "'track-sc0' expects a sample expression"),
    ],
)
def test_errors_at_their_line(tmp_path: Path, line: str, expected: str) -> None:
    _config, messages = load(tmp_path, [line])
    assert any(" 9: " in m and expected in m for m in messages), messages


def test_warning_for_a_payload_key_without_inspect_delay(tmp_path: Path) -> None:
    _config, messages = load(tmp_path, ["tcp-request content track-sc0 req.payload(0,3) table be"])
    assert len(messages) == 1 and messages[0].startswith("WARNING 9:"), messages
    assert "without any 'tcp-request inspect-delay' setting" in messages[0]
    _config, messages = load(
        tmp_path,
        ["tcp-request inspect-delay 1s", "tcp-request content track-sc0 req.payload(0,3) table be"],
    )
    assert messages == []


@pytest.mark.parametrize(
    ("mode", "lines", "line", "what"),
    [
        ("http", ["tcp-request content reject if { src 10.0.0.1 }"], 9, "tcp-request content"),
        ("http", ["http-request deny if { req.len gt 0 }"], 9, "'req.len' is not supported"),
        ("http", ["use_backend be if { req_ssl_sni -i a.test }"], 9, "'req.ssl_sni' is not"),
    ],
)
def test_not_yet(tmp_path: Path, mode: str, lines: list[str], line: int, what: str) -> None:
    _config, messages = load(tmp_path, lines, mode=mode)
    assert any(f" {line}:" in m and what in m for m in messages), messages


def test_backend_content_rules_are_not_yet(tmp_path: Path) -> None:
    path = tmp_path / "lb.cfg"
    path.write_text(
        HEAD + BACKEND + "    tcp-request content accept\n    tcp-request inspect-delay 1s\n"
    )
    result = load_files([str(path)])
    messages = [f"{d.source.line}: {d.message}" for d in result.diagnostics]
    assert len(messages) == 2 and messages[0].startswith("12:") and messages[1].startswith("13:")


def test_content_rules_on_a_tls_frontend_are_not_yet(tmp_path: Path, certs: Certs) -> None:
    """The rules would run on the encrypted bytes: refused, not run on nothing."""
    text = HEAD.replace("bind :80", f"bind :80 ssl crt {certs.a}") + (
        "    tcp-request inspect-delay 1s\n    tcp-request content accept\n" + BACKEND
    )
    path = tmp_path / "lb.cfg"
    path.write_text(text)
    result = load_files([str(path)])
    messages = [f"{d.source.line}: {d.message}" for d in result.diagnostics]
    assert any(m.startswith("10:") and "bind … ssl" in m for m in messages), messages
