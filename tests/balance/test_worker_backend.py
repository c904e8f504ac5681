"""The worker's Backend: lb.balance over the shared state table and connection counts.

Two Backend objects over one shared region stand for two worker processes: they
share the round robin position, the connection counts and the server states,
exactly as workers do through the memfd.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator

import pytest

from lb.balance import PickKey
from lb.config.model import Proxy, Server, Source
from lb.stats.server_state import (
    ADMIN_FDRAIN,
    ADMIN_FMAINT,
    OpState,
    ServerState,
    ServerStateTable,
    state_slots,
    version_index,
)
from lb.stats.shm import GaugeNames, GaugeTable, SharedRegion
from lb.worker.backends import Backend, ServerTarget

SRC = Source("test.cfg", 1)


class Daemon:
    """One shared region, its master-side state table, and worker-side Backends."""

    def __init__(self, region: SharedRegion, proxy: Proxy) -> None:
        self.region = region
        self.proxy = proxy
        self.gauges = GaugeTable(region.capacity)
        self.table = ServerStateTable(region.counters, version_index(region, self.gauges.slot))
        self._bytes = memoryview(region.mm)
        self.view = self._bytes.cast("q")

    def slots(self, name: str):  # type: ignore[no-untyped-def]
        return state_slots(self.region, self.gauges.slot, self.proxy.name, name)

    def publish(self, name: str, state: ServerState) -> None:
        self.table.store(self.slots(name), state)

    def publish_all(self) -> None:
        for s in self.proxy.servers:
            state = ServerState(eweight=s.weight, uweight=s.weight)
            self.table.store(self.slots(s.name), state, bump=False)
        self.table.bump()

    def worker(self, *, with_table: bool = True) -> Backend:
        index = self.region.counter_index
        targets = []
        for i, s in enumerate(self.proxy.servers):
            cur = index(self.gauges.slot(GaugeNames.server_cur_conns(self.proxy.name, s.name)))
            state = self.slots(s.name).state if with_table else None
            address = ("127.0.0.1", 10000 + i)
            targets.append(
                ServerTarget(i, self.proxy.name, s, socket.AF_INET, address, cur, state_index=state)
            )
        position = index(self.gauges.slot(GaugeNames.backend_rr_position(self.proxy.name)))
        return Backend(
            self.proxy,
            targets,
            self.region.counters,
            position,
            gauges=self.view,
            state_version_index=version_index(self.region, self.gauges.slot)
            if with_table
            else None,
        )

    def close(self) -> None:
        self.view.release()
        self._bytes.release()


def proxy(*servers: Server, balance: str = "roundrobin", **kw: object) -> Proxy:
    words = balance.split()
    return Proxy(
        name="be",
        kind="backend",
        source=SRC,
        servers=list(servers),
        balance=words[0],
        balance_args=words[1:],
        **kw,  # type: ignore[arg-type]
    )


def server(name: str, **kw: object) -> Server:
    return Server(name=name, host="127.0.0.1", port=80, source=SRC, **kw)  # type: ignore[arg-type]


@pytest.fixture
def region() -> Iterator[SharedRegion]:
    r = SharedRegion.create(capacity=1024)
    yield r
    r.close()


def daemon(region: SharedRegion, *servers: Server, **kw: object) -> Daemon:
    d = Daemon(region, proxy(*servers, **kw))  # type: ignore[arg-type]
    d.publish_all()
    return d


def names(backend: Backend, count: int, **kw: object) -> list[str]:
    """Pick ``count`` times, releasing each slot at once (short connections)."""
    out = []
    for _ in range(count):
        target = backend.pick(**kw)  # type: ignore[arg-type]
        out.append(target.name if target is not None else "-")
        if target is not None:
            backend.release(target)
    return out


FOUR = [server(f"s{i}") for i in range(1, 5)]


def test_roundrobin_order_holds_across_workers(region: SharedRegion) -> None:
    d = daemon(region, *FOUR)
    w1, w2 = d.worker(), d.worker()
    picked = []
    for w in (w1, w2, w2, w1, w2):  # whichever worker accepts, the order is global
        picked += names(w, 1)
    assert picked == ["s1", "s2", "s3", "s4", "s1"]
    d.close()


def test_weighted_shares(region: SharedRegion) -> None:
    d = daemon(region, server("a", weight=3), server("b", weight=1), server("c", weight=0))
    shares = Counter(names(d.worker(), 4000))
    assert shares == {"a": 3000, "b": 1000}  # weight 0: persistent traffic only
    d.close()


@pytest.mark.parametrize(
    "state",
    [
        ServerState(op=OpState.STOPPED),  # DOWN
        ServerState(admin=ADMIN_FDRAIN),  # DRAIN
        ServerState(op=OpState.STOPPED, admin=ADMIN_FMAINT),  # MAINT
        ServerState(eweight=0),  # weight 0
        ServerState(op=OpState.STOPPING),  # NOLB
    ],
)
def test_servers_out_of_rotation_get_no_new_traffic(
    region: SharedRegion, state: ServerState
) -> None:
    d = daemon(region, *FOUR)
    w = d.worker()
    assert names(w, 4) == ["s1", "s2", "s3", "s4"]
    d.publish("s2", state)
    assert set(names(w, 30)) == {"s1", "s3", "s4"}  # seen at the next pick
    d.publish("s2", ServerState())
    assert "s2" in names(w, 4)
    d.close()


def test_without_a_table_the_configuration_decides(region: SharedRegion) -> None:
    d = daemon(region, server("a"), server("b", disabled=True))
    assert set(names(d.worker(with_table=False), 10)) == {"a"}
    d.close()


def test_effective_weights_follow_the_table(region: SharedRegion) -> None:
    d = daemon(region, server("a", weight=10), server("b", weight=10))
    w = d.worker()
    d.publish("b", ServerState(op=OpState.STARTING, eweight=1, uweight=10))  # slowstart
    assert Counter(names(w, 1100)) == {"a": 1000, "b": 100}
    d.close()


def test_static_rr_keeps_its_weights_but_not_dead_servers(region: SharedRegion) -> None:
    d = daemon(region, server("a", weight=1), server("b", weight=1), balance="static-rr")
    w = d.worker()
    d.publish("b", ServerState(eweight=5, uweight=5))  # "set weight": no effect on static-rr
    assert Counter(names(w, 100)) == {"a": 50, "b": 50}
    d.publish("b", ServerState(op=OpState.STOPPED))
    assert set(names(w, 10)) == {"a"}
    d.close()


@pytest.mark.parametrize("balance", ["roundrobin", "leastconn", "source", "random"])
def test_backups_only_when_every_primary_is_down(region: SharedRegion, balance: str) -> None:
    d = daemon(
        region,
        server("p1"),
        server("p2"),
        server("b1", backup=True),
        server("b2", backup=True),
        balance=balance,
    )
    w = d.worker()
    assert set(names(w, 20)) == {"p1", "p2"}
    d.publish("p1", ServerState(op=OpState.STOPPED))
    assert set(names(w, 20)) == {"p2"}
    d.publish("p2", ServerState(op=OpState.STOPPED))
    assert set(names(w, 20)) == {"b1"}  # the first backup only
    d.publish("b1", ServerState(admin=ADMIN_FMAINT, op=OpState.STOPPED))
    assert set(names(w, 20)) == {"b2"}
    d.publish("b1", ServerState())
    d.publish("p2", ServerState())
    assert set(names(w, 20)) == {"p2"}
    d.close()


@pytest.mark.parametrize("balance", ["roundrobin", "leastconn"])
def test_allbackups_uses_every_backup(region: SharedRegion, balance: str) -> None:
    d = daemon(
        region,
        server("p1"),
        server("b1", backup=True),
        server("b2", backup=True),
        balance=balance,
        allbackups=True,
    )
    w = d.worker()
    d.publish("p1", ServerState(op=OpState.STOPPED))
    assert set(names(w, 20)) == {"b1", "b2"}
    d.close()


def test_leastconn_counts_what_every_worker_holds(region: SharedRegion) -> None:
    d = daemon(region, *FOUR, balance="leastconn")
    w1, w2 = d.worker(), d.worker()
    held = [w1.pick() for _ in range(3)]  # worker 1 holds one connection on 3 servers
    assert sorted(t.name for t in held if t) == ["s1", "s2", "s3"]
    fourth = w2.pick()
    assert fourth is not None and fourth.name == "s4"  # worker 2 sees them
    more = [fourth, *(w2.pick() for _ in range(8))]
    loads = Counter(t.name for t in [*held, *more] if t)
    assert set(loads.values()) == {3}  # 12 long-lived connections, 3 on each server
    for t in [*held, *more]:
        (w1 if t in held else w2).release(t)  # type: ignore[arg-type]
    d.close()


def test_hashing_needs_its_key(region: SharedRegion) -> None:
    d = daemon(region, *FOUR, balance="source", hash_type=["consistent"])
    w1, w2 = d.worker(), d.worker()
    key = w1.address_key(("192.0.2.7", 5555))
    assert key == PickKey(source=bytes([192, 0, 2, 7]))
    first = names(w1, 1, key=key)
    assert names(w1, 20, key=key) == first * 20
    assert names(w2, 5, key=w2.address_key(("192.0.2.7", 1))) == first * 5
    # An IPv4-mapped client keeps its 16 bytes: HAProxy hashes it as the IPv6 address it is.
    mapped = bytes(10) + b"\xff\xff" + bytes([192, 0, 2, 7])
    assert w2.address_key(("::ffff:192.0.2.7", 1)) == PickKey(source=mapped)
    spread = {names(w1, 1, key=PickKey(source=bytes([10, 0, 0, i])))[0] for i in range(64)}
    assert spread == {"s1", "s2", "s3", "s4"}
    d.publish(first[0], ServerState(op=OpState.STOPPED))
    assert names(w1, 1, key=key) != first  # moved away from the dead server
    d.close()


def test_uri_hashing_and_its_key_spec(region: SharedRegion) -> None:
    d = daemon(region, *FOUR, balance="uri")
    w = d.worker()
    assert w.key_spec.field == "uri"
    assert w.address_key(("1.2.3.4", 1)) is None  # the HTTP layer fills uri keys
    one = names(w, 10, key=PickKey(uri="/a/b?x=1"))
    assert len(set(one)) == 1 and names(w, 1, key=PickKey(uri="/a/b?y=2")) == one[:1]
    d.close()


def test_full_servers_are_passed_over_then_none(region: SharedRegion) -> None:
    for balance in ("roundrobin", "leastconn", "source"):
        r = SharedRegion.create(capacity=256)
        d = daemon(r, server("a", maxconn=1), server("b", maxconn=1), balance=balance)
        w = d.worker()
        key = PickKey(source=b"\x01\x02\x03\x04")
        first, second = w.pick(key=key), w.pick(key=key)
        assert {first.name, second.name} == {"a", "b"}, balance  # type: ignore[union-attr]
        assert w.pick(key=key) is None and w.limited
        w.release(first)  # type: ignore[arg-type]
        assert w.pick(key=key) is first
        d.close()
        r.close()


def test_avoid_redispatches_unless_alone(region: SharedRegion) -> None:
    d = daemon(region, server("a"), server("b"), balance="leastconn")
    w = d.worker()
    a = w.servers[0]
    assert all(n == "b" for n in names(w, 5, avoid=a))
    d.publish("b", ServerState(op=OpState.STOPPED))
    assert names(w, 1, avoid=a) == ["a"]  # the only one left: retried
    d.close()


def test_persistence_goes_to_drain_not_to_down_or_maintenance(region: SharedRegion) -> None:
    d = daemon(region, server("a", cookie="A"), server("b", cookie="B", maxconn=1))
    w = d.worker()
    b = w.by_cookie["B"]
    d.publish("b", ServerState(admin=ADMIN_FDRAIN))
    assert w.acquire(b)  # drain: persistent traffic still welcome
    assert not w.acquire(b)  # but its maxconn holds
    w.release(b)
    d.publish("b", ServerState(op=OpState.STOPPED))
    assert not w.acquire(b)
    d.publish("b", ServerState(admin=ADMIN_FMAINT))
    assert not w.acquire(b)
    d.close()
