"""Process log lines on stderr, in HAProxy's shape: ``[NOTICE]   (pid) : message``.

Traffic logs (syslog targets, log formats) come with the HTTP issue; this is
only the daemon's own voice.
"""

from __future__ import annotations

import os
import sys
from typing import Literal

Level = Literal["ALERT", "WARNING", "NOTICE", "DEBUG"]

_quiet = False


def set_quiet(quiet: bool) -> None:
    """``-q``: keep alerts and warnings, drop notices."""
    global _quiet
    _quiet = quiet


def log(level: Level, message: str) -> None:
    if _quiet and level in ("NOTICE", "DEBUG"):
        return
    line = f"[{level}]{' ' * (8 - len(level))}({os.getpid()}) : {message}\n"
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr gone (daemon whose terminal closed): nothing better to do


def alert(message: str) -> None:
    log("ALERT", message)


def warning(message: str) -> None:
    log("WARNING", message)


def notice(message: str) -> None:
    log("NOTICE", message)
