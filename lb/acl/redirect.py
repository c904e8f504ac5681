"""Redirects: ``redirect location|prefix|scheme TO [code N] [options]`` and the same
after ``http-request redirect`` (where TO is a log-format string)."""

from __future__ import annotations

from collections.abc import Callable

from lb.acl.answer import REDIRECT_REASONS, Answer
from lb.acl.context import Ctx
from lb.acl.errors import RuleError
from lb.acl.headers import first_line
from lb.acl.logformat import compile_format
from lb.acl.runtime import Runtime
from lb.acl.txn import HttpTxn, path_start

Redirect = Callable[[HttpTxn, Runtime], Answer | None]

_OPTIONS = (
    "'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', "
    "'ignore-empty' or 'append-slash'"
)


def compile_redirect(words: list[str], ctx: Ctx, dynamic: bool) -> Redirect:
    """``words``: what follows "redirect" (condition removed). ``dynamic``: TO is a
    log-format string (http-request/http-response redirect)."""
    kind = target = ""
    code = 302
    drop_query = append_slash = ignore_empty = False
    cookie: bytes | None = None
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("location", "prefix", "scheme", "code", "set-cookie", "clear-cookie"):
            if i + 1 >= len(words):
                raise RuleError(f"missing argument for '{w}'")
            value = words[i + 1]
            i += 2
            if w == "code":
                if value not in ("301", "302", "303", "307", "308"):
                    raise RuleError(
                        f"'code': unsupported HTTP code '{value}' (301, 302, 303, 307 or 308)"
                    )
                code = int(value)
            elif w == "set-cookie":
                cookie = value.encode() + b"; path=/;"
            elif w == "clear-cookie":
                cookie = value.encode() + b"; path=/; Max-Age=0;"
            else:
                kind, target = w, value
            continue
        if w == "drop-query":
            drop_query = True
        elif w == "append-slash":
            append_slash = True
        elif w == "ignore-empty":
            ignore_empty = True
        else:
            raise RuleError(f"expects {_OPTIONS} (was '{w}')")
        i += 1
    if not kind:
        raise RuleError("a redirect needs 'location', 'prefix' or 'scheme'")
    if dynamic:
        render = compile_format(target, ctx)
    else:
        static = target.encode()

        def render(t: HttpTxn, r: Runtime) -> bytes:
            return static

    build = _LOCATIONS[kind](drop_query)
    reason = REDIRECT_REASONS[code]
    cacheable = code in (301, 308)

    def redirect(t: HttpTxn, r: Runtime) -> Answer | None:
        to = render(t, r)
        if ignore_empty and not to:
            return None
        location = build(to, t)
        if append_slash and not location.endswith(b"/"):
            location += b"/"
        headers = [(b"content-length", b"0"), (b"location", location)]
        if not cacheable:
            headers.append((b"cache-control", b"no-cache"))
        if cookie is not None:
            headers.append((b"set-cookie", cookie))
        return Answer(code, headers, reason=reason)

    return redirect


def _request_path(t: HttpTxn, drop_query: bool) -> bytes:
    start = path_start(t.url)
    if start < 0:
        return b""
    if drop_query:
        q = t.url.find(b"?", start)
        return t.url[start:q] if q >= 0 else t.url[start:]
    return t.url[start:]


def _location(drop_query: bool) -> Callable[[bytes, HttpTxn], bytes]:
    return lambda to, t: to


def _prefix(drop_query: bool) -> Callable[[bytes, HttpTxn], bytes]:
    def build(to: bytes, t: HttpTxn) -> bytes:
        path = _request_path(t, drop_query)
        # "/" alone means "the same URL", not "/" in front of it
        return path if to == b"/" else to + path

    return build


def _scheme(drop_query: bool) -> Callable[[bytes, HttpTxn], bytes]:
    def build(to: bytes, t: HttpTxn) -> bytes:
        host = first_line(t.headers, t.names(), b"host") or b""
        path = _request_path(t, drop_query)
        if not path or path == b"*":
            path = b"/"
        return to + b"://" + host + path

    return build


_LOCATIONS = {"location": _location, "prefix": _prefix, "scheme": _scheme}
