"""Configuration: HAProxy-syntax and keepalived-syntax parsers, the model, validation.

Pure: no sockets, no processes. Every message carries ``file:line``.

    result = load_files(["/etc/haproxy/haproxy.cfg"])
    if not result.ok:
        for d in result.diagnostics: print(d)

The parsers are imported on first use: workers only need ``lb.config.model``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lb.config.diagnostics import ConfigError, Diagnostic, LoadResult

if TYPE_CHECKING:
    from lb.config.loader import load_files

__all__ = ["ConfigError", "Diagnostic", "LoadResult", "load_files"]


def __getattr__(name: str) -> Any:
    if name == "load_files":
        from lb.config.loader import load_files

        return load_files
    raise AttributeError(name)
