"""``load_files``: the one entry point. Files in, ``Config`` and diagnostics out.

Each ``-f`` path is a file or a directory (its ``*.cfg`` files, in lexical order,
as HAProxy reads them). Each file is HAProxy or keepalived syntax, told apart by
its content. Everything merges into one ``Config``. Nothing here raises on bad
input: every problem becomes a Diagnostic with ``file:line``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from lb.config import keepalived_keywords as kk
from lb.config import keywords as kw
from lb.config.diagnostics import LoadResult
from lb.config.haproxy import HaproxyParser
from lb.config.haproxy_validate import validate_proxies
from lb.config.keepalived import KeepalivedParser
from lb.config.keepalived_vs import virtual_server_proxies
from lb.config.model import Config, Source
from lb.config.report import Reporter

Syntax = Literal["haproxy", "keepalived"]


def load_files(
    paths: list[str],
    *,
    environ: Mapping[str, str] | None = None,
    unsupported: Literal["error", "warn"] = "error",
) -> LoadResult:
    """Parse and validate ``paths``.

    ``unsupported="warn"`` turns "not supported yet" alerts into warnings, for an
    operator who accepts to run without those parts. ``config`` is None when a
    real error (not a "not supported yet") was found.
    """
    env = os.environ if environ is None else environ
    report = Reporter(unsupported)
    haproxy = HaproxyParser(report, env)
    keepalived: KeepalivedParser | None = None
    files: list[str] = []
    if not paths:
        report.alert(Source("<command line>", 0), "no configuration file given")
    for path in _expand_paths(paths, report):
        text = _read(path, report)
        if text is None:
            continue
        try:
            if detect_syntax(text) == "keepalived":
                keepalived = keepalived or KeepalivedParser(report)
                already = len(keepalived.files)
                keepalived.feed(path, text)
                files.extend(keepalived.files[already:])
            else:
                files.append(path)
                haproxy.feed(path, text)
        except Exception as e:  # a parser bug must not hide every other message
            report.alert(Source(path, 0), f"internal error while parsing: {type(e).__name__}: {e}")
    haproxy.finish()
    validate_proxies(haproxy.drafts, report)
    proxies = haproxy.proxies()
    ka_model = keepalived.finish() if keepalived else None
    if ka_model is not None:
        # keepalived's virtual servers are proxies too, after the HAProxy ones
        proxies += virtual_server_proxies(ka_model, proxies, report)
    config = Config(
        files=files,
        global_=haproxy.global_,
        proxies=proxies,
        keepalived=ka_model,
        userlists=haproxy.userlists,
    )
    _check_rules(config, report)
    _check_real_servers(config, report)
    return LoadResult(config if report.hard_alerts == 0 else None, report.diagnostics)


def _check_real_servers(config: Config, report: Reporter) -> None:
    """Build every keepalived check spec once, as the master will: a wrong one is
    reported at its line now (lb -c), not when the master starts checking."""
    if config.keepalived is None or all(p.virtual_server is None for p in config.proxies):
        return
    # imported here: the specs live with the checker, and only virtual servers need them
    from lb.master.health.keepalived import check_real_servers
    from lb.vrrp.scripts import script_account

    defs = config.keepalived.global_defs
    check_real_servers(
        config, lambda user, group: script_account(user, group, defs), report.alert, report.not_yet
    )


def _check_rules(config: Config, report: Reporter) -> None:
    """Compile every ACL and rule once, as the workers will: a wrong one is reported at
    its line now (lb -c), not when a worker starts."""
    if not config.proxies:
        return
    from lb.acl import check_rules  # imported here: a keepalived-only load needs none of it
    from lb.sticktable.rules import check_sticktables

    try:
        check_rules(config, report)
        check_sticktables(config, report)  # tcp-request connection, stick rules
    except Exception as e:  # a compiler bug must not hide every other message
        where = Source(config.files[0] if config.files else "<config>", 0)
        report.alert(where, f"internal error while compiling rules: {type(e).__name__}: {e}")


def detect_syntax(text: str) -> Syntax:
    """keepalived when the first significant word is one of its top-level keywords
    or when braces are used; HAProxy otherwise (its section keywords, or anything
    else, which the HAProxy parser then reports)."""
    first: str | None = None
    for raw in text.split("\n"):
        line = _strip_comment(raw)
        if not line:
            continue
        if first is None:
            first = line.split()[0].rstrip("{")
            if first in kk.FIRST_WORDS:
                return "keepalived"
            if first in kw.SECTIONS:
                return "haproxy"
        if line.endswith("{") or line == "}":
            return "keepalived"
    return "haproxy"


def _strip_comment(line: str) -> str:
    # Crude on purpose: it only has to find the first word and block braces.
    for mark in ("#", "!"):
        if line.lstrip().startswith(mark):
            return ""
    cut = line.find(" #")
    return (line if cut < 0 else line[:cut]).strip()


def _expand_paths(paths: list[str], report: Reporter) -> list[str]:
    out: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            out.append(path)
            continue
        try:
            names = sorted(os.listdir(path))
        except OSError as e:
            report.alert(Source(path, 0), f"cannot list configuration directory: {e.strerror}")
            continue
        out.extend(
            os.path.join(path, name)
            for name in names
            if name.endswith(".cfg") and os.path.isfile(os.path.join(path, name))
        )
    return out


def _read(path: str, report: Reporter) -> str | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        report.alert(Source(path, 0), f"cannot read configuration file: {e.strerror or e}")
        return None
    return data.decode("utf-8", errors="replace")
