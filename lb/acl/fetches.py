"""Sample fetches: what a rule can read from the request, the response and the
proxy's state.

Each fetch has a ``one`` form (the value a sample expression uses: for headers,
the last occurrence) and, when it can see several values, a ``many`` form that
ACLs iterate over until one matches (every occurrence of a header, every URL
parameter of a name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lb.acl import headers as h
from lb.acl import payload
from lb.acl.context import Ctx
from lb.acl.errors import NotYet, RuleError
from lb.acl.runtime import Runtime
from lb.acl.txn import HttpTxn, path_start
from lb.acl.values import Value, to_int, to_ip
from lb.sticktable import fetches as sticktable_fetches

One = Callable[[HttpTxn, Runtime], Value | None]
Many = Callable[[HttpTxn, Runtime], Iterable[Value]]
Built = tuple[One, Many | None]

_VAR_NAME = re.compile(r"(txn|req|res|sess|proc)\.[A-Za-z0-9_.]+")


@dataclass(frozen=True, slots=True)
class FetchSpec:
    out: str  # sample type
    scope: str  # "req": needs the request; "res": the response; "any"
    args: tuple[str, ...]  # argument kinds: str, int, backend, server, userlist, var
    required: int
    build: Callable[[list[Any], Ctx], Built]


# --------------------------------------------------------------------------- arguments


def resolve_args(name: str, spec: FetchSpec, raw: list[str] | None, ctx: Ctx) -> list[Any]:
    given = raw or []
    if len(given) < spec.required:
        kinds = ", ".join(spec.args[: spec.required])
        raise RuleError(f"fetch '{name}' expects {spec.required} argument(s) ({kinds})")
    if len(given) > len(spec.args):
        extra = given[len(spec.args)]
        if not spec.args:
            raise RuleError(f"fetch '{name}' takes no argument, got '{extra}'")
        raise RuleError(f"fetch '{name}': unexpected argument '{extra}'")
    out: list[Any] = []
    for kind, text in zip(spec.args, given, strict=False):
        out.append(convert_arg(name, kind, text, ctx))
    return out


def convert_arg(owner: str, kind: str, text: str, ctx: Ctx) -> Any:
    if kind == "str":
        return text
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise RuleError(f"'{owner}': '{text}' is not an integer") from None
    if kind == "backend":
        if text not in ctx.backend_names():
            raise RuleError(f"'{owner}': no backend named '{text}'")
        return text
    if kind == "server":
        backend, slash, server = text.rpartition("/")
        if not slash:
            backend = ctx.proxy.name
        names = ctx.server_names(backend)
        if names is None:
            raise RuleError(f"'{owner}': no backend named '{backend}'")
        if server not in names:
            raise RuleError(f"'{owner}': no server '{server}' in backend '{backend}'")
        return backend, server
    if kind == "userlist":
        return ctx.userlist(text)
    if kind == "var":
        return var_name(text)
    raise AssertionError(kind)


def var_name(text: str) -> str:
    if not _VAR_NAME.fullmatch(text):
        raise RuleError(
            f"invalid variable name '{text}': a scope (txn, req, res, sess, proc), "
            "a dot, then letters, digits and '_'"
        )
    if text.startswith(("sess.", "proc.")):
        raise NotYet(text, "variables of scope sess and proc; use txn")
    return text


# --------------------------------------------------------------------------- request line


def _path(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.path()), None


def _query(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.query()), None


def _url(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.url), None


def _pathq_of(t: HttpTxn) -> bytes | None:
    start = path_start(t.url)
    return None if start < 0 else t.url[start:]


def _pathq(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: _pathq_of(t)), None


def _host(t: HttpTxn) -> bytes:
    return h.first_line(t.headers, t.names(), b"host") or b""


def _base(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: _host(t) + (t.path() or b"")), None


def _baseq(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: _host(t) + (_pathq_of(t) or b"")), None


_PARAM_SPLIT = re.compile(b"[&;]").split


def url_params(
    url: bytes, delim: bytes = b"", split: Callable[[bytes], list[bytes]] = _PARAM_SPLIT
) -> list[tuple[bytes, bytes]]:
    """(name, value) of each parameter: the query starts after the first '?' (or the
    delimiter), parameters end at '&', ';' or the delimiter (``split`` knows them);
    one without '=' has no value and is not reported (as in HAProxy)."""
    q = url.find(b"?")
    if delim:
        d = url.find(delim)
        if d >= 0 and (q < 0 or d < q):
            q = d
    if q < 0:
        return []
    out: list[tuple[bytes, bytes]] = []
    for part in split(url[q + 1 :]):
        name, eq, value = part.partition(b"=")
        if eq:
            out.append((name, value))
    return out


def _urlp(args: list[Any], ctx: Ctx) -> Built:
    name = args[0].encode() if args and args[0] else None
    delim = args[1].encode()[:1] if len(args) > 1 else b""
    split = re.compile(b"[&;" + re.escape(delim) + b"]").split if delim else _PARAM_SPLIT

    def many(t: HttpTxn, r: Runtime) -> list[Value]:
        return [v for n, v in url_params(t.url, delim, split) if name is None or n == name]

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        for n, v in url_params(t.url, delim, split):
            if name is None or n == name:
                return v
        return None

    return one, many


def _urlp_val(args: list[Any], ctx: Ctx) -> Built:
    one, many = _urlp(args, ctx)
    assert many is not None
    return _int_of(one), (lambda t, r: _ints(many(t, r)))


def _method(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.method), None


def _req_ver(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.version.encode()), None


def _constant(value: Value) -> Callable[[list[Any], Ctx], Built]:
    return lambda args, ctx: ((lambda t, r: value), None)


# --------------------------------------------------------------------------- headers


def _req_side(t: HttpTxn) -> tuple[h.HeaderList, list[bytes]]:
    return t.headers, t.names()


def _res_side(t: HttpTxn) -> tuple[h.HeaderList, list[bytes]]:
    return t.resp_headers or [], t.resp_names()


def _hdr(
    full: bool, side: Callable[[HttpTxn], tuple[h.HeaderList, list[bytes]]]
) -> Callable[[list[Any], Ctx], Built]:
    """``hdr``/``fhdr`` (``full``: whole lines) of the request or response."""
    collect = h.lines_of if full else h.values_of

    def build(args: list[Any], ctx: Ctx) -> Built:
        name = args[0].lower().encode() if args and args[0] else None
        occ = args[1] if len(args) > 1 else 0

        def many(t: HttpTxn, r: Runtime) -> list[Value]:
            hs, names = side(t)
            values = collect(hs, names, name)
            if occ:
                v = h.pick(values, occ)
                return [] if v is None else [v]
            return values  # type: ignore[return-value]

        if name is not None and not occ:
            last = h.last_line if full else h.last_value

            def one(t: HttpTxn, r: Runtime) -> Value | None:
                hs, names = side(t)
                return last(hs, names, name)

        else:
            pos = occ or -1

            def one(t: HttpTxn, r: Runtime) -> Value | None:
                hs, names = side(t)
                return h.pick(collect(hs, names, name), pos)

        return one, many

    return build


def _hdr_cnt(
    full: bool, side: Callable[[HttpTxn], tuple[h.HeaderList, list[bytes]]]
) -> Callable[[list[Any], Ctx], Built]:
    collect = h.lines_of if full else h.values_of

    def build(args: list[Any], ctx: Ctx) -> Built:
        name = args[0].lower().encode() if args and args[0] else None

        def one(t: HttpTxn, r: Runtime) -> Value:
            hs, names = side(t)
            return len(collect(hs, names, name))

        return one, None

    return build


def _int_of(one: One) -> One:
    def get(t: HttpTxn, r: Runtime) -> Value | None:
        v = one(t, r)
        return None if v is None else to_int(v)

    return get


def _ints(values: Iterable[Value]) -> list[Value]:
    return [n for n in (to_int(v) for v in values) if n is not None]


def _hdr_val(
    side: Callable[[HttpTxn], tuple[h.HeaderList, list[bytes]]],
) -> Callable[[list[Any], Ctx], Built]:
    inner = _hdr(False, side)

    def build(args: list[Any], ctx: Ctx) -> Built:
        one, many = inner(args, ctx)
        assert many is not None
        return _int_of(one), (lambda t, r: _ints(many(t, r)))

    return build


def header_ip(v: bytes) -> Value | None:
    """An address as ``hdr_ip`` reads it: IPv4 may carry a ":port", IPv6 may be in brackets."""
    text = v.strip()
    if text.count(b":") == 1 and text[:1] != b"[":
        text = text.split(b":", 1)[0]
    elif text[:1] == b"[":
        text = text[1:].split(b"]", 1)[0]
    return to_ip(text)


def _hdr_ip(args: list[Any], ctx: Ctx) -> Built:
    one, many = _hdr(False, _req_side)(args, ctx)
    assert many is not None

    def get(t: HttpTxn, r: Runtime) -> Value | None:
        v = one(t, r)
        return None if v is None else header_ip(v)  # type: ignore[arg-type]

    def get_all(t: HttpTxn, r: Runtime) -> list[Value]:
        return [ip for ip in (header_ip(v) for v in many(t, r)) if ip is not None]  # type: ignore[arg-type]

    return get, get_all


# --------------------------------------------------------------------------- connection, proxies


def _src(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.src_ip()), None


def _dst(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.dst_ip()), None


def _src_port(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.src_port), None


def _dst_port(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.dst_port), None


def _ssl_fc(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.ssl_fc), None


def _ssl_fc_sni(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.ssl_fc_sni), None


def _fe_name(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.frontend.encode()), None


def _be_name(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: (t.backend or t.frontend).encode()), None


def _nbsrv(args: list[Any], ctx: Ctx) -> Built:
    if args:
        backend: str = args[0]
        return (lambda t, r: r.servers_up(backend)), None
    own = ctx.proxy.name
    return (lambda t, r: r.servers_up(t.backend or own)), None


def _srv_is_up(args: list[Any], ctx: Ctx) -> Built:
    backend, server = args[0]
    return (lambda t, r: r.server_is_up(backend, server)), None


# --------------------------------------------------------------------------- authentication


def _http_auth(args: list[Any], ctx: Ctx) -> Built:
    ul = args[0]
    return (lambda t, r: ul.check(t.basic_auth())), None


def _http_auth_group(args: list[Any], ctx: Ctx) -> Built:
    ul = args[0]

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        creds = t.basic_auth()
        return creds[0] if creds is not None and ul.check(creds) else None

    return one, None


def _auth_part(index: int) -> Callable[[list[Any], Ctx], Built]:
    def build(args: list[Any], ctx: Ctx) -> Built:
        def one(t: HttpTxn, r: Runtime) -> Value | None:
            creds = t.basic_auth()
            return None if creds is None else creds[index]

        return one, None

    return build


def _http_auth_type(args: list[Any], ctx: Ctx) -> Built:
    def one(t: HttpTxn, r: Runtime) -> Value | None:
        value = h.first_line(t.headers, t.names(), b"authorization")
        return None if value is None else value.strip().split(b" ", 1)[0]

    return one, None


# --------------------------------------------------------------------------- variables, response


def _var(args: list[Any], ctx: Ctx) -> Built:
    name: str = args[0]
    default = args[1].encode() if len(args) > 1 else None

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        v = t.vars
        if v is None:
            return default
        return v.get(name, default)  # type: ignore[return-value]

    return one, None


def _status(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.status or None), None


def _res_ver(args: list[Any], ctx: Ctx) -> Built:
    return (lambda t, r: t.resp_version.encode()), None


def _str_const(args: list[Any], ctx: Ctx) -> Built:
    value = args[0].encode()
    return (lambda t, r: value), None


def _int_const(args: list[Any], ctx: Ctx) -> Built:
    value = args[0]
    return (lambda t, r: value), None


_S = "str"
_HDR_ARGS = ("str", "int")

FETCHES: dict[str, FetchSpec] = {
    "path": FetchSpec(_S, "req", (), 0, _path),
    "pathq": FetchSpec(_S, "req", (), 0, _pathq),
    "query": FetchSpec(_S, "req", (), 0, _query),
    "url": FetchSpec(_S, "req", (), 0, _url),
    "base": FetchSpec(_S, "req", (), 0, _base),
    "baseq": FetchSpec(_S, "req", (), 0, _baseq),
    "url_param": FetchSpec(_S, "req", ("str", "str"), 0, _urlp),
    "urlp": FetchSpec(_S, "req", ("str", "str"), 0, _urlp),
    "urlp_val": FetchSpec("int", "req", ("str", "str"), 0, _urlp_val),
    "method": FetchSpec("meth", "req", (), 0, _method),
    "req.ver": FetchSpec(_S, "req", (), 0, _req_ver),
    "req_ver": FetchSpec(_S, "req", (), 0, _req_ver),
    "req.hdr": FetchSpec(_S, "req", _HDR_ARGS, 0, _hdr(False, _req_side)),
    "req.fhdr": FetchSpec(_S, "req", _HDR_ARGS, 0, _hdr(True, _req_side)),
    "req.hdr_cnt": FetchSpec("int", "req", ("str",), 0, _hdr_cnt(False, _req_side)),
    "hdr_cnt": FetchSpec("int", "req", ("str",), 0, _hdr_cnt(False, _req_side)),
    "req.fhdr_cnt": FetchSpec("int", "req", ("str",), 0, _hdr_cnt(True, _req_side)),
    "req.hdr_val": FetchSpec("int", "req", _HDR_ARGS, 0, _hdr_val(_req_side)),
    "hdr_val": FetchSpec("int", "req", _HDR_ARGS, 0, _hdr_val(_req_side)),
    "req.hdr_ip": FetchSpec("ip", "req", _HDR_ARGS, 0, _hdr_ip),
    "hdr_ip": FetchSpec("ip", "req", _HDR_ARGS, 0, _hdr_ip),
    "src": FetchSpec("ip", "any", (), 0, _src),
    "dst": FetchSpec("ip", "any", (), 0, _dst),
    "src_port": FetchSpec("int", "any", (), 0, _src_port),
    "dst_port": FetchSpec("int", "any", (), 0, _dst_port),
    "ssl_fc": FetchSpec("bool", "any", (), 0, _ssl_fc),
    "ssl_fc_sni": FetchSpec(_S, "any", (), 0, _ssl_fc_sni),
    "fe_name": FetchSpec(_S, "any", (), 0, _fe_name),
    "be_name": FetchSpec(_S, "any", (), 0, _be_name),
    "nbsrv": FetchSpec("int", "any", ("backend",), 0, _nbsrv),
    "srv_is_up": FetchSpec("bool", "any", ("server",), 1, _srv_is_up),
    "http_auth": FetchSpec("bool", "req", ("userlist",), 1, _http_auth),
    "http_auth_group": FetchSpec(_S, "req", ("userlist",), 1, _http_auth_group),
    "http_auth_user": FetchSpec(_S, "req", (), 0, _auth_part(0)),
    "http_auth_pass": FetchSpec(_S, "req", (), 0, _auth_part(1)),
    "http_auth_type": FetchSpec(_S, "req", (), 0, _http_auth_type),
    "always_true": FetchSpec("bool", "any", (), 0, _constant(True)),
    "always_false": FetchSpec("bool", "any", (), 0, _constant(False)),
    "wait_end": FetchSpec("bool", "any", (), 0, _constant(True)),  # rules run on whole heads
    "str": FetchSpec(_S, "any", ("str",), 1, _str_const),
    "int": FetchSpec("int", "any", ("int",), 1, _int_const),
    "var": FetchSpec("any", "any", ("var", "str"), 1, _var),
    "status": FetchSpec("int", "res", (), 0, _status),
    "res.ver": FetchSpec(_S, "res", (), 0, _res_ver),
    "resp_ver": FetchSpec(_S, "res", (), 0, _res_ver),
    "res.hdr": FetchSpec(_S, "res", _HDR_ARGS, 0, _hdr(False, _res_side)),
    "shdr": FetchSpec(_S, "res", _HDR_ARGS, 0, _hdr(False, _res_side)),
    "res.fhdr": FetchSpec(_S, "res", _HDR_ARGS, 0, _hdr(True, _res_side)),
    "res.hdr_cnt": FetchSpec("int", "res", ("str",), 0, _hdr_cnt(False, _res_side)),
    "shdr_cnt": FetchSpec("int", "res", ("str",), 0, _hdr_cnt(False, _res_side)),
    "res.fhdr_cnt": FetchSpec("int", "res", ("str",), 0, _hdr_cnt(True, _res_side)),
    "res.hdr_val": FetchSpec("int", "res", _HDR_ARGS, 0, _hdr_val(_res_side)),
    "shdr_val": FetchSpec("int", "res", _HDR_ARGS, 0, _hdr_val(_res_side)),
}

# the sc*_ / src_* fetches and table_cnt / table_avl (stick tables)
FETCHES.update({name: FetchSpec(*row) for name, row in sticktable_fetches.FETCH_ROWS.items()})
# the layer-4 content fetches (req.len, req.payload, req.ssl_sni …)
FETCHES.update({name: FetchSpec(*row) for name, row in payload.FETCH_ROWS.items()})


def acl_keywords() -> dict[str, tuple[str, str]]:
    """ACL-only keywords: name → (fetch, implicit matching method)."""
    table: dict[str, tuple[str, str]] = {
        "method": ("method", "meth"),
        "req_ver": ("req.ver", "str"),
        "resp_ver": ("res.ver", "str"),
        "http_auth_group": ("http_auth_group", "group"),
    }
    suffixes = {"": "str", "_beg": "beg", "_dir": "dir", "_dom": "dom", "_end": "end",
                "_len": "len", "_reg": "reg", "_sub": "sub"}  # fmt: skip
    for prefix, fetch in (("base", "base"), ("path", "path"), ("url", "url"), ("urlp", "urlp"),
                          ("hdr", "req.hdr"), ("shdr", "res.hdr")):  # fmt: skip
        for suffix, method in suffixes.items():
            table[prefix + suffix] = (fetch, method)
    table.update(payload.ACL_ROWS)
    return table


ACL_KEYWORDS = acl_keywords()
