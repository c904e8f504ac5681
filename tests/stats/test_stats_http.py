"""The stats page's HTTP handler: auth, formats, filters, the admin form, /metrics."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lb.config.model import Source, StatsAuth, StatsSettings
from lb.stats.http import (
    Target,
    admin_static,
    handle_prometheus_request,
    handle_stats_request,
    same_origin,
    stats_match,
)
from lb.stats.snapshot import Snapshot
from tests.stats.helpers import Rig, load

SRC = Source("t.cfg", 1)
URI = "/haproxy?stats"


class FixedSource:
    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.calls = 0

    def take(self, history: bool = False) -> Snapshot:
        self.calls += 1
        return self.rig.stats.snapshot(self.rig.config, 1000, history)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[FixedSource]:
    rig = Rig(load(tmp_path))
    try:
        yield FixedSource(rig)
    finally:
        rig.close()


def settings(**kw: object) -> StatsSettings:
    base: dict[str, object] = {"source": SRC, "uri": URI}
    base.update(kw)
    return StatsSettings(**base)  # type: ignore[arg-type]


def basic(user: str, password: str) -> tuple[bytes, bytes]:
    token = base64.b64encode(f"{user}:{password}".encode())
    return (b"Authorization", b"Basic " + token)


def get(
    s: StatsSettings,
    target: str,
    source: FixedSource,
    *headers: tuple[bytes, bytes],
    method: bytes = b"GET",
    **kw: object,
):  # type: ignore[no-untyped-def]
    status, hdrs, body = handle_stats_request(
        s, method, target.encode(), list(headers), source, proxy_name="web", **kw
    )  # type: ignore[arg-type]
    return status, {k.lower(): v for k, v in hdrs}, body


AUTH = settings(auth=[StatsAuth("admin", "s3cret"), StatsAuth("ro", "x:y")], realm="no entrance")


@pytest.mark.parametrize(
    "headers",
    [
        (),
        (basic("admin", "wrong"),),
        (basic("nobody", "s3cret"),),
        ((b"Authorization", b"Basic !!notbase64"),),
        ((b"Authorization", b"Bearer abc"),),
    ],
)
def test_no_valid_credentials_is_401_with_the_realm(source: FixedSource, headers: tuple) -> None:  # type: ignore[type-arg]
    status, hdrs, body = get(AUTH, URI, source, *headers)
    assert status == 401
    assert hdrs[b"www-authenticate"] == b'Basic realm="no entrance"'
    assert b"401 Unauthorized" in body
    assert source.calls == 0  # nothing was read for an unauthenticated client


def test_the_default_realm(source: FixedSource) -> None:
    status, hdrs, _ = get(settings(auth=[StatsAuth("a", "b")]), URI, source)
    assert status == 401 and hdrs[b"www-authenticate"] == b'Basic realm="lb Statistics"'


@pytest.mark.parametrize(("user", "password"), [("admin", "s3cret"), ("ro", "x:y")])
def test_valid_credentials(source: FixedSource, user: str, password: str) -> None:
    status, hdrs, body = get(AUTH, URI, source, basic(user, password))
    assert status == 200
    assert hdrs[b"content-type"].startswith(b"text/html")
    assert int(hdrs[b"content-length"]) == len(body)
    assert b"<html>" in body


@pytest.mark.parametrize(
    ("suffix", "content_type", "first"),
    [
        (";csv", b"text/plain", b"# pxname,svname,"),
        (";csv;norefresh", b"text/plain", b"# pxname,svname,"),
        (";json", b"application/json", b"[["),
        (";history", b"application/json", b"{"),
    ],
)
def test_formats(source: FixedSource, suffix: str, content_type: bytes, first: bytes) -> None:
    status, hdrs, body = get(settings(), URI + suffix, source)
    assert status == 200 and hdrs[b"content-type"] == content_type
    assert body.startswith(first)
    assert hdrs[b"cache-control"] == b"no-cache"


def test_head_has_the_headers_and_no_body(source: FixedSource) -> None:
    status, hdrs, body = get(settings(), URI + ";csv", source, method=b"HEAD")
    assert status == 200 and body == b"" and int(hdrs[b"content-length"]) > 0


def _csv_rows(body: bytes) -> list[tuple[str, str]]:
    return [tuple(line.split(",")[:2]) for line in body.decode().splitlines()[1:]]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("suffix", "conf_scope", "rows"),
    [
        (
            ";csv;up",
            [],
            [
                ("web", "FRONTEND"),
                ("app", "s1"),
                ("app", "s2"),
                ("app", "BACKEND"),
                ("db", "FRONTEND"),
                ("pg", "p2"),
                ("pg", "BACKEND"),
            ],
        ),
        (";csv;no-maint&scope=pg", [], [("pg", "p2"), ("pg", "BACKEND")]),
        (";csv&scope=PG", [], [("pg", "p1"), ("pg", "p2"), ("pg", "BACKEND")]),
        (";csv", ["."], [("web", "FRONTEND")]),
        (
            ";csv",
            ["pg", "app"],
            [
                ("app", "s1"),
                ("app", "s2"),
                ("app", "BACKEND"),
                ("pg", "p1"),
                ("pg", "p2"),
                ("pg", "BACKEND"),
            ],
        ),
        (";csv&scope=app", ["pg"], []),
    ],
)
def test_filters(
    source: FixedSource, suffix: str, conf_scope: list[str], rows: list[tuple[str, str]]
) -> None:
    _status, _h, body = get(settings(scope=conf_scope), URI + suffix, source)
    assert _csv_rows(body) == rows


def test_refresh(source: FixedSource) -> None:
    _s, hdrs, body = get(settings(refresh=10000), URI, source)
    assert hdrs[b"refresh"] == b"10" and b'content="10;' in body
    _s, hdrs, body = get(settings(refresh=10000), URI + ";norefresh", source)
    assert b"refresh" not in hdrs and b'http-equiv="refresh"' not in body


def test_show_node_and_desc(source: FixedSource) -> None:
    _s, _h, body = get(settings(show_node="edge-1", show_desc="front door"), URI, source)
    assert b"on edge-1: front door" in body


@pytest.mark.parametrize(
    ("target", "parsed"),
    [
        ("", Target()),
        (";csv;up", Target(csv=True, up=True)),
        (";up;csv", Target(csv=True, up=True)),
        ("?scope=a%20b", Target(scope="a b")),
        (";st=DONE", Target(message="DONE")),
        (";json;no-maint&scope=x", Target(json=True, no_maint=True, scope="x")),
    ],
)
def test_target_suffixes(target: str, parsed: Target) -> None:
    assert Target.parse(target) == parsed


def test_stats_uri_is_a_prefix() -> None:
    s = settings()
    assert stats_match(s, b"/haproxy?stats")
    assert stats_match(s, b"/haproxy?stats;csv")
    assert not stats_match(s, b"/haproxy")
    assert not stats_match(None, b"/haproxy?stats")


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([], False),
        ([["if", "TRUE"]], True),
        ([["unless", "FALSE"]], True),
        ([["if", "FALSE"]], False),
        ([["if", "LOCALHOST"]], None),  # an ACL: lb.acl evaluates it per request
    ],
)
def test_admin_conditions(conditions: list[list[str]], expected: bool | None) -> None:
    assert admin_static(settings(admin=conditions)) is expected


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ([], True),  # not a browser: no cross-site request possible
        ([(b"Host", b"lb:8080"), (b"Origin", b"http://lb:8080")], True),
        ([(b"Host", b"LB:8080"), (b"Origin", b"https://lb:8080")], True),
        ([(b"Host", b"lb:8080"), (b"Referer", b"http://lb:8080/haproxy?stats")], True),
        ([(b"Host", b"lb:8080"), (b"Origin", b"http://evil.example")], False),
        ([(b"Host", b"lb:8080"), (b"Referer", b"http://evil.example/lb:8080")], False),
        ([(b"Host", b"lb:8080"), (b"Origin", b"null")], False),
        ([(b"Origin", b"http://lb:8080")], False),  # no Host to compare with
    ],
)
def test_same_origin(headers: list[tuple[bytes, bytes]], ok: bool) -> None:
    assert same_origin(headers) is ok


ADMIN = settings(admin=[["if", "TRUE"]])
FORM = b"s=s1&s=s2&action=drain&b=%232"
SAME = [(b"Host", b"lb:8080"), (b"Origin", b"http://lb:8080")]


def post(
    s: StatsSettings,
    body: bytes,
    source: FixedSource,
    headers: list[tuple[bytes, bytes]],
    sink: object,
) -> tuple[int, bytes]:
    status, hdrs, _ = get(s, URI, source, *headers, method=b"POST", body=body, admin_sink=sink)
    return status, dict((k.lower(), v) for k, v in hdrs.items()).get(b"location", b"")


def test_the_admin_form_sends_commands_to_the_master(source: FixedSource) -> None:
    sent: list[str] = []
    status, location = post(ADMIN, FORM, source, SAME, lambda c: sent.append(c) or True)
    assert (status, location) == (303, b"/haproxy?stats;st=DONE")
    assert sent == ["set server app/s1 state drain", "set server app/s2 state drain"]
    sent.clear()
    post(
        ADMIN, b"s=s1&action=weight&weight=7&b=app", source, SAME, lambda c: sent.append(c) or True
    )
    assert sent == ["set weight app/s1 7"]


def test_a_cross_origin_form_is_refused(source: FixedSource) -> None:
    sent: list[str] = []
    evil = [(b"Host", b"lb:8080"), (b"Origin", b"http://evil.example")]
    status, _ = post(ADMIN, FORM, source, evil, lambda c: sent.append(c) or True)
    assert status == 403 and sent == []


@pytest.mark.parametrize(
    ("s", "body", "sink_ok", "location"),
    [
        (settings(), FORM, True, b";st=DENY"),  # no "stats admin"
        (ADMIN, b"s=s1&action=explode&b=%232", True, b";st=ERRP"),
        (ADMIN, b"s=s1&action=drain&b=nope", True, b";st=ERRP"),
        (ADMIN, b"action=drain&b=%232", True, b";st=NONE"),
        (ADMIN, b"s=s1&s=ghost&action=maint&b=%232", True, b";st=PART"),
        (ADMIN, b"s=s1&action=weight&weight=999&b=%232", True, b";st=ERRP"),
        (ADMIN, FORM, False, b";st=ERRP"),  # the master could not be told
    ],
)
def test_admin_form_outcomes(
    source: FixedSource, s: StatsSettings, body: bytes, sink_ok: bool, location: bytes
) -> None:
    status, loc = post(s, body, source, SAME, lambda c: sink_ok)
    assert status == 303 and loc == URI.encode() + location


def test_admin_decided_by_the_caller(source: FixedSource) -> None:
    sent: list[str] = []
    s = settings(admin=[["if", "LOCALHOST"]])
    _st, loc = post(s, FORM, source, SAME, lambda c: sent.append(c) or True)
    assert loc.endswith(b"st=DENY")  # an ACL nobody evaluated: no admin
    _status, hdrs, _ = get(
        s,
        URI,
        source,
        *SAME,
        method=b"POST",
        body=FORM,
        admin_sink=lambda c: sent.append(c) or True,
        admin_allowed=True,
    )
    assert hdrs[b"location"].endswith(b"st=DONE") and len(sent) == 2


def test_other_methods(source: FixedSource) -> None:
    status, hdrs, _ = get(settings(), URI, source, method=b"DELETE")
    assert status == 405 and hdrs[b"allow"] == b"GET, HEAD, POST"


def test_prometheus_handler(source: FixedSource) -> None:
    status, hdrs, body = handle_prometheus_request(b"GET", b"/metrics?scope=frontend", source)
    h = dict(hdrs)
    assert status == 200 and h[b"Content-Type"].startswith(b"text/plain; version=0.0.4")
    text = body.decode()
    assert "haproxy_frontend_sessions_total" in text and "haproxy_backend_" not in text
    status, _h, _b = handle_prometheus_request(b"POST", b"/metrics", source)
    assert status == 405


def test_history_is_per_shown_proxy(source: FixedSource) -> None:
    source.rig.stats.tick(100.0)
    source.rig.stats.tick(101.0)
    _s, _h, body = get(settings(scope=["app"]), URI + ";history", source)
    data = json.loads(body)
    assert list(data) == ["app"]
    assert set(data["app"]) == {"t", "req_rate", "scur", "err_rate", "p50", "p99"}
