"""ACLs, content switching and HTTP rules (HAProxy's ``acl``, ``use_backend``,
``use-server``, ``http-request``, ``http-response``, ``redirect``, ``userlist``).

Compiled once per configuration (``compile_proxy``) into plain functions; per
request only lookups, slicing and the comparisons the rules ask for.
"""

from lb.acl.answer import Answer
from lb.acl.compile import (
    CompiledRules,
    ProxyRules,
    check_rules,
    compile_condition_of,
    compile_config,
    compile_proxy,
)
from lb.acl.context import FileSnapshot
from lb.acl.runtime import Runtime, StaticRuntime
from lb.acl.txn import HttpTxn

__all__ = [
    "Answer",
    "CompiledRules",
    "FileSnapshot",
    "HttpTxn",
    "ProxyRules",
    "Runtime",
    "StaticRuntime",
    "check_rules",
    "compile_condition_of",
    "compile_config",
    "compile_proxy",
]
