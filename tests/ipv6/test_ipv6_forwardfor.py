"""``option forwardfor`` with IPv6 clients, against HAProxy and lb: the address goes in bare
(``::1``, no brackets, no port), an IPv4 client of a dual-stack bind as ``::ffff:a.b.c.d``,
and ``except`` spares IPv6 addresses and networks — but an IPv4 network does not spare an
IPv4-mapped client (HAProxy compares the families as they are).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.ipv6.conftest import LO4, LO6, HttpBackend6, StartProxy, free_port6, http_get
from tests.support.http_servers import header_values

DUAL, V4 = "dual", "v4"
# (option line, header name, {(client, bind): the header values the server must see})
CASES = [
    (
        "option forwardfor",
        "X-Forwarded-For",
        {(LO6, DUAL): ["::1"], (LO4, DUAL): ["::ffff:127.0.0.1"], (LO4, V4): ["127.0.0.1"]},
    ),
    (
        "option forwardfor except ::1",
        "X-Forwarded-For",
        {(LO6, DUAL): [], (LO4, DUAL): ["::ffff:127.0.0.1"], (LO4, V4): ["127.0.0.1"]},
    ),
    (
        "option forwardfor except ::/96",
        "X-Forwarded-For",
        {(LO6, DUAL): [], (LO4, DUAL): ["::ffff:127.0.0.1"], (LO4, V4): ["127.0.0.1"]},
    ),
    (
        "option forwardfor except ::ffff:127.0.0.0/104",
        "X-Forwarded-For",
        {(LO6, DUAL): ["::1"], (LO4, DUAL): [], (LO4, V4): ["127.0.0.1"]},
    ),
    (
        "option forwardfor except 127.0.0.0/8",
        "X-Forwarded-For",
        {(LO6, DUAL): ["::1"], (LO4, DUAL): ["::ffff:127.0.0.1"], (LO4, V4): []},
    ),
    (
        "option forwardfor except 2001:db8::/32 header X-Client",
        "X-Client",
        {(LO6, DUAL): ["::1"], (LO4, DUAL): ["::ffff:127.0.0.1"], (LO4, V4): ["127.0.0.1"]},
    ),
]


@pytest.mark.parametrize(("option", "header", "want"), CASES, ids=[c[0][17:] for c in CASES])
def test_forwardfor_ipv6_clients(
    proxy_kind: str,
    start_proxy6: StartProxy,
    http_backend6: Callable[..., HttpBackend6],
    option: str,
    header: str,
    want: dict[tuple[str, str], list[str]],
) -> None:
    s1 = http_backend6("s1")
    dual, v4 = free_port6(), free_port6()
    proxy = start_proxy6(
        proxy_kind,
        mode="http",
        binds=[f":::{dual} v4v6", f"127.0.0.1:{v4}"],
        servers=[f"s1 [::1]:{s1.port}"],
        frontend_lines=[option],
    )
    for n, (client, bind) in enumerate(want):
        reply = http_get(client, dual if bind == DUAL else v4, f"/{n}")
        assert reply.status == 200, proxy.stderr()
    reqs = s1.wait_requests(len(want))
    got = {key: header_values(req, header) for key, req in zip(want, reqs, strict=True)}
    assert got == want


def test_forwardfor_keeps_the_clients_own_header(
    proxy_kind: str, start_proxy6: StartProxy, http_backend6: Callable[..., HttpBackend6]
) -> None:
    """A request that already carries X-Forwarded-For gets the IPv6 client added after it."""
    s1 = http_backend6("s1")
    port = free_port6()
    start_proxy6(
        proxy_kind,
        mode="http",
        binds=[f"[::1]:{port}"],
        servers=[f"s1 [::1]:{s1.port}"],
        frontend_lines=["option forwardfor"],
    )
    http_get(LO6, port, headers=[("X-Forwarded-For", "2001:db8::5")])
    (req,) = s1.wait_requests(1)
    assert header_values(req, "x-forwarded-for") == ["2001:db8::5", "::1"]
