"""ACLs: ``acl NAME CRITERION [flags] [operator] VALUE…`` compiled into a test of
one transaction.

Flags come first (``-i`` ``-f FILE`` ``-m METHOD`` ``-n`` ``-M`` ``-u ID`` ``--``);
``-i`` applies to what follows it, files included. Every word after the flags is
a value: several values OR, and lines repeating a name OR too. A sample with
several values (every occurrence of a header) matches when one of them does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lb.acl import names
from lb.acl.context import Ctx
from lb.acl.errors import NotYet, RuleError
from lb.acl.fetches import ACL_KEYWORDS, FETCHES
from lb.acl.patterns import DEFAULT_METHOD, METHOD_INPUT, NO_PATTERN, Pattern, build_matcher
from lb.acl.runtime import Runtime
from lb.acl.sample import Sample, compile_expr, fetch_spec
from lb.acl.syntax import parse_whole
from lb.acl.txn import HttpTxn

Test = Callable[[HttpTxn, Runtime], bool]

# HAProxy's predefined ACLs that make sense for HTTP rules, as ACL lines.
PREDEFINED: dict[str, str] = {
    "TRUE": "always_true",
    "FALSE": "always_false",
    "HTTP": "req.proto_http",
    "HTTP_1.0": "req.ver 1.0",
    "HTTP_1.1": "req.ver 1.1",
    "HTTP_2.0": "req.ver 2.0",
    "HTTP_CONTENT": "req.hdr_val(content-length) gt 0",
    "HTTP_URL_ABS": "url_reg ^[^/:]*://",
    "HTTP_URL_SLASH": "url_beg /",
    "HTTP_URL_STAR": "url *",
    "LOCALHOST": "src 127.0.0.1/8 ::1",
    "METH_CONNECT": "method CONNECT",
    "METH_DELETE": "method DELETE",
    "METH_GET": "method GET HEAD",
    "METH_HEAD": "method HEAD",
    "METH_OPTIONS": "method OPTIONS",
    "METH_POST": "method POST",
    "METH_PUT": "method PUT",
    "METH_TRACE": "method TRACE",
    "WAIT_END": "wait_end",
}
# Predefined too, but about what lb does not look at yet.
PREDEFINED_NOT_YET = {
    "RDP_COOKIE": "the request buffer's RDP cookie (tcp-request content)",
    "REQ_CONTENT": "the request buffer's contents (req.len)",
}


@dataclass(slots=True)
class Term:
    """One ACL line: its test, and what it needs (for rules that cannot see it)."""

    test: Test
    scope: str  # "req", "res", "any"
    text: str


def compile_acl_words(words: list[str], ctx: Ctx) -> Term:
    if not words:
        raise RuleError("an ACL needs a criterion (a fetch method)")
    expr = parse_whole(words[0])
    name = expr.fetch.name
    keyword = ACL_KEYWORDS.get(name)
    if keyword is not None:
        fetch_name, method = keyword
        spec = FETCHES[fetch_name]
        if expr.converters:
            method = ""  # the keyword's method gives way to the converters' output type
    else:
        if name in names.ACL_KEYWORDS:
            raise NotYet(name, "ACL keyword")
        spec = fetch_spec(name, ctx)
        method = ""
    sample = compile_expr(expr, ctx, spec)
    explicit, patterns, no_dns = _flags_and_values(words[1:], ctx)
    if explicit:
        method = explicit
    if method == "group":
        return _group_term(expr.fetch.args or [], patterns, sample, ctx)
    if not method:
        method = DEFAULT_METHOD.get(sample.type, "")
        if not method:
            raise RuleError(
                f"'{words[0]}' gives a sample of type '{sample.type}': "
                "give a matching method with '-m'"
            )
    if method == "meth" and sample.type != "meth":
        method = "str"
    if not patterns and method not in NO_PATTERN:
        ctx.warn(f"ACL criterion '{words[0]}' has no pattern to match, so it never matches")
        return Term(lambda t, r: False, spec.scope, words[0])
    match = build_matcher(method, patterns, sample.type, no_dns)
    return Term(_test(sample, match, method), sample.scope, words[0])


def _flags_and_values(words: list[str], ctx: Ctx) -> tuple[str, list[Pattern], bool]:
    method = ""
    icase = False
    no_dns = False
    patterns: list[Pattern] = []
    loaded = False
    i = 0
    while i < len(words) and words[i].startswith("-"):
        flag = words[i]
        if flag == "--":
            i += 1
            break
        if flag == "-i":
            icase = True
        elif flag == "-n":
            no_dns = True
        elif flag in ("-f", "-m", "-u"):
            if i + 1 >= len(words):
                raise RuleError(f"ACL flag '{flag}' expects an argument")
            value = words[i + 1]
            i += 1
            if flag == "-f":
                patterns.extend(Pattern(line, icase) for line in ctx.pattern_lines(value))
                loaded = True
            elif flag == "-m":
                if patterns or loaded:
                    raise RuleError("'-m' must come before the values and the '-f' files")
                if value not in METHOD_INPUT or value == "meth":
                    raise RuleError(f"unknown matching method '{value}' after '-m'")
                method = value
            # -u sets the ACL's id for the runtime API, which lb does not have
        elif flag == "-M":
            raise NotYet("-M", "ACL pattern files read as maps")
        else:
            raise RuleError(
                f"'{flag}' is not an ACL flag (write '--' before a value that starts with '-')"
            )
        i += 1
    patterns.extend(Pattern(w, icase) for w in words[i:])
    return method, patterns, no_dns


def _test(sample: Sample, match: Callable[..., bool], method: str) -> Test:
    if method == "found":
        if sample.many is None:
            one = sample.one
            return lambda t, r: one(t, r) is not None
        many = sample.many
        return lambda t, r: any(True for _ in many(t, r))
    if sample.many is None:
        one = sample.one

        def single(t: HttpTxn, r: Runtime) -> bool:
            v = one(t, r)
            return v is not None and match(v)

        return single
    many = sample.many

    def each(t: HttpTxn, r: Runtime) -> bool:
        for v in many(t, r):  # noqa: SIM110 (a plain loop: cheaper than any() on the hot path)
            if match(v):
                return True
        return False

    return each


def _group_term(args: list[str], patterns: list[Pattern], sample: Sample, ctx: Ctx) -> Term:
    """``http_auth_group(L) G1 G2``: valid credentials of a user in one of the groups."""
    userlist = ctx.userlist(args[0]) if args else None
    if userlist is None:
        raise RuleError("'http_auth_group' expects a userlist")
    for p in patterns:
        if p.text not in userlist.groups:
            raise RuleError(f"'http_auth_group({args[0]})': no group '{p.text}' in the userlist")
    member = userlist.user_in_groups(frozenset(p.text for p in patterns))
    one = sample.one

    def test(t: HttpTxn, r: Runtime) -> bool:
        user = one(t, r)
        return user is not None and member(user)  # type: ignore[arg-type]

    return Term(test, sample.scope, "http_auth_group")


class BrokenAcl(RuleError):
    """A condition names an ACL whose line was already reported as wrong."""


class AclTable:
    """The named ACLs of one proxy: lines gathered by name, compiled per direction on
    first use (a condition in a response rule cannot see request-only fetches)."""

    def __init__(self) -> None:
        self._lines: dict[str, list[tuple[list[str], Ctx]]] = {}
        self._compiled: dict[tuple[str, str], Test] = {}
        self.broken: set[str] = set()  # names with a line that could not compile

    def add(self, name: str, words: list[str], ctx: Ctx) -> None:
        self._lines.setdefault(name, []).append((words, ctx))

    def lookup(self, name: str, ctx: Ctx) -> Test:
        if name in self.broken:
            raise BrokenAcl(f"ACL '{name}' is not usable")
        key = (name, ctx.direction)
        test = self._compiled.get(key)
        if test is None:
            lines = self._lines.get(name)
            test = _predefined(name, ctx) if lines is None else self._named(name, lines, ctx)
            self._compiled[key] = test
        return test

    def _named(self, name: str, lines: list[tuple[list[str], Ctx]], ctx: Ctx) -> Test:
        terms = [compile_acl_words(w, c.at(c.source, ctx.direction)) for w, c in lines]
        usable = [t.test for t in terms if t.scope in ("any", ctx.direction)]
        if not usable:
            where = "response" if ctx.direction == "res" else "request"
            ctx.warn(f"ACL '{name}' never matches in {where} rules: what it tests is not there")
            return lambda t, r: False
        return any_of(usable)


def any_of(tests: list[Test]) -> Test:
    """The lines of one ACL OR together; a plain closure per size, as this runs for
    every request."""
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda t, r: first(t, r) or second(t, r)
    frozen = tuple(tests)

    def each(t: HttpTxn, r: Runtime) -> bool:
        for test in frozen:  # noqa: SIM110 (cheaper than any() per request)
            if test(t, r):
                return True
        return False

    return each


def _predefined(name: str, ctx: Ctx) -> Test:
    line = PREDEFINED.get(name)
    if line is None:
        if name in PREDEFINED_NOT_YET:
            raise NotYet(name, PREDEFINED_NOT_YET[name])
        raise RuleError(f"no ACL named '{name}'")
    if name == "TRUE":
        return lambda t, r: True
    if name == "FALSE":
        return lambda t, r: False
    term = compile_acl_words(line.split(), ctx.at(ctx.source, "req"))
    if term.scope not in ("any", ctx.direction):
        return lambda t, r: False
    return term.test
