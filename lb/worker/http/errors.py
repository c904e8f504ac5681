"""lb's own responses, as HAProxy shapes them: small HTML bodies, connection closed.

``errorfile CODE FILE`` replaces one with a whole HTTP response read by the master
(the worker cannot read files after its chroot).
"""

from __future__ import annotations

_MESSAGES = {
    400: (b"Bad request", b"Your browser sent an invalid request."),
    403: (b"Forbidden", b"Request forbidden by administrative rules."),
    408: (b"Request Time-out", b"Your browser didn't send a complete request in time."),
    500: (b"Internal Server Error", b"An internal server error occurred."),
    502: (b"Bad Gateway", b"The server returned an invalid or incomplete response."),
    503: (b"Service Unavailable", b"No server is available to handle this request."),
    504: (b"Gateway Time-out", b"The server didn't respond in time."),
}


def default_response(status: int) -> bytes:
    title, text = _MESSAGES[status]
    body = b"<html><body><h1>%d %s</h1>\n%s\n</body></html>\n" % (status, title, text)
    return (
        b"HTTP/1.1 %d %s\r\n"
        b"content-length: %d\r\n"
        b"cache-control: no-cache\r\n"
        b"content-type: text/html\r\n"
        b"connection: close\r\n"
        b"\r\n" % (status, title, len(body))
    ) + body


class ErrorResponses:
    """Status → the bytes to send; errorfiles override the defaults."""

    __slots__ = ("_responses", "custom")

    def __init__(self, errorfiles: dict[int, bytes] | None = None) -> None:
        self._responses = {code: default_response(code) for code in _MESSAGES}
        self.custom = frozenset(errorfiles or ())  # statuses an errorfile answers
        for code, raw in (errorfiles or {}).items():
            self._responses[code] = raw

    def __getitem__(self, status: int) -> bytes:
        return self._responses[status]
