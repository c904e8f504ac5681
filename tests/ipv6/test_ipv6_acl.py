"""ACLs on IPv6 networks: ``src`` with IPv6 addresses and networks, ``-f`` files mixing both
families, IPv4 patterns against IPv4-mapped clients (a dual-stack bind) and IPv6 patterns
against IPv4 clients, and ``hdr_ip(x-forwarded-for)`` holding IPv6 addresses.

Clients come from several addresses on the loopback of a namespace of the test's own.
Every case states what must match; HAProxy runs the same file and must agree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest

from lb.acl.values import to_str
from tests.ipv6.conftest import (
    LO4,
    LO6,
    HttpBackend6,
    Netns,
    StartProxy,
    free_port6,
    http_get,
)
from tests.support.http_servers import header_values

ACLS = {
    "v6one": "src ::1/128",
    "doc": "src 2001:db8::/32",
    "lst": "src -f {lst}",
    "lo4": "src 127.0.0.0/8",
    "map6": "src ::ffff:10.0.0.0/104",
    "xff6": "hdr_ip(x-forwarded-for) 2001:db8::/32",
    "xff4": "hdr_ip(x-forwarded-for) 10.0.0.0/8",
}
LIST = "# networks of both families\n10.0.0.0/8\n2001:db8:0:2::/64\n\n192.0.2.0/24\n"

# (client source address, dual-stack port or IPv4 port, X-Forwarded-For or None, matches)
CASES = [
    ("::1", "dual", None, {"v6one"}),
    ("2001:db8::1", "dual", None, {"doc"}),
    ("2001:db8::4", "dual", None, {"doc"}),
    ("2001:db8:0:2::7", "dual", None, {"doc", "lst"}),
    ("2001:db9::1", "dual", None, set()),
    ("fd00::1", "dual", None, set()),
    # IPv4 clients of a dual-stack socket are ::ffff:a.b.c.d: IPv4 patterns still match
    ("192.0.2.1", "dual", None, {"lst"}),
    ("10.1.2.3", "dual", None, {"lst", "map6"}),
    ("127.0.0.1", "dual", None, {"lo4"}),
    # plain IPv4 clients: an IPv6 pattern sees them as ::ffff:a.b.c.d
    ("192.0.2.1", "v4", None, {"lst"}),
    ("10.1.2.3", "v4", None, {"lst", "map6"}),
    ("127.0.0.1", "v4", None, {"lo4"}),
    ("::1", "dual", "2001:db8::99", {"v6one", "xff6"}),
    # an ACL tries every value of the header
    ("::1", "dual", "2001:db8:0:2::1, 10.9.9.9", {"v6one", "xff4", "xff6"}),
    ("::1", "dual", "10.1.1.1", {"v6one", "xff4"}),
    ("::1", "dual", "::ffff:10.1.1.1", {"v6one", "xff4"}),
    ("::1", "dual", "2001:db9::1", {"v6one"}),
]


def _run(
    kind: str, netns: Netns, start_proxy6: StartProxy, backend: HttpBackend6, lst: Path
) -> list[tuple[set[str], str]]:
    dual, v4 = free_port6(), free_port6()
    lines = [f"acl {name} {spec.format(lst=lst)}" for name, spec in ACLS.items()]
    lines += [f"http-request set-header X-M-{name} 1 if {name}" for name in ACLS]
    lines.append("http-request set-header X-Src %[src]")
    proxy = start_proxy6(
        kind,
        netns=netns,
        mode="http",
        binds=[f":::{dual} v4v6", f"0.0.0.0:{v4}"],
        servers=[f"s1 [::1]:{backend.port}"],
        frontend_lines=lines,
    )
    backend.clear()
    out = []
    for n, (source, port, xff, _) in enumerate(CASES):
        target = LO6 if port == "dual" and ":" in source else LO4
        headers = [("X-Forwarded-For", xff)] if xff else []
        reply = http_get(
            target, dual if port == "dual" else v4, f"/{n}", headers=headers, source=source,
            netns=netns,
        )  # fmt: skip
        assert reply.status == 200, proxy.stderr()
        req = backend.wait_requests(n + 1)[n]
        assert req["target"] == f"/{n}"
        matched = {k[4:].lower() for k, _ in req["headers"] if k.lower().startswith("x-m-")}
        out.append((matched, header_values(req, "x-src")[0]))
    return out


def test_src_networks_files_and_mapped_addresses(
    netns: Netns,
    start_proxy6: StartProxy,
    http_backend6: Callable[..., HttpBackend6],
    tmp_path: Path,
) -> None:
    lst = tmp_path / "nets.lst"
    lst.write_text(LIST)
    backend = http_backend6("s1", prefix=netns.prefix())
    got = _run("lb", netns, start_proxy6, backend, lst)
    for (source, port, xff, want), (matched, src) in zip(CASES, got, strict=True):
        assert matched == want, f"{source} ({port}, XFF {xff}): {matched} != {want}"
        mapped = port == "dual" and ":" not in source
        assert src == (f"::ffff:{source}" if mapped else source)
    assert got == _run("haproxy", netns, start_proxy6, backend, lst)


@pytest.mark.parametrize(
    ("address", "text"),
    [
        ("::ffff:127.0.0.1", b"::ffff:127.0.0.1"),  # a dual-stack IPv4 client, as inet_ntop
        ("::1", b"::1"),
        ("2001:db8::1", b"2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", b"2001:db8::1:0:0:1"),
        ("192.0.2.1", b"192.0.2.1"),
    ],
)
def test_ip_samples_as_text(address: str, text: bytes) -> None:
    assert to_str(ipaddress.ip_address(address)) == text
