"""``balance source`` end to end: each IPv4 client address (127.0.0.0/8 sources on lo) reaches
the same server through lb as through HAProxy 2.6 with the same configuration, for map-based
and consistent hashing and the hash-type functions (which HAProxy does not apply to the
address: only the avalanche modifier changes the result).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.http.conftest import HaproxyProcess
from tests.ipv6.conftest import proxy_config
from tests.support.backends import Backend
from tests.support.clients import free_port, recv_line
from tests.support.lbproc import LbProcess
from tests.support.peers import need_command

# Spread over the first and last octets, so both the low and the high bits of the hash vary.
SOURCES = tuple(f"127.0.0.{i}" for i in range(1, 41)) + tuple(
    f"127.{a}.{b}.{c}" for a, b, c in ((1, 2, 3), (200, 0, 9), (9, 9, 9), (255, 255, 254))
)
WEIGHTS = (1, 2, 3, 1)

# The key is HAProxy's, but lb's ring is not: its points come from the server's name
# (lb/balance/ring.py), HAProxy's from the server's id, and HAProxy takes the nearest point.
_RING_DIFFERS = pytest.mark.xfail(
    strict=True, reason="lb's consistent ring places servers differently from HAProxy's"
)

HASH_TYPES = [
    [],
    ["map-based", "djb2"],
    ["map-based", "sdbm", "avalanche"],
    *(
        pytest.param(h, marks=_RING_DIFFERS)
        for h in (["consistent"], ["consistent", "wt6"], ["consistent", "crc32", "avalanche"])
    ),
]


def _server_for(port: int, source: str) -> str:
    with socket.socket(socket.AF_INET) as s:
        s.settimeout(5)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        return recv_line(s).decode().strip()


@pytest.fixture
def haproxy_factory(tmp_path: Path) -> Iterator[Callable[[str], HaproxyProcess]]:
    made: list[HaproxyProcess] = []

    def start(config: str) -> HaproxyProcess:
        d = tmp_path / f"haproxy{len(made)}"
        d.mkdir()
        hap = HaproxyProcess(d, need_command("haproxy"))
        made.append(hap)
        hap.start(config.replace("@STATS@", hap.stats_socket), 0)
        return hap

    yield start
    for hap in made:
        hap.close()


@pytest.mark.parametrize("hash_type", HASH_TYPES, ids=lambda h: "-".join(h) or "default")
def test_source_picks_like_haproxy(
    hash_type: Sequence[str],
    backend: Callable[..., Backend],
    lb_factory: Callable[..., LbProcess],
    haproxy_factory: Callable[[str], HaproxyProcess],
) -> None:
    hellos = [backend("hello", name=f"s{i}") for i in range(1, len(WEIGHTS) + 1)]
    servers = [
        f"{b.name} 127.0.0.1:{b.port} weight {w}" for b, w in zip(hellos, WEIGHTS, strict=True)
    ]
    backend_lines = ["balance source"]
    if hash_type:
        backend_lines.append("hash-type " + " ".join(hash_type))

    def config(port: int) -> str:
        return proxy_config(
            "@STATS@",
            mode="tcp",
            binds=[f"127.0.0.1:{port}"],
            servers=servers,
            backend_lines=backend_lines,
        )

    hap_port, lb_port = free_port(), free_port()
    haproxy_factory(config(hap_port))
    lb = lb_factory()
    lb.start(config(lb_port).replace("@STATS@", lb.stats_socket))

    expected = {source: _server_for(hap_port, source) for source in SOURCES}
    got = {source: _server_for(lb_port, source) for source in SOURCES}
    assert len(set(expected.values())) >= 2, f"HAProxy put every client on one server: {expected}"
    differ = {s: (expected[s], got[s]) for s in SOURCES if expected[s] != got[s]}
    assert not differ, f"(haproxy, lb) differ for {len(differ)} clients: {differ}"
