"""The generator's response reader, fed every way a stream can be cut, and its requests."""

import pytest

from lb.bench.httpwire import BadResponse, ResponseReader, Target, build_requests

KEEP = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n"
)
NOT_FOUND_CLOSE = b"HTTP/1.1 404 Not Found\r\nconnection: Close\r\ncontent-length:3\r\n\r\nnop"
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n"
INTERIM = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
HTTP10 = b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"
HTTP10_KEEP = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"
ZERO = b"HTTP/1.1 304 Not Modified\r\n\r\n" + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def feed_split(
    stream: bytes, cut: list[int], head_only: bool = False
) -> list[tuple[int, int, bool]]:
    got: list[tuple[int, int, bool]] = []
    r = ResponseReader(lambda s, b, c: got.append((s, b, c)), head_only)
    pos = 0
    for c in [*cut, len(stream)]:
        r.feed(stream[pos:c])
        pos = c
    assert not r.busy()
    return got


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (KEEP, [(200, 5, False)]),
        (CHUNKED, [(200, 31, False)]),
        (NOT_FOUND_CLOSE, [(404, 3, True)]),
        (NO_CONTENT, [(204, 0, False)]),
        (INTERIM, [(201, 2, False)]),
        (HTTP10, [(200, 1, True)]),
        (HTTP10_KEEP, [(200, 1, False)]),
        (ZERO, [(304, 0, False), (200, 0, False)]),
        (KEEP + CHUNKED + KEEP, [(200, 5, False), (200, 31, False), (200, 5, False)]),
    ],
)
def test_every_single_cut_gives_the_same_responses(
    stream: bytes, expected: list[tuple[int, int, bool]]
) -> None:
    assert feed_split(stream, []) == expected
    for i in range(len(stream) + 1):
        assert feed_split(stream, [i]) == expected, i
    assert feed_split(stream, list(range(1, len(stream)))) == expected  # a byte at a time


def test_head_requests_have_no_body_whatever_the_length_says() -> None:
    stream = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" * 2
    assert feed_split(stream, [7], head_only=True) == [(200, 0, False)] * 2


def test_body_until_close() -> None:
    got = []
    r = ResponseReader(lambda s, b, c: got.append((s, b, c)))
    r.feed(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nabc")
    r.feed(b"defg")
    assert got == [] and r.busy()
    assert r.eof() is True
    assert got == [(200, 7, True)]
    assert r.eof() is False  # nothing pending any more


def test_eof_in_the_middle_is_bad() -> None:
    r = ResponseReader(lambda s, b, c: None)
    r.feed(KEEP[:-2])
    with pytest.raises(BadResponse, match="middle"):
        r.eof()


@pytest.mark.parametrize(
    "stream",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000,
    ],
)
def test_bad_responses(stream: bytes) -> None:
    r = ResponseReader(lambda s, b, c: None)
    with pytest.raises(BadResponse):
        r.feed(stream)


def test_requests_are_built_once_per_path() -> None:
    t = Target.from_urls(["http://127.0.0.1:8080/a?s=1", "http://127.0.0.1:8080/b"])
    assert (t.host, t.port, t.paths) == ("127.0.0.1", 8080, ["/a?s=1", "/b"])
    keep = build_requests(t)
    assert keep[0] == b"GET /a?s=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
    close = build_requests(t, close=True, headers=["X-A: 1"], method="HEAD")
    assert (
        close[1]
        == b"HEAD /b HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\nX-A: 1\r\n\r\n"
    )
    own_host = build_requests(Target.from_urls(["http://[::1]/"]), headers=["Host: x"])
    assert own_host == [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ([], "no URL"),
        (["https://x/"], "only http"),
        (["http:///x"], "no host"),
        (["http://a:1/", "http://b:1/"], "same|every URL"),
        (["http://a:99999/"], "out of range|Port"),
    ],
)
def test_bad_urls(urls: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Target.from_urls(urls)
