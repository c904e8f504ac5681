"""Actions that answer the client themselves: allow, deny, tarpit, return, auth,
redirect."""

from __future__ import annotations

from collections.abc import Callable

from lb.acl.answer import MESSAGES, Answer, message, reason_for
from lb.acl.context import Ctx
from lb.acl.errors import NotYet, RuleError
from lb.acl.logformat import Render, compile_format
from lb.acl.outcome import STOP, Action, Builder, Outcome, arity, header_name
from lb.acl.redirect import compile_redirect
from lb.acl.runtime import Runtime
from lb.acl.txn import HttpTxn


def allow(args: list[str], ctx: Ctx) -> Action:
    arity("allow", args, 0)
    return lambda t, r: STOP


def _response_spec(
    action: str, args: list[str], ctx: Ctx, default: int
) -> Callable[[HttpTxn, Runtime], Answer]:
    """The arguments of return/deny/tarpit: status, content-type, one payload, hdr…"""
    status = default
    content_type: bytes | None = None
    payload: str | None = None
    payload_kind = ""
    hdrs: list[tuple[bytes, Render]] = []
    # "deny" alone or with only deny_status means HAProxy's built-in error message
    only_deny_status = not args or (len(args) == 2 and args[0] == "deny_status")
    i = 0
    while i < len(args):
        w = args[i]
        if w == "default-errorfiles":
            payload_kind = w
            i += 1
            continue
        if i + 1 >= len(args) or (w == "hdr" and i + 2 >= len(args)):
            raise RuleError(f"'{action}': missing argument after '{w}'")
        value = args[i + 1]
        if w in ("status", "deny_status"):
            if not value.isdigit() or not 200 <= int(value) <= 599:
                raise RuleError(f"'{action}': status '{value}' is not a code between 200 and 599")
            status = int(value)
        elif w == "content-type":
            content_type = value.encode()
        elif w in ("errorfile", "file", "lf-file", "string", "lf-string"):
            if payload_kind:
                raise RuleError(f"'{action}': '{payload_kind}' and '{w}' exclude each other")
            payload_kind, payload = w, value
        elif w == "errorfiles":
            raise NotYet("errorfiles", "http-errors sections")
        elif w == "hdr":
            hdrs.append((header_name(action, value).lower(), compile_format(args[i + 2], ctx)))
            i += 3
            continue
        else:
            raise RuleError(f"'{action}': unexpected '{w}'")
        i += 2
    if only_deny_status and action in ("deny", "tarpit"):
        payload_kind = "default-errorfiles"
    if payload_kind == "default-errorfiles":
        if status not in MESSAGES:
            raise RuleError(f"'{action}': status {status} has no built-in error message")
        # a new Answer each time: the session may add to its headers
        return lambda t, r: message(status)
    if payload_kind == "errorfile":
        assert payload is not None
        raw = ctx.read(payload)
        return lambda t, r: Answer(status, [], raw=raw)
    body: Render | None = None
    if payload_kind in ("string", "file"):
        assert payload is not None
        data = payload.encode() if payload_kind == "string" else ctx.read(payload)
        body = lambda t, r: data  # noqa: E731
        if data and content_type is None:
            raise RuleError(f"'{action}': a content-type is needed with a payload")
    elif payload_kind in ("lf-string", "lf-file"):
        assert payload is not None
        text = (
            payload
            if payload_kind == "lf-string"
            else ctx.read(payload).decode("utf-8", "surrogateescape")
        )
        if not text:
            raise RuleError(f"'{action}': '{payload_kind}' expects a format")
        body = compile_format(text, ctx)
        if content_type is None:
            raise RuleError(f"'{action}': a content-type is needed with a payload")
    if status in (204, 304) and body is not None:
        raise RuleError(f"'{action}': no body is allowed in {status} responses")
    reason = reason_for(status)
    no_length = status in (204, 304)

    def build(t: HttpTxn, r: Runtime) -> Answer:
        headers = [(n, f(t, r)) for n, f in hdrs]
        data = b"" if body is None else body(t, r)
        if not no_length:
            headers.append((b"content-length", b"%d" % len(data)))
        if data and content_type is not None:
            headers.append((b"content-type", content_type))
        return Answer(status, headers, data, reason=reason)

    return build


def deny(default: int) -> Builder:
    def build(args: list[str], ctx: Ctx) -> Action:
        make = _response_spec("deny", args, ctx, default)
        return lambda t, r: make(t, r)

    return build


def tarpit(args: list[str], ctx: Ctx) -> Action:
    make = _response_spec("tarpit", args, ctx, 500)

    def tarpit(t: HttpTxn, r: Runtime) -> Outcome:
        a = make(t, r)
        return Answer(a.status, a.headers, a.body, reason=a.reason, tarpit=True, close=True,
                      errorfile=a.errorfile)  # fmt: skip

    return tarpit


def return_(args: list[str], ctx: Ctx) -> Action:
    make = _response_spec("return", args, ctx, 200)
    return lambda t, r: make(t, r)


def auth(args: list[str], ctx: Ctx) -> Action:
    realm = ctx.proxy.name
    if args:
        if args[0] != "realm" or len(args) != 2:
            raise RuleError("'auth' expects nothing or 'realm' and a realm")
        realm = args[1]
    challenge = (b"www-authenticate", b'Basic realm="%s"' % realm.encode())
    return lambda t, r: message(401, [challenge])


def redirect(args: list[str], ctx: Ctx) -> Action:
    redirect = compile_redirect(args, ctx, dynamic=True)
    return lambda t, r: redirect(t, r)


# The services lb has for "http-request use-service": HAProxy's names.
SERVICES = frozenset({"prometheus-exporter"})


def use_service(args: list[str], ctx: Ctx) -> Action:
    """``use-service prometheus-exporter``: the request is answered by that service."""
    arity("use-service", args, 1)
    name = args[0]
    if name not in SERVICES:
        raise RuleError(f"use-service: unknown service '{name}' (lb has: prometheus-exporter)")
    answer = Answer(200, [], service=name)
    return lambda t, r: answer
