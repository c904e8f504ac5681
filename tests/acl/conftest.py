"""Helpers: a configuration from text, a transaction from a few fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb.acl import HttpTxn, ProxyRules, StaticRuntime, compile_proxy
from lb.acl.context import Ctx, Shared
from lb.acl.errors import Strict
from lb.config.diagnostics import LoadResult
from lb.config.loader import load_files
from lb.config.model import Config, Proxy, Server, Source

BASE = """\
defaults
    mode http
    timeout client 1s
    timeout server 1s
    timeout connect 1s
"""


def txn(
    url: bytes = b"/",
    headers: list[tuple[bytes, bytes]] | None = None,
    method: bytes = b"GET",
    version: str = "1.1",
    src: str = "192.0.2.7",
    src_port: int = 40000,
    dst: str = "127.0.0.1",
    dst_port: int = 80,
) -> HttpTxn:
    return HttpTxn(
        method, url, version, list(headers or []), src, src_port, dst, dst_port, "fe", ""
    )


def load_text(tmp_path: Path, text: str, **kw: object) -> LoadResult:
    path = tmp_path / "lb.cfg"
    path.write_text(text)
    return load_files([str(path)], environ={}, **kw)  # type: ignore[arg-type]


def messages(result: LoadResult) -> list[str]:
    return [str(d) for d in result.diagnostics]


def frontend(tmp_path: Path, lines: str, more: str = "") -> tuple[ProxyRules, Config]:
    """A frontend "fe" with ``lines`` (indented for you), backends be1/be2 (servers s1,
    s2) and ``more`` sections; loading must raise no message."""
    body = "".join(f"    {line.strip()}\n" for line in lines.strip().splitlines())
    text = (
        BASE
        + more
        + "frontend fe\n    bind 127.0.0.1:8080\n"
        + body
        + "backend be1\n    server s1 127.0.0.1:81\n    server s2 127.0.0.1:82\n"
        + "backend be2\n    server s1 127.0.0.1:83\n"
    )
    result = load_text(tmp_path, text)
    assert messages(result) == [], messages(result)
    assert result.config is not None
    fe = next(p for p in result.config.proxies if p.name == "fe")
    return compile_proxy(fe, result.config), result.config


def bare_ctx(direction: str = "req", config: Config | None = None) -> Ctx:
    """A context without a file: frontend "fe", backend "be1" with s1 and s2."""
    if config is None:
        src = Source("t.cfg", 1)
        fe = Proxy(name="fe", kind="frontend", source=src, mode="http")
        be = Proxy(name="be1", kind="backend", source=src, mode="http")
        be.servers = [Server("s1", "127.0.0.1", 81, src), Server("s2", "127.0.0.1", 82, src)]
        config = Config(proxies=[fe, be])
    shared = Shared(config, lambda p: Path(p).read_bytes(), Strict())
    return Ctx(shared, config.proxies[0], direction, Source("t.cfg", 1))  # type: ignore[arg-type]


@pytest.fixture
def rt() -> StaticRuntime:
    return StaticRuntime({"be1": ["s1", "s2"], "be2": ["s1"]}, down={("be1", "s2")})
