"""Health checks to IPv6 servers (tcp connect and ``option httpchk``): a server that
answers goes UP, one that does not (nothing listening, or not HTTP) goes DOWN, and a server
that dies goes DOWN. Read from ``show servers state``; HAProxy runs the same file.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.ipv6.conftest import (
    LO6,
    Backend6,
    HttpBackend6,
    Proxy,
    StartProxy,
    free_port6,
    http_get,
)

UP, DOWN = 2, 0
CHECKS = "default-server inter 100 fastinter 100 downinter 100 rise 1 fall 1"


def servers_state(proxy: Proxy) -> dict[str, dict[str, str]]:
    lines = proxy.api("show servers state").splitlines()
    columns = lines[1].lstrip("# ").split()
    rows = [dict(zip(columns, ln.split(), strict=False)) for ln in lines[2:] if ln.strip()]
    return {r["srv_name"]: r for r in rows if r["be_name"] == "be"}


def wait_states(proxy: Proxy, want: dict[str, int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        state = servers_state(proxy)
        got = {name: int(state[name]["srv_op_state"]) for name in want}
        if got == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{proxy.kind}: {got} != {want}\n{state}\n{proxy.stderr()}")
        time.sleep(0.05)


def test_tcp_checks_of_ipv6_servers(
    proxy_kind: str, start_proxy6: StartProxy, backend6: Callable[..., Backend6]
) -> None:
    alive = backend6("echo", "alive")
    closed = free_port6()  # nothing listens there
    port = free_port6()
    proxy = start_proxy6(
        proxy_kind,
        mode="tcp",
        binds=[f"[::1]:{port}"],
        servers=[f"alive [::1]:{alive.port} check", f"gone ipv6@::1:{closed} check"],
        backend_lines=[CHECKS],
    )
    wait_states(proxy, {"alive": UP, "gone": DOWN})
    state = servers_state(proxy)
    assert state["alive"]["srv_addr"] == LO6 and state["gone"]["srv_addr"] == LO6
    if proxy_kind == "lb":  # (HAProxy resets its check before the server accepts it)
        assert alive.wait_closes(1), "no check connection reached the server"
        assert all(e["peer"].startswith("::1:") for e in alive.opens())
    alive.stop()
    wait_states(proxy, {"alive": DOWN, "gone": DOWN})


def test_httpchk_of_ipv6_servers(
    proxy_kind: str,
    start_proxy6: StartProxy,
    backend6: Callable[..., Backend6],
    http_backend6: Callable[..., HttpBackend6],
) -> None:
    web = http_backend6("web")
    not_http = backend6("hello", "nothttp")  # answers its name: not an HTTP status line
    port = free_port6()
    proxy = start_proxy6(
        proxy_kind,
        mode="http",
        binds=[f"[::1]:{port}"],
        servers=[f"web [::1]:{web.port} check", f"nothttp [::1]:{not_http.port} check"],
        backend_lines=["option httpchk GET /health", "http-check expect status 200", CHECKS],
    )
    wait_states(proxy, {"web": UP, "nothttp": DOWN})
    checks = [r for r in web.requests() if r["target"] == "/health"]
    assert checks, "no check request reached the IPv6 server"
    assert all(e["peer"].startswith("::1:") for e in web.events("open"))
    assert http_get(LO6, port).headers["x-server"] == "web"  # traffic avoids the DOWN one
    web.stop()
    wait_states(proxy, {"web": DOWN, "nothttp": DOWN})
    assert http_get(LO6, port).status == 503
