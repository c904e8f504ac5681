"""What serve answers, chosen by the query: pure parsing and the bytes built from it."""

import pytest

from lb.bench.httpwire import ResponseReader
from lb.bench.responses import (
    CACHE_MAX,
    INLINE_MAX,
    BadQuery,
    Catalog,
    Plan,
    Response,
    parse_target,
)


@pytest.mark.parametrize(
    ("target", "plan"),
    [
        (b"/", Plan()),
        (b"/static/a.css", Plan()),
        (b"/?s=20k&r=404&t=5ms", Plan(size=20_000, status=404, delay=0.005)),
        (b"/x?t=5", Plan(delay=0.005)),
        (b"/?t=1s&c=1&k=0", Plan(delay=1.0, chunked=True, close=True)),
        (b"/?c=0&k=1&other=zzz", Plan()),
        (b"/?s=1mi", Plan(size=1 << 20)),
    ],
)
def test_parse_target(target: bytes, plan: Plan) -> None:
    assert parse_target(target) == plan


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (b"/?s=big", "s=big"),
        (b"/?r=abc", "r=abc"),
        (b"/?r=100", "final"),
        (b"/?r=1000", "r=1000"),
        (b"/?t=soon", "t=soon"),
    ],
)
def test_bad_queries(target: bytes, message: str) -> None:
    with pytest.raises(BadQuery, match=message):
        parse_target(target)


def read_all(data: bytes) -> list[tuple[int, int, bool]]:
    got: list[tuple[int, int, bool]] = []
    ResponseReader(lambda s, b, c: got.append((s, b, c))).feed(data)
    return got


@pytest.mark.parametrize(
    ("plan", "status", "body"),
    [
        (Plan(), 200, 0),
        (Plan(size=20_000, status=404), 404, 20_000),
        (Plan(size=40_000, chunked=True), 200, 40_000),
        (Plan(chunked=True), 200, 0),
        (Plan(size=500, status=204), 204, 0),
        (Plan(size=500, status=599), 599, 500),
    ],
)
def test_inline_responses_are_well_framed(plan: Plan, status: int, body: int) -> None:
    r = Response(plan)
    assert r.more == 0
    assert read_all(r.keep) == [(status, body, False)]
    assert read_all(r.shut) == [(status, body, True)]
    assert r.keep.startswith(r.keep_head) and r.shut.startswith(r.shut_head)


def test_big_bodies_are_not_kept_in_memory() -> None:
    r = Response(Plan(size=INLINE_MAX + 1))
    assert r.more == INLINE_MAX + 1
    assert r.keep == r.keep_head
    assert b"Content-Length: %d\r\n" % (INLINE_MAX + 1) in r.keep


def test_catalog_caches_up_to_a_bound() -> None:
    c = Catalog()
    assert c.get(b"/?s=1") is c.get(b"/?s=1")
    for i in range(CACHE_MAX + 10):
        c.get(b"/?s=%d" % i)
    assert len(c.cache) == CACHE_MAX
    assert c.get(b"/?s=%d" % (CACHE_MAX + 5)).keep.endswith(b"x" * 5)
