"""Actions that rewrite the request or the response in place: headers, path,
query, URI, method."""

from __future__ import annotations

from collections.abc import Callable

from lb.acl.context import Ctx
from lb.acl.converters import substitution
from lb.acl.errors import RuleError
from lb.acl.headers import value_spans
from lb.acl.logformat import Render, compile_format
from lb.acl.outcome import Action, Builder, Outcome, arity, header_name
from lb.acl.patterns import compile_regex
from lb.acl.runtime import Runtime
from lb.acl.txn import HttpTxn, path_start


class Side:
    """Which header list a header action changes: the request's or the response's."""

    def __init__(self, response: bool) -> None:
        self.response = response

    def get(self, t: HttpTxn) -> list[tuple[bytes, bytes]]:
        if self.response:
            if t.resp_headers is None:
                t.resp_headers = []
            return t.resp_headers
        return t.headers

    def changed(self, t: HttpTxn) -> None:
        if self.response:
            t.resp_headers_changed()
        else:
            t.headers_changed()


def set_header(replace: bool) -> Callable[[Side], Builder]:
    def for_side(side: Side) -> Builder:
        def build(args: list[str], ctx: Ctx) -> Action:
            action = "set-header" if replace else "add-header"
            arity(action, args, 2)
            name = header_name(action, args[0])
            low = name.lower()
            value = compile_format(args[1], ctx)

            def run(t: HttpTxn, r: Runtime) -> Outcome:
                v = value(t, r)
                hs = side.get(t)
                if replace:
                    hs[:] = [h for h in hs if h[0].lower() != low]
                hs.append((name, v))
                side.changed(t)
                return None

            return run

        return build

    return for_side


_NAME_MATCH = {"str", "beg", "end", "sub", "reg"}


def del_header(side: Side) -> Builder:
    def build(args: list[str], ctx: Ctx) -> Action:
        if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "-m"):
            raise RuleError("'del-header' expects a header name, then optionally '-m' METHOD")
        method = args[2] if len(args) == 3 else "str"
        if method not in _NAME_MATCH:
            raise RuleError(f"'del-header': -m with unsupported matching method '{method}'")
        pattern = args[0].lower().encode()
        gone: Callable[[bytes], bool]
        if method == "str":
            gone = pattern.__eq__
        elif method == "beg":
            gone = lambda n: n.startswith(pattern)  # noqa: E731
        elif method == "end":
            gone = lambda n: n.endswith(pattern)  # noqa: E731
        elif method == "sub":
            gone = lambda n: pattern in n  # noqa: E731
        else:
            search = compile_regex(args[0], True).search
            gone = lambda n: search(n) is not None  # noqa: E731

        def run(t: HttpTxn, r: Runtime) -> Outcome:
            hs = side.get(t)
            kept = [h for h in hs if not gone(h[0].lower())]
            if len(kept) != len(hs):
                hs[:] = kept
                side.changed(t)
            return None

        return run

    return build


def replace_header(per_value: bool) -> Callable[[Side], Builder]:
    """replace-header: a header line whose value the regex finds becomes the format
    (after its \\N references); replace-value: the same for each comma-separated value."""

    def for_side(side: Side) -> Builder:
        def build(args: list[str], ctx: Ctx) -> Action:
            action = "replace-value" if per_value else "replace-header"
            arity(action, args, 3)
            low = header_name(action, args[0]).lower()
            search = compile_regex(args[1], False).search
            fmt = compile_format(args[2], ctx)

            def rewrite(value: bytes, t: HttpTxn, r: Runtime) -> bytes:
                m = search(value)
                if m is None:
                    return value
                return substitution(fmt(t, r))(m)

            def run(t: HttpTxn, r: Runtime) -> Outcome:
                hs = side.get(t)
                changed = False
                for i, (n, v) in enumerate(hs):
                    if n.lower() != low:
                        continue
                    new = _per_value(v, rewrite, t, r) if per_value else rewrite(v, t, r)
                    if new != v:
                        hs[i] = (n, new)
                        changed = True
                if changed:
                    side.changed(t)
                return None

            return run

        return build

    return for_side


def _per_value(
    line: bytes, rewrite: Callable[[bytes, HttpTxn, Runtime], bytes], t: HttpTxn, r: Runtime
) -> bytes:
    out = []
    for a, b in value_spans(line):
        raw = line[a:b]
        stripped = raw.strip(b" \t")
        new = rewrite(stripped, t, r)
        if new is stripped:
            out.append(raw)
        else:
            # as HAProxy: a replaced value also replaces the blanks after its comma
            out.append(new)
    return b",".join(out)


# --------------------------------------------------------------------------- request line


def _one_format(action: str, args: list[str], ctx: Ctx) -> Render:
    arity(action, args, 1)
    return compile_format(args[0], ctx)


def set_path(args: list[str], ctx: Ctx) -> Action:
    fmt = _one_format("set-path", args, ctx)

    def run(t: HttpTxn, r: Runtime) -> Outcome:
        t.set_url(replace_path(t.url, fmt(t, r), keep_query=True))
        return None

    return run


def set_pathq(args: list[str], ctx: Ctx) -> Action:
    fmt = _one_format("set-pathq", args, ctx)

    def run(t: HttpTxn, r: Runtime) -> Outcome:
        t.set_url(replace_path(t.url, fmt(t, r), keep_query=False))
        return None

    return run


def replace_path(url: bytes, new: bytes, keep_query: bool) -> bytes:
    """``url`` with its path (and, unless ``keep_query``, its query) replaced; scheme
    and authority stay. A target without a path ("*") is replaced whole."""
    start = path_start(url)
    q = url.find(b"?")
    if start < 0:
        if url[:1] == b"*" or b"://" not in url:
            return new
        start = q if q >= 0 else len(url)
    tail = url[q:] if keep_query and q >= start else b""
    return url[:start] + new + tail


def set_query(args: list[str], ctx: Ctx) -> Action:
    fmt = _one_format("set-query", args, ctx)

    def run(t: HttpTxn, r: Runtime) -> Outcome:
        new = fmt(t, r)
        url = t.url
        q = url.find(b"?")
        if q >= 0:
            t.set_url(url[: q + 1] + new)
        elif new:
            t.set_url(url + b"?" + new)
        return None

    return run


def set_uri(args: list[str], ctx: Ctx) -> Action:
    fmt = _one_format("set-uri", args, ctx)

    def run(t: HttpTxn, r: Runtime) -> Outcome:
        t.set_url(fmt(t, r))
        return None

    return run


def set_method(args: list[str], ctx: Ctx) -> Action:
    fmt = _one_format("set-method", args, ctx)

    def run(t: HttpTxn, r: Runtime) -> Outcome:
        t.method = fmt(t, r)
        return None

    return run


def replace_part(action: str, whole: bool, with_query: bool) -> Builder:
    def build(args: list[str], ctx: Ctx) -> Action:
        arity(action, args, 2)
        search = compile_regex(args[0], False).search
        fmt = compile_format(args[1], ctx)

        def run(t: HttpTxn, r: Runtime) -> Outcome:
            if whole:
                target = t.url
            else:
                start = path_start(t.url)
                if start < 0:
                    return None
                target = t.url[start:]
                if not with_query:
                    target = target.split(b"?", 1)[0]
            m = search(target)
            if m is None:
                return None
            new = substitution(fmt(t, r))(m)
            if whole:
                t.set_url(new)
            else:
                t.set_url(replace_path(t.url, new, keep_query=not with_query))
            return None

        return run

    return build
