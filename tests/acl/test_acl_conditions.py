"""Conditions: if/unless, implicit AND, or/||, !, anonymous ACLs."""

from __future__ import annotations

import pytest

from lb.acl import StaticRuntime
from lb.acl.acl import AclTable
from lb.acl.condition import compile_condition, split_condition
from lb.acl.errors import RuleError
from tests.acl.conftest import bare_ctx, txn


def table() -> AclTable:
    t = AclTable()
    ctx = bare_ctx()
    t.add("a", ["path_beg", "/a"], ctx)
    t.add("x", ["hdr(x)", "-m", "found"], ctx)
    t.add("get", ["method", "GET"], ctx)
    return t


# (condition, path, has header X, method, holds)
CASES: list[tuple[str, bytes, bool, bytes, bool]] = [
    ("if a", b"/a", False, b"GET", True),
    ("if a", b"/b", False, b"GET", False),
    ("unless a", b"/b", False, b"GET", True),
    ("if a x", b"/a", False, b"GET", False),  # AND
    ("if a x", b"/a", True, b"GET", True),
    ("if a or x", b"/b", True, b"GET", True),  # OR
    ("if a || x", b"/b", False, b"GET", False),
    ("if !a", b"/b", False, b"GET", True),
    ("if ! a", b"/b", False, b"GET", True),
    ("if ! ! a", b"/b", False, b"GET", False),
    ("if !!a", b"/a", False, b"GET", True),
    ("if a !x", b"/a", True, b"GET", False),
    # AND binds tighter than OR: (a and x) or get
    ("if a x or get", b"/b", False, b"GET", True),
    ("if a x or get", b"/a", False, b"POST", False),
    ("unless a x or get", b"/a", False, b"POST", True),
    ("if { path /a }", b"/a", False, b"GET", True),
    ("if { path /a } !x", b"/a", True, b"GET", False),
    ("if { path_beg /a } || { method POST }", b"/b", False, b"POST", True),
    ("if !{ path /a }", b"/a", False, b"GET", False),
    ("if ! { path /a }", b"/b", False, b"GET", True),
    ("if TRUE", b"/", False, b"GET", True),
    ("if METH_GET a", b"/a", False, b"HEAD", True),
    # an empty alternative is ignored; no term at all never holds
    ("if a ||", b"/a", False, b"GET", True),
    ("if || a", b"/b", False, b"GET", False),
    ("if", b"/", False, b"GET", False),
    ("unless", b"/", False, b"GET", True),
]


@pytest.mark.parametrize(("cond", "path", "has_x", "method", "holds"), CASES)
def test_condition(cond: str, path: bytes, has_x: bool, method: bytes, holds: bool) -> None:
    test = compile_condition(cond.split(), table(), bare_ctx())
    assert test is not None
    t = txn(path, [(b"X", b"")] if has_x else [], method)
    assert test(t, StaticRuntime()) is holds


@pytest.mark.parametrize(
    ("cond", "message"),
    [
        ("if nope", "no ACL named 'nope'"),
        ("if { path /a", "missing closing '}'"),
        ("if {path /a}", "no ACL named '{path'"),
        ("if path /a }", "no ACL named 'path'"),
        ("if { }", "empty anonymous ACL"),
        ("if a !", "'!' at the end"),
        ("if ! or a", "'!' before 'or'"),
        ("when a", "expected 'if' or 'unless'"),
    ],
)
def test_condition_errors(cond: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        compile_condition(cond.split(), table(), bare_ctx())


def test_no_condition() -> None:
    assert compile_condition([], table(), bare_ctx()) is None


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["deny"], (["deny"], [])),
        (["deny", "if", "a"], (["deny"], ["if", "a"])),
        (["set-header", "X", "y", "unless", "a"], (["set-header", "X", "y"], ["unless", "a"])),
    ],
)
def test_split_condition(words: list[str], expected: tuple[list[str], list[str]]) -> None:
    assert split_condition(words, "http-request") == expected


def test_request_acl_in_response_rules_never_matches() -> None:
    warnings: list[str] = []
    ctx = bare_ctx("res")
    ctx.shared.report = type(  # type: ignore[assignment]
        "R", (), {"warning": lambda self, src, msg: warnings.append(msg)}
    )()
    t = AclTable()
    t.add("p", ["path", "/a"], bare_ctx())
    test = compile_condition(["if", "p"], t, ctx)
    assert test is not None
    assert test(txn(b"/a"), StaticRuntime()) is False
    assert warnings == ["ACL 'p' never matches in response rules: what it tests is not there"]
