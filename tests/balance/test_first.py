"""first (HAProxy) and the LVS fill orders fo and ovf."""

import pytest

from lb.balance import make_balancer
from tests.balance.helpers import servers


def test_first_fills_in_order_up_to_maxconn() -> None:
    pool = servers(1, 1, 1)
    for server in pool:
        server.maxconn = 2
    balancer = make_balancer("first", [], [], pool)
    order = []
    for _ in range(6):
        chosen = balancer.pick()
        assert chosen is not None
        order.append(chosen)
        pool[chosen].cur_conns += 1
    assert order == [0, 0, 1, 1, 2, 2]
    assert balancer.pick() is None  # all full: the caller queues, as HAProxy does
    pool[1].cur_conns -= 1
    assert balancer.pick() == 1  # a freed slot is used before any later server


def test_first_ignores_weights_but_not_weight_zero() -> None:
    pool = servers(1, 100, 100)
    pool[0].maxconn = 1
    pool[0].cur_conns = 1
    assert make_balancer("first", [], [], pool).pick() == 1
    pool[1].weight = 0
    balancer = make_balancer("first", [], [], pool)
    assert balancer.pick() == 2


def test_first_unlimited_maxconn_keeps_the_first() -> None:
    pool = servers(1, 1)
    pool[0].cur_conns = 10_000
    assert make_balancer("first", [], [], pool).pick() == 0


def test_first_exclude_goes_to_the_next_with_room() -> None:
    balancer = make_balancer("first", [], [], servers(1, 1, 1))
    assert balancer.pick(exclude=0) == 1


@pytest.mark.parametrize(
    ("algorithm", "weights", "conns", "expected"),
    [
        ("lvs:fo", (1, 5, 3), (0, 100, 0), 1),  # highest weight, whatever its load
        ("lvs:ovf", (1, 5, 3), (0, 4, 0), 1),  # under its weight
        ("lvs:ovf", (1, 5, 3), (0, 5, 0), 2),  # reached it: next highest weight
        ("lvs:ovf", (1, 5, 3), (1, 5, 3), None),  # all overflowing
    ],
)
def test_lvs_fill_orders(
    algorithm: str, weights: tuple[int, ...], conns: tuple[int, ...], expected: int | None
) -> None:
    pool = servers(*weights)
    for server, n in zip(pool, conns, strict=True):
        server.cur_conns = n
    assert make_balancer(algorithm, [], [], pool).pick() == expected
