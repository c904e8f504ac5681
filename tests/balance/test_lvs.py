"""keepalived's lb_algo names on the same engine, with their LVS meaning."""

import pytest

from lb.balance import LVS_ALGORITHMS, PickKey, lvs_algorithm, make_balancer
from lb.config.keepalived_keywords import LVS_SCHEDULERS
from tests.balance.helpers import picks, servers


@pytest.mark.parametrize(
    ("name", "algorithm", "hash_type"),
    [
        ("rr", "rr", []),
        ("wrr", "roundrobin", []),
        ("lc", "lc", []),
        ("wlc", "leastconn", []),
        ("sed", "sed", []),
        ("nq", "nq", []),
        ("sh", "source", ["consistent"]),
        ("dh", "destination", ["consistent"]),
        ("mh", "source", ["consistent"]),
        ("lblc", "lblc", []),
        ("lblcr", "lblc", []),
        ("fo", "fo", []),
        ("ovf", "ovf", []),
        ("twos", "random(2)", []),
        ("WLC", "leastconn", []),  # keepalived accepts either case
    ],
)
def test_lvs_names(name: str, algorithm: str, hash_type: list[str]) -> None:
    assert lvs_algorithm(name) == (algorithm, [], hash_type)


def test_every_scheduler_keepalived_accepts_is_mapped() -> None:
    assert set(LVS_SCHEDULERS) <= set(LVS_ALGORITHMS)


@pytest.mark.parametrize("name", sorted(LVS_ALGORITHMS))
def test_every_scheduler_picks(name: str) -> None:
    balancer = make_balancer(f"lvs:{name}", [], [], servers(1, 2, 3))
    key = PickKey(source=b"\x0a\x00\x00\x01", destination=b"\xc0\x00\x02\x01")
    assert balancer.pick(key) in (0, 1, 2)


def test_unweighted_and_weighted_round_robin() -> None:
    assert picks(make_balancer("lvs:rr", [], [], servers(3, 1)), 4) == [0, 1, 0, 1]
    assert sorted(picks(make_balancer("lvs:wrr", [], [], servers(3, 1)), 4)) == [0, 0, 0, 1]


def test_dh_hashes_the_destination_not_the_source() -> None:
    balancer = make_balancer("lvs:dh", [], [], servers(*[1] * 8))
    to = b"\xc0\x00\x02\x01"
    chosen = {
        balancer.pick(PickKey(source=bytes([10, 0, 0, i]), destination=to)) for i in range(50)
    }
    assert len(chosen) == 1


def test_lblc_sticks_to_the_destination_server_until_it_is_overloaded() -> None:
    pool = servers(4, 4, 4)
    balancer = make_balancer("lvs:lblc", [], [], pool)
    key = PickKey(destination=b"\xc0\x00\x02\x63")
    home = balancer.pick(key)
    assert home is not None
    pool[home].cur_conns = 4  # at its weight: not overloaded yet
    assert balancer.pick(key) == home
    pool[home].cur_conns = 5  # above its weight, while the others are idle
    moved = balancer.pick(key)
    assert moved is not None and moved != home
    for server in pool:
        server.cur_conns = 5  # everyone busy: nowhere better, stay home
    assert balancer.pick(key) == home


def test_lblc_without_destination_is_weighted_least_connection() -> None:
    pool = servers(1, 1, 1)
    pool[0].cur_conns, pool[1].cur_conns, pool[2].cur_conns = 3, 1, 2
    assert make_balancer("lvs:lblc", [], [], pool).pick(PickKey()) == 1
