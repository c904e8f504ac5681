"""HTTP check requests and verdicts, without sockets."""

from __future__ import annotations

import hashlib

import pytest

from lb.config.model import HttpCheck, HttpCheckExpect
from lb.master.health.httpcheck import (
    BadResponse,
    KeepalivedUrl,
    Response,
    haproxy_request,
    haproxy_verdict,
    keepalived_request,
    keepalived_verdict,
    parse_response,
    status_in,
)
from lb.stats.server_state import CheckStatus

# What HAProxy 2.6 sent (captured at a listening socket) for the same settings.
REQUESTS = [
    (HttpCheck(enabled=True), b"OPTIONS / HTTP/1.0\r\n\r\n"),
    (
        HttpCheck(
            enabled=True,
            method="GET",
            uri="/health",
            version="HTTP/1.1",
            headers=[("Host", "example.com"), ("X-A", "b")],
            body="hello",
        ),
        b"GET /health HTTP/1.1\r\nhost: example.com\r\nx-a: b\r\ncontent-length: 5\r\n"
        b"connection: close\r\n\r\nhello",
    ),
    (
        HttpCheck(enabled=True, method="HEAD", uri="/x", headers=[("Connection", "keep-alive")]),
        b"HEAD /x HTTP/1.0\r\nconnection: keep-alive\r\n\r\n",
    ),
    (
        HttpCheck(enabled=True, version="HTTP/1.1"),
        b"OPTIONS / HTTP/1.1\r\nconnection: close\r\n\r\n",
    ),
]


@pytest.mark.parametrize(("check", "wire"), REQUESTS)
def test_haproxy_request_bytes(check: HttpCheck, wire: bytes) -> None:
    assert haproxy_request(check) == wire


def test_keepalived_request_bytes() -> None:
    assert keepalived_request("/status", "10.0.0.1:80") == (
        b"GET /status HTTP/1.0\r\nHost: 10.0.0.1:80\r\nUser-Agent: KeepAliveClient\r\n\r\n"
    )
    assert keepalived_request("/", "h", "1.1").startswith(b"GET / HTTP/1.1\r\n")
    assert b"Connection: close\r\n" in keepalived_request("/", "h", "1.0C")


# (bytes received, at EOF, expected response or None for "need more")
PARSES = [
    (b"HTTP/1.0 200 OK\r\n\r\nhello", True, Response(200, b"hello", True, "OK")),
    (b"HTTP/1.0 200 OK\r\n\r\nhel", False, Response(200, b"hel", False, "OK")),
    (
        b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy",
        False,
        Response(503, b"busy", True, "Busy"),
    ),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nbusy",
        False,
        Response(200, b"busy", False, "OK"),
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        False,
        Response(200, b"abcde", True, "OK"),
    ),
    (b"HTTP/1.1 204 No Content\r\n\r\n", False, Response(204, b"", True, "No Content")),
    (b"HTTP/1.1 200", False, None),
    (b"HTTP/1.0 302 Found\nLocation: /\n\n", True, Response(302, b"", True, "Found")),
]


@pytest.mark.parametrize(("data", "eof", "expected"), PARSES)
def test_parse_response(data: bytes, eof: bool, expected: Response | None) -> None:
    assert parse_response(data, eof) == expected


def test_head_answers_end_with_their_head() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    assert parse_response(data, False, no_body=True) == Response(200, b"", True, "OK")


@pytest.mark.parametrize(
    "data",
    [b"SSH-2.0-OpenSSH\r\n", b"HTTP/1.1 20x OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"],
)  # fmt: skip
def test_bad_responses(data: bytes) -> None:
    with pytest.raises(BadResponse):
        parse_response(data, True)


def test_a_response_cut_before_its_head_ends_is_bad() -> None:
    assert parse_response(b"HTTP/1.1 200 OK\r\n", False) is None
    with pytest.raises(BadResponse):
        parse_response(b"HTTP/1.1 200 OK\r\n", True)


def test_l7sts_says_the_reason_phrase_as_haproxy_does() -> None:
    verdict = haproxy_verdict(Response(503, b"", True, "Service Unavailable"), [])
    assert (verdict.status, verdict.info, verdict.shows_code) == (
        CheckStatus.L7STS,
        "Service Unavailable",
        True,
    )
    rule = HttpCheckExpect(match="string", pattern="x")
    verdict = haproxy_verdict(Response(200, b"y", True, "OK"), [rule])
    assert (verdict.info, verdict.shows_code) == ("HTTP content check did not match", False)


def test_status_lists() -> None:
    assert status_in(200, "200") and not status_in(201, "200")
    assert status_in(305, "200,201,300-310") and not status_in(311, "200,201,300-310")


def expect(match: str, pattern: str, negate: bool = False) -> HttpCheckExpect:
    return HttpCheckExpect(match=match, pattern=pattern, negate=negate)  # type: ignore[arg-type]


# (status, body, rules, verdict)
VERDICTS = [
    (200, b"", [], CheckStatus.L7OK),
    (301, b"", [], CheckStatus.L7OK),
    (404, b"", [], CheckStatus.L7STS),
    (503, b"", [], CheckStatus.L7STS),
    (200, b"", [expect("status", "200")], CheckStatus.L7OK),
    (201, b"", [expect("status", "200")], CheckStatus.L7STS),
    (404, b"", [expect("status", "200-499")], CheckStatus.L7OK),
    (503, b"", [expect("status", "5", negate=False)], CheckStatus.L7STS),
    (503, b"", [expect("rstatus", "^5", negate=True)], CheckStatus.L7STS),
    (404, b"", [expect("rstatus", "^5", negate=True)], CheckStatus.L7OK),
    (200, b"all good", [expect("string", "good")], CheckStatus.L7OK),
    (200, b"all bad", [expect("string", "good")], CheckStatus.L7RSP),
    (200, b"SQL Error", [expect("string", "SQL Error", negate=True)], CheckStatus.L7RSP),
    (
        200,
        b"<!--tag:af09--></html>",
        [expect("rstring", "<!--tag:[0-9a-f]*--></html>")],
        CheckStatus.L7OK,
    ),
    (500, b"good", [expect("status", "200"), expect("string", "good")], CheckStatus.L7STS),
    (200, b"bad", [expect("status", "200"), expect("string", "good")], CheckStatus.L7RSP),
]


@pytest.mark.parametrize(("status", "body", "rules", "verdict"), VERDICTS)
def test_haproxy_verdicts(
    status: int, body: bytes, rules: list[HttpCheckExpect], verdict: CheckStatus
) -> None:
    assert haproxy_verdict(Response(status, body, True), rules).status is verdict


BODY = b"<html>ok</html>"
MD5 = hashlib.md5(BODY).hexdigest()


@pytest.mark.parametrize(
    ("status", "body", "url", "verdict"),
    [
        (200, BODY, KeepalivedUrl("/"), CheckStatus.L7OK),
        (299, BODY, KeepalivedUrl("/"), CheckStatus.L7OK),
        (301, BODY, KeepalivedUrl("/"), CheckStatus.L7STS),
        (503, BODY, KeepalivedUrl("/", status_codes=((200, 200), (500, 503))), CheckStatus.L7OK),
        (200, BODY, KeepalivedUrl("/", digest=MD5), CheckStatus.L7OK),
        (200, BODY, KeepalivedUrl("/", digest=MD5.upper()), CheckStatus.L7OK),
        (200, b"changed", KeepalivedUrl("/", digest=MD5), CheckStatus.L7RSP),
        (200, BODY, KeepalivedUrl("/", regex="o+k"), CheckStatus.L7OK),
        (200, BODY, KeepalivedUrl("/", regex="o+k", regex_no_match=True), CheckStatus.L7RSP),
    ],
)
def test_keepalived_verdicts(
    status: int, body: bytes, url: KeepalivedUrl, verdict: CheckStatus
) -> None:
    assert keepalived_verdict(Response(status, body, True), url).status is verdict


def test_a_digest_needs_the_whole_body() -> None:
    url = KeepalivedUrl("/", digest=MD5)
    assert keepalived_verdict(Response(200, BODY[:5], False), url).status is CheckStatus.L7RSP
