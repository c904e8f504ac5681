"""``compression algo|type|offload``: the model, defaults inheritance, errors with file:line,
and the frontend + backend combination the workers use (lb.worker.http.compression)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb.config.model import Compression
from lb.worker.http.compression import CompressionPolicy
from tests.config.test_cfg_http import build, load, loaded, messages, proxy

# (id, lines added per section, proxy, expected http.compression)
MODEL_CASES: list[tuple[str, dict[str, list[str]], str, Compression | None]] = [
    ("unset", {}, "fe", None),
    ("algo", {"fe": ["compression algo gzip"]}, "fe", Compression(algos=["gzip"])),
    (
        "all-algos",
        {"be": ["compression algo identity gzip deflate raw-deflate br"]},
        "be",
        Compression(algos=["identity", "gzip", "deflate", "raw-deflate", "br"]),
    ),
    (
        "lines-add-up",
        {"fe": ["compression algo gzip", "compression algo br", "compression type text/html"]},
        "fe",
        Compression(algos=["gzip", "br"], types=["text/html"]),
    ),
    (
        "types-lowered",
        {"fe": ["compression type Text/HTML application/JSON"]},
        "fe",
        Compression(types=["text/html", "application/json"]),
    ),
    ("offload", {"be": ["compression offload"]}, "be", Compression(offload=True)),
    (
        "res-spellings",
        {"fe": ["compression algo-res gzip", "compression type-res text/plain"]},
        "fe",
        Compression(algos=["gzip"], types=["text/plain"]),
    ),
    (
        "from-defaults",
        {"defaults": ["compression algo gzip", "compression type text/plain"]},
        "be",
        Compression(algos=["gzip"], types=["text/plain"]),
    ),
    (
        "defaults-then-more",
        {"defaults": ["compression algo gzip"], "fe": ["compression algo deflate"]},
        "fe",
        Compression(algos=["gzip", "deflate"]),
    ),
]


@pytest.mark.parametrize(
    ("lines", "name", "expected"), [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES]
)
def test_model(
    tmp_path: Path, lines: dict[str, list[str]], name: str, expected: Compression | None
) -> None:
    assert proxy(loaded(tmp_path, lines), name).http.compression == expected


def test_offload_in_defaults_is_ignored_with_a_warning(tmp_path: Path) -> None:
    text, numbers = build({"defaults": ["compression algo gzip", "compression offload"]})
    result = load(tmp_path, text)
    line = numbers["defaults"][1]
    assert messages(result) == [
        f"[WARNING] {tmp_path}/lb.cfg:{line}: 'compression offload' ignored in 'defaults' section"
    ]
    assert result.config is not None
    assert proxy(result.config, "be").http.compression == Compression(algos=["gzip"])


# (section, line, fragment of the ALERT at that line)
ERRORS: list[tuple[str, str, str]] = [
    ("fe", "compression algo lzma", "'compression algo': 'lzma' is not a supported algorithm"),
    ("fe", "compression algo gzip zstd", "'zstd' is not a supported algorithm"),
    ("fe", "compression algo", "'compression algo' expects <algorithm>"),
    ("be", "compression type", "'compression type' expects <mime type>"),
    ("fe", "compression", "'compression' expects 'algo', 'type' or 'offload'"),
    ("fe", "compression level 9", "'compression' expects 'algo', 'type' or 'offload'"),
    ("fe", "compression offload now", "'compression offload' takes no argument, got 'now'"),
    ("fe", "compression algo-req gzip", "'compression algo-req' is not supported yet"),
    ("fe", "compression type-req text/plain", "'compression type-req' is not supported yet"),
    ("fe", "compression direction both", "'compression direction' is not supported yet"),
    ("fe", "compression minsize-res 1k", "'compression minsize-res' is not supported yet"),
]


@pytest.mark.parametrize(("section", "line", "fragment"), ERRORS, ids=[e[1] for e in ERRORS])
def test_errors_name_file_and_line(tmp_path: Path, section: str, line: str, fragment: str) -> None:
    text, numbers = build({section: [line]})
    result = load(tmp_path, text)
    alerts = [m for m in messages(result) if m.startswith("[ALERT]")]
    assert len(alerts) == 1, messages(result)
    assert alerts[0].startswith(f"[ALERT] {tmp_path}/lb.cfg:{numbers[section][0]}: ")
    assert fragment in alerts[0]


# --------------------------------------------------------------------------- combination


def _policy(tmp_path: Path, lines: dict[str, list[str]]) -> CompressionPolicy | None:
    cfg = loaded(tmp_path, lines)
    return CompressionPolicy.build(proxy(cfg, "fe"), proxy(cfg, "be"))


# (id, lines, algos in HAProxy's list order, types, offload); None: no policy
POLICY_CASES: list[
    tuple[str, dict[str, list[str]], tuple[tuple[str, ...], tuple[bytes, ...], bool] | None]
] = [
    ("none", {}, None),
    ("types-only", {"fe": ["compression type text/plain"]}, None),
    ("frontend", {"fe": ["compression algo gzip br"]}, (("br", "gzip"), (), False)),
    (
        "backend-algos-win",
        {"fe": ["compression algo gzip"], "be": ["compression algo deflate"]},
        (("deflate",), (), False),
    ),
    (
        "types-from-frontend",
        {"fe": ["compression type text/html"], "be": ["compression algo gzip"]},
        (("gzip",), (b"text/html",), False),
    ),
    (
        "backend-types-win",
        {
            "fe": ["compression algo gzip", "compression type text/html"],
            "be": ["compression type text/css"],
        },
        (("gzip",), (b"text/css",), False),
    ),
    (
        "offload-either-side",
        {"fe": ["compression algo gzip"], "be": ["compression offload"]},
        (("gzip",), (), True),
    ),
]


@pytest.mark.parametrize(
    ("lines", "expected"), [c[1:] for c in POLICY_CASES], ids=[c[0] for c in POLICY_CASES]
)
def test_frontend_and_backend_combine(
    tmp_path: Path,
    lines: dict[str, list[str]],
    expected: tuple[tuple[str, ...], tuple[bytes, ...], bool] | None,
) -> None:
    policy = _policy(tmp_path, lines)
    if expected is None:
        assert policy is None
        return
    assert policy is not None
    assert (policy.algos, policy.types, policy.offload) == expected
