"""A compiled sample expression: a fetch and its converters, as one callable."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lb.acl import names
from lb.acl.context import Ctx
from lb.acl.converters import Conv, converter_spec
from lb.acl.errors import NotYet, RuleError
from lb.acl.fetches import FETCHES, FetchSpec, Many, One, convert_arg, resolve_args
from lb.acl.runtime import Runtime
from lb.acl.syntax import Call, Expr, parse_whole
from lb.acl.txn import HttpTxn
from lb.acl.values import Value, caster

_SCOPE_NAMES = {"req": "the request", "res": "the response"}


@dataclass(slots=True)
class Sample:
    one: One  # the value, or None
    many: Many | None  # every value (ACLs); None when there is only one
    type: str
    scope: str  # "req", "res" or "any": what it needs to exist
    text: str

    def values(self) -> Callable[[HttpTxn, Runtime], Iterable[Value]]:
        many = self.many
        if many is not None:
            return many
        one = self.one

        def single(t: HttpTxn, r: Runtime) -> Iterable[Value]:
            v = one(t, r)
            return () if v is None else (v,)

        return single


def fetch_spec(name: str, ctx: Ctx) -> FetchSpec:
    if name == "hdr":  # the only fetch whose meaning depends on the rule's direction
        name = "res.hdr" if ctx.direction == "res" else "req.hdr"
    spec = FETCHES.get(name)
    if spec is not None:
        return spec
    if name in names.FETCHES:
        raise NotYet(name, "sample fetch")
    raise RuleError(f"unknown fetch method '{name}'")


def check_scope(name: str, scope: str, ctx: Ctx) -> None:
    if scope not in ("any", ctx.direction):
        raise RuleError(
            f"fetch '{name}' needs {_SCOPE_NAMES[scope]}, which is not available "
            f"in {_SCOPE_NAMES[ctx.direction]} rules"
        )


def compile_text(text: str, ctx: Ctx) -> Sample:
    return compile_expr(parse_whole(text), ctx)


def compile_expr(expr: Expr, ctx: Ctx, spec: FetchSpec | None = None) -> Sample:
    """``spec`` is given when the caller already resolved the fetch (ACL keywords)."""
    name = expr.fetch.name
    if spec is None:
        spec = fetch_spec(name, ctx)
        check_scope(name, spec.scope, ctx)
    args = resolve_args(name, spec, expr.fetch.args, ctx)
    one, many = spec.build(args, ctx)
    sample_type = spec.out
    convs: list[Conv] = []
    for call in expr.converters:
        conv, sample_type = compile_converter(call, sample_type, ctx)
        convs.append(conv)
    if convs:
        one, many = _chain(one, many, convs)
    return Sample(one, many, sample_type, spec.scope, expr.text)


def compile_converter(call: Call, in_type: str, ctx: Ctx) -> tuple[Conv, str]:
    spec = converter_spec(call.name)
    if spec is None:
        if call.name in names.CONVERTERS:
            raise NotYet(call.name, "converter")
        raise RuleError(f"unknown converter '{call.name}'")
    raw = call.args or []
    if len(raw) < spec.required:
        raise RuleError(f"converter '{call.name}' expects at least {spec.required} argument(s)")
    if len(raw) > len(spec.args):
        raise RuleError(f"converter '{call.name}': unexpected argument '{raw[len(spec.args)]}'")
    for kind, text in zip(spec.args, raw, strict=False):
        if kind == "int":
            convert_arg(call.name, kind, text, ctx)
    conv = spec.build(raw, ctx)
    cast = caster(in_type, spec.takes)
    if cast is not None:
        inner = conv

        def conv(v: Value) -> Value | None:
            c = cast(v)
            return None if c is None else inner(c)

    return conv, spec.out


def _chain(one: One, many: Many | None, convs: list[Conv]) -> tuple[One, Many | None]:
    def apply(v: Value | None) -> Value | None:
        for c in convs:
            if v is None:
                return None
            v = c(v)
        return v

    if len(convs) == 1:
        only = convs[0]

        def one_conv(t: HttpTxn, r: Runtime) -> Value | None:
            v = one(t, r)
            return None if v is None else only(v)

    else:

        def one_conv(t: HttpTxn, r: Runtime) -> Value | None:
            return apply(one(t, r))

    if many is None:
        return one_conv, None
    inner_many = many

    def many_conv(t: HttpTxn, r: Runtime) -> list[Value]:
        out = []
        for v in inner_many(t, r):
            c = apply(v)
            if c is not None:
                out.append(c)
        return out

    return one_conv, many_conv
