"""``compile_proxy``: one proxy's ACLs and rules, compiled once, as ``ProxyRules``.

What the HTTP session calls, in HAProxy's order, for a request through frontend
F and backend B (the same proxy twice for a ``listen``, which is then called once):

    F.http_request  (http-request rules, then redirect rules)
    F.choose_backend  (use_backend rules, then default_backend)
    B.http_request  (when B is not F)
    B.use_server
    … the server answers …
    B.http_response, then F.http_response (when B is not F)

Every line is checked where it is: errors go to the ``Diagnostics`` with the
line's ``file:line`` and the line is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lb.acl.acl import AclTable, BrokenAcl, Test, compile_acl_words
from lb.acl.actions import STOP, Action, compile_action
from lb.acl.answer import Answer
from lb.acl.condition import compile_condition, split_condition
from lb.acl.context import Ctx, Direction, FileReader, Shared, read_file
from lb.acl.errors import Diagnostics, NotYet, RuleError, Strict
from lb.acl.logformat import Render, compile_format, is_dynamic
from lb.acl.redirect import Redirect, compile_redirect
from lb.acl.runtime import Runtime
from lb.acl.txn import HttpTxn
from lb.config.model import Config, Proxy, Source

Rule = tuple[Test | None, Action]
Route = tuple[Test | None, str, Render | None]  # condition, static name, or dynamic name


class ProxyRules:
    """The compiled rules of one proxy. ``empty``: nothing to run for it at all."""

    __slots__ = (
        "_backends",
        "_redirects",
        "_req",
        "_res",
        "_routes",
        "_servers",
        "default_backend",
        "empty",
        "name",
    )

    def __init__(
        self,
        name: str,
        req: list[Rule],
        redirects: list[tuple[Test | None, Redirect]],
        routes: list[Route],
        default_backend: str | None,
        servers: list[Route],
        res: list[Rule],
        backends: frozenset[str],
    ) -> None:
        self.name = name
        self._req = tuple(req)
        self._redirects = tuple(redirects)
        self._routes = tuple(routes)
        self.default_backend = default_backend
        self._servers = tuple(servers)
        self._res = tuple(res)
        self._backends = backends
        self.empty = not (req or redirects or routes or servers or res)

    @property
    def has_request_rules(self) -> bool:
        return bool(self._req or self._redirects)

    @property
    def has_response_rules(self) -> bool:
        return bool(self._res)

    @property
    def static_route(self) -> tuple[bool, str | None]:
        """(True, backend) when no rule of this proxy depends on the request: no
        http-request, redirect, http-response or use-server rule, and the first
        use_backend (if any) unconditional with a plain name. The HTTP session then
        skips the rules entirely; ``backend`` is None when only default_backend
        (possibly unset) decides."""
        if self._req or self._redirects or self._res or self._servers:
            return False, None
        if not self._routes:
            return True, self.default_backend
        cond, name, render = self._routes[0]
        if cond is None and render is None:
            return True, name
        return False, None

    def http_request(self, txn: HttpTxn, rt: Runtime) -> Answer | None:
        """http-request rules then redirect rules; an Answer ends the request."""
        for cond, action in self._req:
            if cond is None or cond(txn, rt):
                out = action(txn, rt)
                if out is not None:
                    if out is STOP:
                        break
                    return out  # type: ignore[return-value]
        for cond, redirect in self._redirects:
            if cond is None or cond(txn, rt):
                answer = redirect(txn, rt)
                if answer is not None:
                    return answer
        return None

    def choose_backend(self, txn: HttpTxn, rt: Runtime) -> str | None:
        """The first use_backend whose condition holds, else default_backend; None
        when neither (a frontend then answers 503, a listen uses its own servers).
        A dynamic name that names no backend gives default_backend, as in HAProxy."""
        for cond, name, render in self._routes:
            if cond is None or cond(txn, rt):
                if render is None:
                    return name
                dynamic = render(txn, rt).decode("utf-8", "replace")
                return dynamic if dynamic in self._backends else self.default_backend
        return self.default_backend

    def use_server(self, txn: HttpTxn, rt: Runtime) -> str | None:
        """The server of the first use-server rule that holds and names a server that
        is up; None: let persistence and the balancing algorithm choose."""
        for cond, name, render in self._servers:
            if cond is None or cond(txn, rt):
                server = name if render is None else render(txn, rt).decode("utf-8", "replace")
                if rt.server_is_up(self.name, server):
                    return server
        return None

    def http_response(self, txn: HttpTxn, rt: Runtime) -> Answer | None:
        """http-response rules on ``txn.status``/``txn.resp_headers``; an Answer
        replaces the server's response."""
        for cond, action in self._res:
            if cond is None or cond(txn, rt):
                out = action(txn, rt)
                if out is not None:
                    if out is STOP:
                        break
                    return out  # type: ignore[return-value]
        return None


def compile_proxy(
    proxy: Proxy,
    config: Config,
    *,
    report: Diagnostics | None = None,
    reader: FileReader | None = None,
    shared: Shared | None = None,
) -> ProxyRules:
    """Compile ``proxy``'s rules. Without ``report`` a wrong rule raises ConfigError
    (the configuration was validated already: this is a worker building its tables)
    and what is not supported yet is left out quietly. ``reader`` reads pattern,
    map and payload files (default: the file system); ``shared`` lets several
    proxies share compiled userlists and maps."""
    if shared is None:
        shared = Shared(config, reader or read_file, report or Strict())
    return _Compiler(proxy, shared).run()


class CompiledRules:
    """Every enabled proxy's rules, by name and side (a frontend and a backend may
    share a name; a listen is in both tables, as one object)."""

    __slots__ = ("backends", "frontends")

    def __init__(self) -> None:
        self.frontends: dict[str, ProxyRules] = {}
        self.backends: dict[str, ProxyRules] = {}


def compile_config(
    config: Config,
    *,
    report: Diagnostics | None = None,
    reader: FileReader | None = None,
) -> CompiledRules:
    """``compile_proxy`` for every enabled proxy, sharing userlists and maps. A tcp
    proxy gets its use_backend and use-server rules only (give them an HttpTxn with
    an empty request line and no header: request fetches then find nothing)."""
    shared = Shared(config, reader or read_file, report or Strict())
    out = CompiledRules()
    for proxy in config.proxies:
        if proxy.disabled:
            continue
        rules = _Compiler(proxy, shared).run()
        if proxy.has_frontend:
            out.frontends[proxy.name] = rules
        if proxy.has_backend:
            out.backends[proxy.name] = rules
    return out


def compile_condition_of(
    proxy: Proxy,
    config: Config,
    words: list[str],
    source: Source,
    *,
    report: Diagnostics | None = None,
    reader: FileReader | None = None,
) -> Test | None:
    """A condition ("if"/"unless" and its words) written on another keyword's line of
    ``proxy`` (``stats admin if …``), with the proxy's ACLs: a function of
    (HttpTxn, Runtime) -> bool, or None for no condition. Errors as compile_proxy."""
    shared = Shared(config, reader or read_file, report or Strict())
    compiler = _Compiler(proxy, shared, quiet_acls=True)
    compiler._acls()
    built = compiler._guard(source, lambda: compiler._condition(words, source, "req"))
    return built  # type: ignore[no-any-return]


def check_rules(config: Config, report: Diagnostics, reader: FileReader | None = None) -> None:
    """For the loader: compile every proxy's rules so that a wrong one is reported
    at its line, whatever the proxy's mode (``lb -c`` must catch it)."""
    shared = Shared(config, reader or read_file, report)
    for proxy in config.proxies:
        _Compiler(proxy, shared).run()


class _Compiler:
    def __init__(self, proxy: Proxy, shared: Shared, quiet_acls: bool = False) -> None:
        self.proxy = proxy
        self.shared = shared
        self.report = shared.report
        self.quiet_acls = quiet_acls  # the ACL lines were checked (and reported) already
        self.acls = AclTable()
        self.first_acl_line: dict[str, int] = {}

    def ctx(self, source: Source, direction: Direction = "req") -> Ctx:
        return Ctx(self.shared, self.proxy, direction, source)

    def run(self) -> ProxyRules:
        p = self.proxy
        self._acls()
        req: list[Rule] = []
        res: list[Rule] = []
        redirects: list[tuple[Test | None, Redirect]] = []
        if p.mode == "tcp":
            self._ignored_in_tcp_mode()
        else:
            req = self._rules("http-request", p.http_request, "req")
            res = self._rules("http-response", p.http_response, "res")
            for line in p.redirects:
                redirect = self._redirect(line.words, line.source)
                if redirect is not None:
                    redirects.append(redirect)
        routes = [self._route(u.backend, u.condition, u.source, False) for u in p.use_backends]
        servers = [self._route(u.server, u.condition, u.source, True) for u in p.use_servers]
        backends = frozenset(x.name for x in self.shared.config.proxies if x.has_backend)
        return ProxyRules(
            p.name,
            req,
            redirects,
            [r for r in routes if r is not None],
            p.default_backend,
            [s for s in servers if s is not None],
            res,
            backends,
        )

    def _ignored_in_tcp_mode(self) -> None:
        """As HAProxy: HTTP rules in a tcp proxy are a warning, then left out."""
        p = self.proxy
        for keyword, lines in (
            ("http-request", p.http_request),
            ("http-response", p.http_response),
            ("redirect", p.redirects),
        ):
            if lines:
                self.report.warning(
                    lines[0].source,
                    f"'{keyword}' rules ignored for {p.kind} '{p.name}' as they require HTTP mode",
                )

    # ---------------------------------------------------------------- lines

    def _guard(self, source: Source, build: Callable[[], Any]) -> Any:
        try:
            return build()
        except BrokenAcl:
            return None  # its ACL line was reported already
        except NotYet as e:
            self.report.not_yet(source, e.thing, e.hint)
        except RuleError as e:
            self.report.alert(source, str(e))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            # a bug here must not hide the other lines' messages
            self.report.alert(source, f"internal error: {type(e).__name__}: {e}")
        return None

    def _acls(self) -> None:
        for line in self.proxy.acls:
            ctx = self.ctx(line.source)
            self.acls.add(line.name, line.words, ctx)
            self.first_acl_line.setdefault(line.name, line.source.line)
            if self.quiet_acls:
                continue
            words = line.words
            if self._guard(line.source, lambda w=words, c=ctx: compile_acl_words(w, c)) is None:
                self.acls.broken.add(line.name)

    def _condition(self, words: list[str], source: Source, direction: Direction) -> Test | None:
        # HAProxy resolves ACL names when it reads the rule: they must come before it
        for name in _acl_names(words):
            first = self.first_acl_line.get(name)
            if first is not None and first > source.line:
                raise RuleError(f"ACL '{name}' is used before its first 'acl' line")
        return compile_condition(words, self.acls, self.ctx(source, direction))

    def _rules(self, keyword: str, lines: list[Any], direction: Direction) -> list[Rule]:
        out: list[Rule] = []
        for line in lines:

            def build(line: Any = line) -> Rule:
                args, cond_words = split_condition(line.words, keyword)
                ctx = self.ctx(line.source, direction)
                action = compile_action(keyword, args, ctx)
                return self._condition(cond_words, line.source, direction), action

            rule = self._guard(line.source, build)
            if rule is not None:
                out.append(rule)
        return out

    def _redirect(self, words: list[str], source: Source) -> tuple[Test | None, Redirect] | None:
        def build() -> tuple[Test | None, Redirect]:
            args, cond_words = split_condition(words, "redirect")
            redirect = compile_redirect(args, self.ctx(source), dynamic=False)
            return self._condition(cond_words, source, "req"), redirect

        return self._guard(source, build)  # type: ignore[no-any-return]

    def _route(
        self, target: str, cond_words: list[str], source: Source, server: bool
    ) -> Route | None:
        def build() -> Route:
            if server and not cond_words:
                raise RuleError("'use-server' requires 'if' or 'unless' followed by a condition")
            ctx = self.ctx(source)
            render = compile_format(target, ctx) if is_dynamic(target) else None
            name = target.replace("%%", "%") if render is None else ""
            if server and render is None and name not in {s.name for s in self.proxy.servers}:
                raise RuleError(
                    f"'use-server': no server '{name}' in {self.proxy.kind} '{self.proxy.name}'"
                )
            return self._condition(cond_words, source, "req"), name, render

        return self._guard(source, build)  # type: ignore[no-any-return]


def _acl_names(words: list[str]) -> list[str]:
    """The ACL names a condition refers to (outside anonymous ACLs)."""
    out: list[str] = []
    depth = 0
    for w in words[1:]:
        if w == "{":
            depth += 1
        elif w == "}":
            depth = max(0, depth - 1)
        elif not depth and w not in ("or", "||"):
            name = w.lstrip("!")
            if name:
                out.append(name)
    return out
