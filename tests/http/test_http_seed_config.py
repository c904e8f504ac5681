"""The users' own HAProxy config (shared/examples/seed-haproxy.cfg) runs in lb as written,
its addresses moved to loopback: ACL routing, the stats page with its auth, health checks."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.clients import free_port
from tests.support.http_clients import get
from tests.support.http_servers import HttpBackend
from tests.support.lbproc import LbProcess

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "examples" / "seed-haproxy.cfg"


def seed_on_loopback(lb: LbProcess, web: int, stats: int, static: int, dynamic: int) -> str:
    """The seed with its listening and server addresses on loopback, and without what
    needs a prepared host (chroot directory, haproxy user, pidfile, daemon mode)."""
    text = SEED.read_text()
    for word in ("chroot", "pidfile", "user", "group", "daemon"):
        text = re.sub(rf"(?m)^(\s*){word}\b.*$", r"\1# (test) \g<0>", text)
    text = text.replace("stats socket /var/lib/haproxy/stats", f"stats socket {lb.stats_socket}")
    text = text.replace("bind :8080", f"bind 127.0.0.1:{stats}")
    text = text.replace("bind :80", f"bind 127.0.0.1:{web}")
    text = text.replace("192.168.10.3:80", f"127.0.0.1:{static}")
    text = text.replace("192.168.10.4:80", f"127.0.0.1:{dynamic}")
    assert not re.search(r"(?m)^\s*(server|bind)\b.*192\.168\.", text)
    return text


@pytest.fixture
def seed(lb_factory: Callable[..., LbProcess], http_backend):  # type: ignore[no-untyped-def]
    static: HttpBackend = http_backend("static")
    dynamic: HttpBackend = http_backend("dynamic")
    lb = lb_factory(workers=2)
    web, stats = free_port(), free_port()
    lb.start(seed_on_loopback(lb, web, stats, static.port, dynamic.port))
    return web, stats, static, dynamic


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/static/logo.png", "static"),
        ("/js/app", "static"),
        ("/theme.css", "static"),
        ("/PHOTO.JPG", "static"),  # path_end -i: the case of the suffix does not matter
        ("/Static/x", "static"),  # path_beg -i
        ("/index.php", "dynamic"),
        ("/cart?item=a.css", "dynamic"),  # path stops at '?'
        ("/", "dynamic"),
    ],
)
def test_seed_routes_static_and_dynamic(seed, path: str, where: str) -> None:  # type: ignore[no-untyped-def]
    web, _stats, static, dynamic = seed
    r = get(web, path, [("Host", "shop.example")])
    assert r.status == 200
    assert r.header("X-Server") == where
    got = {"static": static.requests(), "dynamic": dynamic.requests()}
    assert len(got[where]) == 1 and not got["dynamic" if where == "static" else "static"]
    # option forwardfor except 127.0.0.0/8: a loopback client gets no X-Forwarded-For
    assert not [v for k, v in got[where][0]["headers"] if k.lower() == "x-forwarded-for"]


def test_seed_stats_page_asks_for_its_password(seed) -> None:  # type: ignore[no-untyped-def]
    _web, stats, _static, _dynamic = seed
    r = get(stats, "/haproxy?stats", [("Host", "lb")])
    assert r.status == 401
    assert r.header("WWW-Authenticate") == 'Basic realm="no entrance"'
    auth = "Basic " + base64.b64encode(b"admin:admin").decode()
    page = get(stats, "/haproxy?stats", [("Host", "lb"), ("Authorization", auth)])
    assert page.status == 200 and b"static_servers" in page.body
    csv = get(stats, "/haproxy?stats;csv", [("Host", "lb"), ("Authorization", auth)])
    assert csv.status == 200
    header = csv.body.split(b"\n", 1)[0]
    assert header.startswith(b"# pxname,svname,qcur,qmax,scur,smax,slim,stot,")
    rows = {tuple(line.split(b",")[:2]) for line in csv.body.splitlines()[1:] if line}
    assert {
        (b"web", b"FRONTEND"),
        (b"static_servers", b"web1"),
        (b"dynamic_servers", b"web2"),
    } <= rows
