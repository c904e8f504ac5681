"""Cookie persistence rules (lb/worker/http/persistence.py), as tables."""

from __future__ import annotations

import pytest

from lb.config.model import CookiePersistence
from lb.worker.http.persistence import CookieRules


def rules(mode: str = "insert", **kw: object) -> CookieRules:
    return CookieRules(CookiePersistence("SRV", mode=mode, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "kw", "cookies", "value", "sent"),
    [
        # no cookie, or another one: nothing found
        ("insert", {}, [], None, None),
        ("insert", {}, ["a=1; b=2"], None, None),
        ("insert", {}, ["SRVX=s1"], None, None),  # a longer name is another cookie
        # insert without indirect: found, the server sees the cookie
        ("insert", {}, ["a=1; SRV=s1; b=2"], b"s1", None),
        # insert + indirect: found, and taken out of what the server sees
        ("insert", {"indirect": True}, ["a=1; SRV=s1; b=2"], b"s1", ["a=1; b=2"]),
        ("insert", {"indirect": True}, ["SRV=s2"], b"s2", []),  # the header goes entirely
        ("insert", {"indirect": True}, ["a=1", "SRV=s2"], b"s2", ["a=1"]),  # second header
        # rewrite and passive: the value is the server's, passed on as it is
        ("rewrite", {}, ["SRV=s1"], b"s1", None),
        ("passive", {}, ["SRV=s1"], b"s1", None),
        # prefix: "s1~abc" names s1; the server gets its own "abc" back
        ("prefix", {}, ["x=y; SRV=s1~abc"], b"s1", ["x=y; SRV=abc"]),
        ("prefix", {}, ["SRV=abc"], b"abc", None),  # no prefix: not lb's doing
        # spaces around the separators are not part of names or values
        ("insert", {}, ["a=1 ;  SRV = s3 "], b"s3", None),
    ],
)
def test_request_cookie(
    mode: str, kw: dict[str, object], cookies: list[str], value: bytes | None, sent: list[str]
) -> None:
    headers = [(b"Host", b"h")] + [(b"Cookie", c.encode()) for c in cookies]
    found = rules(mode, **kw).find(headers)
    if value is None:
        assert found is None
        return
    assert found is not None and found.value == value
    if sent is None:
        assert found.headers is None  # the request goes as it came
    else:
        assert found.headers is not None
        assert [v.decode() for n, v in found.headers if n == b"Cookie"] == sent
        assert found.headers[0] == (b"Host", b"h")


SERVER_SETS = [(b"Content-Type", b"text/html"), (b"Set-Cookie", b"SRV=app; path=/app")]
PLAIN = [(b"Content-Type", b"text/html")]


@pytest.mark.parametrize(
    ("mode", "kw", "headers", "had", "expected"),
    [
        # insert: lb's cookie when the client's did not name this server
        ("insert", {}, PLAIN, False, [b"SRV=s1; path=/"]),
        ("insert", {}, PLAIN, True, []),
        ("insert", {"httponly": True, "secure": True}, PLAIN, False,
         [b"SRV=s1; path=/; HttpOnly; Secure"]),
        ("insert", {"domains": ["example.com"]}, PLAIN, False,
         [b"SRV=s1; path=/; domain=example.com"]),
        # the server's own cookie of that name gives way to lb's, unless preserve
        ("insert", {}, SERVER_SETS, False, [b"SRV=s1; path=/"]),
        ("insert", {"preserve": True}, SERVER_SETS, False, [b"SRV=app; path=/app"]),
        # rewrite: the server's value becomes the server's cookie id
        ("rewrite", {}, SERVER_SETS, False, [b"SRV=s1; path=/app"]),
        ("rewrite", {}, PLAIN, False, []),
        # prefix: the id goes before the server's value
        ("prefix", {}, SERVER_SETS, True, [b"SRV=s1~app; path=/app"]),
        # passive: nothing changes
        ("passive", {}, SERVER_SETS, False, [b"SRV=app; path=/app"]),
    ],
)  # fmt: skip
def test_response_cookie(
    mode: str,
    kw: dict[str, object],
    headers: list[tuple[bytes, bytes]],
    had: bool,
    expected: list[bytes],
) -> None:
    out = rules(mode, **kw).response(list(headers), b"s1", had)
    assert [v for n, v in out if n.lower() == b"set-cookie"] == expected
    assert out[0] == (b"Content-Type", b"text/html")  # other headers stay, in order


@pytest.mark.parametrize(
    ("status", "extra", "private"),
    [
        # HAProxy 2.6, measured: only a response a cache would store gets marked
        (200, [], False),
        (200, [(b"Cache-Control", b"public, max-age=60")], True),
        (200, [(b"Last-Modified", b"Sat, 21 Nov 2026 08:00:00 GMT")], True),
        (200, [(b"Expires", b"Sat, 21 Nov 2026 08:00:00 GMT")], True),
        (200, [(b"Cache-Control", b"no-cache")], False),
        (200, [(b"Cache-Control", b"max-age=5, private")], False),
        (404, [], False),
        (500, [(b"Expires", b"Sat, 21 Nov 2026 08:00:00 GMT")], False),
    ],
)
def test_nocache_marks_cacheable_responses_private(
    status: int, extra: list[tuple[bytes, bytes]], private: bool
) -> None:
    r = rules(nocache=True)
    out = r.response([*PLAIN, *extra], b"s1", False, status)
    assert ((b"Cache-Control", b"private") in out) == private
    # no cookie inserted (the client had it): nothing to protect
    assert (b"Cache-Control", b"private") not in r.response([*PLAIN, *extra], b"s1", True, status)


def test_server_without_cookie_value_leaves_the_response_alone() -> None:
    assert rules().response(list(SERVER_SETS), b"", False) == SERVER_SETS


# ---------------------------------------------------------------------- through a real proxy


def test_cookie_persistence_sticks_and_fails_over(start_proxy, http_backend) -> None:  # type: ignore[no-untyped-def]
    import time

    from tests.support.http_clients import get

    s1, s2 = http_backend("s1"), http_backend("s2")
    backend_lines = [
        "cookie SRV insert indirect nocache",
        "option redispatch",
        f"server s1 127.0.0.1:{s1.port} cookie c1 check inter 200ms fall 1 rise 1",
        f"server s2 127.0.0.1:{s2.port} cookie c2 check inter 200ms fall 1 rise 1",
    ]
    proxy = start_proxy([], backend_lines=backend_lines)
    first = get(proxy.port, "/", [("Host", "h")])
    assert first.status == 200
    server = first.header("X-Server")
    value = {"s1": "c1", "s2": "c2"}[server]
    assert first.header("Set-Cookie") == f"SRV={value}; path=/"
    assert first.header("Cache-Control") is None  # nocache: only cacheable responses
    # the client's cookie sends it to the same server; the server never sees lb's cookie
    for _ in range(6):
        r = get(proxy.port, "/", [("Host", "h"), ("Cookie", f"a=1; SRV={value}")])
        assert r.header("X-Server") == server
        assert r.header("Set-Cookie") is None  # it had the right one already
    chosen = s1 if server == "s1" else s2
    other = "s2" if server == "s1" else "s1"
    for ev in chosen.requests()[1:]:
        assert [v for k, v in ev["headers"] if k.lower() == "cookie"] == ["a=1"]
    # its server dies: the checks mark it down, the cookie is ignored, a new one is set
    chosen.stop()
    deadline = time.monotonic() + 10
    while True:
        r = get(proxy.port, "/", [("Host", "h"), ("Cookie", f"SRV={value}")])
        if r.status == 200 and r.header("X-Server") == other:
            break
        assert time.monotonic() < deadline, (r.status, r.headers)
        time.sleep(0.1)
    new = {"s1": "c1", "s2": "c2"}[other]
    assert r.header("Set-Cookie") == f"SRV={new}; path=/"


def test_a_full_persistent_server_queues_up_to_maxqueue_then_redispatches(  # type: ignore[no-untyped-def]
    start_proxy, http_backend
) -> None:
    import threading
    import time

    from tests.support.http_clients import get

    s1, s2 = http_backend("s1"), http_backend("s2")
    backend_lines = [
        "cookie SRV insert indirect",
        "option redispatch",
        "timeout queue 5s",
        f"server s1 127.0.0.1:{s1.port} cookie c1 maxconn 1 maxqueue 1",
        f"server s2 127.0.0.1:{s2.port} cookie c2",
    ]
    proxy = start_proxy([], workers=2, backend_lines=backend_lines)
    sticky = [("Host", "h"), ("Cookie", "SRV=c1")]
    results: dict[str, tuple[str | None, float, str | None]] = {}

    def one(name: str, target: str) -> None:
        start = time.monotonic()
        r = get(proxy.port, target, sticky)
        assert r.status == 200, (name, r.status)
        results[name] = (r.header("X-Server"), time.monotonic() - start, r.header("Set-Cookie"))

    a = threading.Thread(target=one, args=("a", "/?t=1s"))  # holds s1's only slot for 1 s
    a.start()
    time.sleep(0.3)
    b = threading.Thread(target=one, args=("b", "/?t=10ms"))  # waits in s1's queue
    b.start()
    time.sleep(0.3)
    one("c", "/")  # s1 full and its queue full: balanced elsewhere, at once
    a.join()
    b.join()
    assert results["a"][0] == "s1" and results["b"][0] == "s1", results
    assert results["b"][1] > 0.5, results  # it waited for s1 rather than going to s2
    assert results["c"][0] == "s2" and results["c"][1] < 0.5, results
    assert results["c"][2] == "SRV=c2; path=/", results  # the new server's cookie
