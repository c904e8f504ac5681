"""Proxy configurations for the comparison: the seed's file moved onto loopback, the generic
ones, and nginx's stream support read from ``nginx -V``."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lb.bench.compare import default_seed
from lb.bench.peers import stream_support
from lb.bench.proxyconf import (
    Ports,
    haproxy_http,
    haproxy_tcp,
    nginx_http,
    nginx_main,
    nginx_seed,
    seed_for_bench,
    seed_frontend,
)
from tests.support.peers import SBIN_PATH

SEED = default_seed().read_text()


def bench_seed(haproxy: bool) -> str:
    return seed_for_bench(
        SEED, listen=18080, backend="127.0.0.1:19000", log="127.0.0.1:19514", haproxy=haproxy
    )


def test_the_seed_routes_through_web() -> None:
    assert seed_frontend(SEED) == "web"
    with pytest.raises(ValueError, match="no frontend"):
        seed_frontend("global\n    maxconn 1\nbackend b\n    server s 1.2.3.4:80\n")


def test_seed_on_loopback_keeps_the_routing_and_drops_what_a_bench_cannot_use() -> None:
    text = bench_seed(haproxy=True)
    code = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    assert "bind 127.0.0.1:18080" in code
    assert sum(ln.startswith("bind ") for ln in code) == 1  # the stats listener went
    assert not any("stats" in ln for ln in code)
    for gone in ("chroot", "user", "group", "daemon", "pidfile"):
        assert not any(ln.split()[:1] == [gone] for ln in code if ln), gone
    assert "nbthread 1" in code
    servers = [ln.split() for ln in code if ln.startswith("server")]
    assert servers == [
        ["server", "web1", "127.0.0.1:19000", "check", "maxconn", "5000"],
        ["server", "web2", "127.0.0.1:19000", "check", "maxconn", "500"],
    ]
    assert any(ln.startswith("log") and "127.0.0.1:19514" in ln for ln in code)
    assert "log global" in " ".join(code)
    for kept in (
        "acl url_static",
        "use_backend static_servers",
        "balance     source",
        "option httpclose",
        "hash-type consistent",
    ):
        assert kept in text
    assert "nbthread" not in bench_seed(haproxy=False)


def test_stream_support() -> None:
    class Exists:
        def __init__(self, path: str) -> None:
            self.path = path

        def exists(self) -> bool:
            return self.path.endswith("mods/ngx_stream_module.so")

    assert stream_support("--with-stream --with-http_ssl_module").ok
    dyn = stream_support("--modules-path=/x/mods --with-stream=dynamic", Exists)  # type: ignore[arg-type]
    assert dyn.ok and dyn.load_line == "load_module /x/mods/ngx_stream_module.so;"
    missing = stream_support("--modules-path=/y --with-stream=dynamic", Exists)  # type: ignore[arg-type]
    assert not missing.ok and "libnginx-mod-stream" in missing.reason
    assert not stream_support("--with-http_ssl_module").ok


def haproxy_or_skip() -> str:
    path = shutil.which("haproxy", path=SBIN_PATH)
    if path is None:
        pytest.skip("haproxy is not installed")
    return path


@pytest.mark.parametrize("kind", ["http", "tcp", "seed"])
def test_haproxy_accepts_the_configurations(kind: str, tmp_path: Path) -> None:
    haproxy = haproxy_or_skip()
    p = Ports(18080, 19000)
    text = {
        "http": haproxy_http(p, maxconn=12000, haproxy=True),
        "tcp": haproxy_tcp(p, maxconn=12000, haproxy=True),
        "seed": bench_seed(haproxy=True),
    }[kind]
    cfg = tmp_path / "h.cfg"
    cfg.write_text(text)
    r = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("kind", ["http", "tcp"])
def test_lb_accepts_the_generic_configurations(kind: str, tmp_path: Path) -> None:
    p = Ports(18080, 19000)
    make = haproxy_http if kind == "http" else haproxy_tcp
    cfg = tmp_path / "lb.cfg"
    cfg.write_text(make(p, maxconn=12000, haproxy=False))
    r = subprocess.run(
        [sys.executable, "-m", "lb", "-c", "-f", str(cfg)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("kind", ["http", "seed"])
def test_nginx_accepts_the_configurations(kind: str, tmp_path: Path) -> None:
    nginx = shutil.which("nginx", path=SBIN_PATH)
    if nginx is None:
        pytest.skip("nginx is not installed")
    (tmp_path / "tmp").mkdir()
    p = Ports(18080, 19000)
    w = str(tmp_path)
    body = nginx_http(p, w) if kind == "http" else nginx_seed(p, w, "127.0.0.1:19514")
    cfg = tmp_path / "nginx.conf"
    cfg.write_text(nginx_main(w, 12000, body))
    r = subprocess.run([nginx, "-t", "-c", str(cfg), "-p", w], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
