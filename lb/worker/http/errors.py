"""lb's own responses, as HAProxy shapes them: small HTML bodies, connection closed.

``errorfile CODE FILE`` replaces one with a whole HTTP response read by the master
(the worker cannot read files after its chroot).
"""

from __future__ import annotations

from lb.acl.answer import MESSAGES

# lb's own answers: HAProxy's built-in messages (one table, shared with the rules' answers)
_OWN = (400, 403, 408, 500, 502, 503, 504)


def default_response(status: int) -> bytes:
    title, text = MESSAGES[status]
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
        self._responses = {code: default_response(code) for code in _OWN}
        self.custom = frozenset(errorfiles or ())  # statuses an errorfile answers
        for code, raw in (errorfiles or {}).items():
            self._responses[code] = raw

    def __getitem__(self, status: int) -> bytes:
        return self._responses[status]
