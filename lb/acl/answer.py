"""``Answer``: a response the rules produce themselves (deny, tarpit, auth,
redirect, return), and its bytes as HAProxy 2.6 writes them.

HAProxy writes header names in lower case and always answers ``HTTP/1.1``; a
client that keeps the connection alive keeps it after a deny, an auth challenge,
a redirect or a return, while a tarpit closes it.
"""

from __future__ import annotations

# The status line reason HAProxy gives each status it writes itself.
REASONS: dict[int, bytes] = {
    200: b"OK", 201: b"Created", 202: b"Accepted", 203: b"Non-Authoritative Information",
    204: b"No Content", 205: b"Reset Content", 206: b"Partial Content", 207: b"Multi-Status",
    226: b"IM Used", 300: b"Multiple Choices", 301: b"Moved Permanently",
    302: b"Moved Temporarily", 303: b"See Other", 304: b"Not Modified", 305: b"Use Proxy",
    306: b"Redirection", 307: b"Temporary Redirect", 308: b"Permanent Redirect",
    400: b"Bad Request", 401: b"Unauthorized", 402: b"Payment Required", 403: b"Forbidden",
    404: b"Not Found", 405: b"Method Not Allowed", 406: b"Not Acceptable",
    407: b"Proxy Authentication Required", 408: b"Request Time-out", 409: b"Conflict",
    410: b"Gone", 411: b"Length Required", 412: b"Precondition Failed",
    413: b"Request Entity Too Large", 414: b"Request-URI Too Long",
    415: b"Unsupported Media Type", 416: b"Requested range unsatisfiable",
    417: b"Expectation failed", 418: b"I'm a teapot", 421: b"Misdirected Request",
    422: b"Unprocessable Content", 425: b"Too Early", 426: b"Upgrade Required",
    428: b"Precondition Required", 429: b"Too Many Requests",
    431: b"Request Header Fields Too Large", 451: b"Unavailable For Legal Reasons",
    500: b"Internal Server Error", 501: b"Not Implemented", 502: b"Bad Gateway or Proxy Error",
    503: b"Service Unavailable", 504: b"Gateway Time-out", 505: b"HTTP Version not supported",
    506: b"Variant also negotiate", 507: b"Insufficient storage", 508: b"Loop detected",
    510: b"Not extended", 511: b"Network authentication required",
}  # fmt: skip
_CLASS_REASONS = {
    1: b"Informational",
    2: b"Success",
    3: b"Redirection",
    4: b"client has closed connection",
    5: b"Server Error",
}

# Redirects use the RFC names.
REDIRECT_REASONS = {
    301: b"Moved Permanently",
    302: b"Found",
    303: b"See Other",
    307: b"Temporary Redirect",
    308: b"Permanent Redirect",
}

# HAProxy's built-in error messages: (title, text) of the HTML body.
MESSAGES: dict[int, tuple[bytes, bytes]] = {
    200: (b"OK", b"Service ready."),
    400: (b"Bad request", b"Your browser sent an invalid request."),
    401: (b"Unauthorized", b"You need a valid user and password to access this content."),
    403: (b"Forbidden", b"Request forbidden by administrative rules."),
    404: (b"Not Found", b"The resource could not be found."),
    405: (
        b"Method Not Allowed",
        b"A request was made of a resource using a request method not supported by that resource",
    ),
    407: (b"Unauthorized", b"You need a valid user and password to access this content."),
    408: (b"Request Time-out", b"Your browser didn't send a complete request in time."),
    410: (b"Gone", b"The resource is no longer available and will not be available again."),
    413: (b"Payload Too Large", b"The request entity exceeds the maximum allowed."),
    425: (b"Too Early", b"Your browser sent early data."),
    429: (b"Too Many Requests", b"You have sent too many requests in a given amount of time."),
    500: (b"Internal Server Error", b"An internal server error occurred."),
    501: (
        b"Not Implemented",
        b".The server does not support the functionality required to fulfill the request.",
    ),
    502: (b"Bad Gateway", b"The server returned an invalid or incomplete response."),
    503: (b"Service Unavailable", b"No server is available to handle this request."),
    504: (b"Gateway Time-out", b"The server didn't respond in time."),
}  # fmt: skip


def reason_for(status: int) -> bytes:
    return REASONS.get(status) or _CLASS_REASONS.get(status // 100, b"Other")


class Answer:
    """A response made by a rule. ``headers`` are final (content-length included);
    ``render`` only adds the connection header the client needs."""

    __slots__ = (
        "body",
        "close",
        "errorfile",
        "headers",
        "raw",
        "reason",
        "service",
        "status",
        "tarpit",
    )

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes = b"",
        *,
        reason: bytes | None = None,
        tarpit: bool = False,
        close: bool = False,
        errorfile: bool = False,
        raw: bytes | None = None,
        service: str = "",
    ) -> None:
        self.status = status
        self.reason = reason_for(status) if reason is None else reason
        self.headers = headers
        self.body = body
        self.tarpit = tarpit  # hold the client for "timeout tarpit" before answering
        self.close = close  # close the connection after answering
        # True for HAProxy's built-in messages (deny, tarpit, auth): an "errorfile"
        # for this status in the proxy replaces the whole response
        self.errorfile = errorfile
        self.raw = raw  # a whole HTTP response read from a file ("return errorfile F")
        # "use-service NAME": the session hands the request to that service instead
        self.service = service

    def render(self, version: str = "1.1", keep_alive: bool = True) -> bytes:
        """The response bytes for a client that spoke HTTP/``version`` and wants
        (``keep_alive``) to keep its connection."""
        if self.raw is not None:
            return self.raw
        out = [b"HTTP/1.1 %d %s\r\n" % (self.status, self.reason)]
        out.extend(b"%s: %s\r\n" % (n, v) for n, v in self.headers)
        if self.close or not keep_alive:
            out.append(b"connection: close\r\n")
        elif version == "1.0":
            out.append(b"connection: keep-alive\r\n")
        out.append(b"\r\n")
        out.append(self.body)
        return b"".join(out)

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.headers!r}, {self.body!r})"


def message(status: int, extra: list[tuple[bytes, bytes]] | None = None) -> Answer:
    """HAProxy's built-in message for ``status`` (one of MESSAGES)."""
    title, text = MESSAGES[status]
    body = b"<html><body><h1>%d %s</h1>\n%s\n</body></html>\n" % (status, title, text)
    headers = [
        (b"content-length", b"%d" % len(body)),
        (b"cache-control", b"no-cache"),
        (b"content-type", b"text/html"),
    ]
    if extra:
        headers.extend(extra)
    return Answer(status, headers, body, reason=title, errorfile=True)
