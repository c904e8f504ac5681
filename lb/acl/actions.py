"""``http-request`` and ``http-response`` actions: the tables, and compiling one
line's action (``replies`` answers, ``rewrites`` changes the message, here the
variables and the status)."""

from __future__ import annotations

from lb.acl import replies, rewrites
from lb.acl.answer import reason_for
from lb.acl.context import Ctx
from lb.acl.errors import NotYet, RuleError
from lb.acl.fetches import var_name
from lb.acl.logformat import compile_format
from lb.acl.outcome import STOP, Action, Builder, Outcome, arity
from lb.acl.runtime import Runtime
from lb.acl.sample import compile_text
from lb.acl.txn import HttpTxn
from lb.acl.values import Value
from lb.config import keywords as kw
from lb.config.keywords import Status
from lb.sticktable.actions import STICK_ACTIONS

__all__ = ["STOP", "Action", "Outcome", "compile_action"]


# --------------------------------------------------------------------------- variables, status


def _var_arg(action: str, inner: str) -> str:
    name, _, conds = inner.partition(",")
    if conds:
        raise NotYet(f"{action}({inner})", "conditions on set-var")
    return var_name(name)


def _set_var(inner: str, fmt: bool) -> Builder:
    def build(args: list[str], ctx: Ctx) -> Action:
        action = "set-var-fmt" if fmt else "set-var"
        name = _var_arg(action, inner)
        arity(f"{action}({inner})", args, 1)
        if fmt:
            render = compile_format(args[0], ctx)

            def get(t: HttpTxn, r: Runtime) -> Value | None:
                return render(t, r)

        else:
            get = compile_text(args[0], ctx).one

        def run(t: HttpTxn, r: Runtime) -> Outcome:
            v = get(t, r)
            if v is not None:
                if t.vars is None:
                    t.vars = {}
                t.vars[name] = v
            return None

        return run

    return build


def _unset_var(inner: str) -> Builder:
    def build(args: list[str], ctx: Ctx) -> Action:
        name = _var_arg("unset-var", inner)
        arity(f"unset-var({inner})", args, 0)

        def run(t: HttpTxn, r: Runtime) -> Outcome:
            if t.vars:
                t.vars.pop(name, None)
            return None

        return run

    return build


def _set_status(args: list[str], ctx: Ctx) -> Action:
    if not args or not args[0].isdigit() or not 100 <= int(args[0]) <= 999:
        raise RuleError("'set-status' expects an integer status code between 100 and 999")
    status = int(args[0])
    reason: bytes | None = None
    if len(args) > 1:
        if args[1] != "reason" or len(args) != 3:
            raise RuleError("'set-status' expects a status, then optionally 'reason' TEXT")
        reason = args[2].encode()
    final_reason = reason if reason is not None else reason_for(status)

    def run(t: HttpTxn, r: Runtime) -> Outcome:
        t.status = status
        t.reason = final_reason
        return None

    return run


# --------------------------------------------------------------------------- tables

_REQ, _RES = rewrites.Side(False), rewrites.Side(True)

REQUEST_ACTIONS: dict[str, Builder] = {
    "allow": replies.allow,
    "deny": replies.deny(403),
    "tarpit": replies.tarpit,
    "auth": replies.auth,
    "redirect": replies.redirect,
    "return": replies.return_,
    "use-service": replies.use_service,
    "set-header": rewrites.set_header(True)(_REQ),
    "add-header": rewrites.set_header(False)(_REQ),
    "del-header": rewrites.del_header(_REQ),
    "replace-header": rewrites.replace_header(False)(_REQ),
    "replace-value": rewrites.replace_header(True)(_REQ),
    "set-path": rewrites.set_path,
    "set-pathq": rewrites.set_pathq,
    "set-query": rewrites.set_query,
    "set-uri": rewrites.set_uri,
    "set-method": rewrites.set_method,
    "replace-path": rewrites.replace_part("replace-path", whole=False, with_query=False),
    "replace-pathq": rewrites.replace_part("replace-pathq", whole=False, with_query=True),
    "replace-uri": rewrites.replace_part("replace-uri", whole=True, with_query=True),
}

RESPONSE_ACTIONS: dict[str, Builder] = {
    "allow": replies.allow,
    "deny": replies.deny(502),
    "return": replies.return_,
    "redirect": replies.redirect,
    "set-header": rewrites.set_header(True)(_RES),
    "add-header": rewrites.set_header(False)(_RES),
    "del-header": rewrites.del_header(_RES),
    "replace-header": rewrites.replace_header(False)(_RES),
    "replace-value": rewrites.replace_header(True)(_RES),
    "set-status": _set_status,
}

# Actions with their argument in parentheses: set-var(txn.x), …
_VAR_ACTIONS = {"set-var": False, "set-var-fmt": True}


def action_name(word: str) -> str:
    return word.split("(", 1)[0]


def _known(keyword: str) -> dict[str, Status]:
    return kw.HTTP_REQUEST_ACTIONS if keyword == "http-request" else kw.HTTP_RESPONSE_ACTIONS


def compile_action(keyword: str, words: list[str], ctx: Ctx) -> Action:
    """``keyword`` is "http-request" or "http-response"; ``words`` the action and its
    arguments, without the condition."""
    if not words:
        raise RuleError(f"'{keyword}' expects an action")
    word, args = words[0], words[1:]
    name = action_name(word)
    table = REQUEST_ACTIONS if keyword == "http-request" else RESPONSE_ACTIONS
    if name in _VAR_ACTIONS or name == "unset-var":
        if not word.endswith(")") or "(" not in word:
            raise RuleError(f"'{name}' expects a variable name in parentheses")
        inner = word[len(name) + 1 : -1]
        if name == "unset-var":
            return _unset_var(inner)(args, ctx)
        return _set_var(inner, _VAR_ACTIONS[name])(args, ctx)
    stick = STICK_ACTIONS.get(name) if keyword == "http-request" else None
    if stick is not None:  # track-sc0/1/2, sc-inc-gpc0(N)…: lb.sticktable
        return stick(word, args, ctx, "http")
    builder = table.get(word)
    if builder is not None:
        return builder(args, ctx)
    if name in _known(keyword):
        raise NotYet(f"{keyword} {name}")
    raise RuleError(f"unknown action '{word}' for '{keyword}'")
