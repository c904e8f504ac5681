"""Peers the tests need (haproxy, socat, keepalived, root): skip locally, fail in CI."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


def missing(reason: str) -> None:
    """A peer is missing: in CI that is a failure, on a developer's machine a skip."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def need_command(name: str) -> str:
    """The path of a command (sbin directories included), or skip/fail."""
    path = shutil.which(name, path=SBIN_PATH)
    if path is None:
        missing(f"{name} is not installed")
        raise AssertionError("unreachable")
    return path


def need_root() -> None:
    if os.geteuid() != 0:
        missing("this test needs root")
