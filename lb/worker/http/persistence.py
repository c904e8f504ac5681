"""Cookie persistence (``cookie NAME insert|rewrite|prefix …`` and ``server … cookie V``).

Pure functions over header lists, compiled once per backend:

- requests: which server the client's cookie names, and the Cookie headers as the
  server must see them (``indirect`` removes lb's cookie in insert mode, ``prefix``
  takes lb's ``V~`` off the server's own cookie);
- responses: the Set-Cookie lines as the client must see them (insert adds
  ``NAME=V; path=/`` unless the client's cookie already named this server; rewrite
  replaces the value of the server's own cookie; prefix puts ``V~`` before it).
"""

from __future__ import annotations

from lb.config.model import CookiePersistence

Headers = list[tuple[bytes, bytes]]

_COOKIE = b"cookie"
_SET_COOKIE = b"set-cookie"
PREFIX_SEPARATOR = b"~"


class Found:
    """What a request's cookie said: the server value it named, and whether it changed
    the request (then ``headers`` is the list to send)."""

    __slots__ = ("headers", "value")

    def __init__(self, value: bytes, headers: Headers | None) -> None:
        self.value = value
        self.headers = headers


class CookieRules:
    """One backend's persistence cookie, compiled."""

    __slots__ = ("insert_tail", "mode", "name", "nocache", "preserve", "strip_request")

    def __init__(self, cfg: CookiePersistence) -> None:
        self.name = cfg.name.encode()
        self.mode = cfg.mode
        self.nocache = cfg.nocache
        self.preserve = cfg.preserve
        # insert + indirect: the cookie is lb's business, the server never sees it
        self.strip_request = cfg.mode == "insert" and cfg.indirect
        tail = b"; path=/"
        if cfg.domains:
            tail += b"; domain=" + cfg.domains[0].encode()
        if cfg.httponly:
            tail += b"; HttpOnly"
        if cfg.secure:
            tail += b"; Secure"
        for attr in cfg.attrs:
            tail += b"; " + attr.encode()
        self.insert_tail = tail

    # ------------------------------------------------------------------ requests

    def find(self, headers: Headers) -> Found | None:
        """The server value the request's cookie names, if it has the cookie."""
        name = self.name
        for i, (hname, hvalue) in enumerate(headers):
            if len(hname) != 6 or hname.lower() != _COOKIE or name not in hvalue:
                continue
            pairs = _split_cookie(hvalue)
            for j, (key, value) in enumerate(pairs):
                if key != name:
                    continue
                return self._found(headers, i, pairs, j, value)
        return None

    def _found(
        self, headers: Headers, index: int, pairs: list[tuple[bytes, bytes]], j: int, value: bytes
    ) -> Found:
        if self.mode == "prefix":
            server, sep, rest = value.partition(PREFIX_SEPARATOR)
            if not sep:
                return Found(value, None)  # not one of ours: the server's cookie as it is
            pairs[j] = (self.name, rest)
            return Found(server, _replace_cookie(headers, index, pairs))
        if self.strip_request:
            del pairs[j]
            return Found(value, _replace_cookie(headers, index, pairs))
        return Found(value, None)

    # ------------------------------------------------------------------ responses

    def response(
        self, headers: Headers, server_value: bytes, client_had_it: bool, status: int = 200
    ) -> Headers:
        """The response headers with the persistence cookie as the client must see it.

        ``server_value`` is the ``cookie`` of the server that answered (empty: none, the
        response is left alone); ``client_had_it``: the request's cookie named it.
        """
        if not server_value or self.mode == "passive":
            return headers
        mode = self.mode
        out: Headers = []
        inserted = False
        for item in headers:
            hname, hvalue = item
            if len(hname) == 10 and hname.lower() == _SET_COOKIE:
                key, sep, rest = hvalue.partition(b"=")
                if sep and key.strip() == self.name:
                    if mode == "insert":
                        if self.preserve:
                            inserted = True  # the server set it: leave the server's
                            out.append(item)
                        continue  # lb's cookie replaces the server's
                    value, semi, attrs = rest.partition(b";")
                    if mode == "rewrite":
                        value = server_value
                    else:  # prefix
                        value = server_value + PREFIX_SEPARATOR + value
                    out.append((hname, self.name + b"=" + value + semi + attrs))
                    continue
            out.append(item)
        if mode == "insert" and not client_had_it and not inserted:
            out.append((b"Set-Cookie", self.name + b"=" + server_value + self.insert_tail))
            if self.nocache and cacheable(status, headers):
                # a shared cache must not hand this client's cookie to others
                out.append((b"Cache-Control", b"private"))
        return out


# Statuses a cache may store without being told (RFC 9110 §15.1, "heuristically cacheable").
_CACHEABLE_STATUS = frozenset((200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501))


def cacheable(status: int, headers: Headers) -> bool:
    """Whether a shared cache would store this response, as HAProxy judges it for
    ``nocache``: an explicit freshness or a validator (Cache-Control public, max-age or
    s-maxage; Expires; Last-Modified), and nothing that forbids storing it."""
    if status not in _CACHEABLE_STATUS:
        return False
    fresh = False
    for name, value in headers:
        lname = name.lower()
        if lname == b"cache-control":
            directives = {d.strip().split(b"=", 1)[0].lower() for d in value.split(b",")}
            if directives & {b"no-cache", b"no-store", b"private"}:
                return False
            if directives & {b"public", b"max-age", b"s-maxage"}:
                fresh = True
        elif lname == b"expires" or lname == b"last-modified":
            fresh = True
    return fresh


def _split_cookie(value: bytes) -> list[tuple[bytes, bytes]]:
    """``a=1; b=2`` → [(b"a", b"1"), (b"b", b"2")] (RFC 6265 cookie-string)."""
    pairs = []
    for part in value.split(b";"):
        key, _, val = part.strip().partition(b"=")
        if key:
            pairs.append((key.strip(), val.strip()))
    return pairs


def _replace_cookie(headers: Headers, index: int, pairs: list[tuple[bytes, bytes]]) -> Headers:
    """``headers`` with the Cookie header at ``index`` rewritten from ``pairs`` (gone if empty)."""
    out = list(headers)
    if pairs:
        out[index] = (headers[index][0], b"; ".join(k + b"=" + v for k, v in pairs))
    else:
        del out[index]
    return out
