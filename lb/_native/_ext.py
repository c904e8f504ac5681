"""Locate the compiled extension and decide, per object, whether to use it.

``HAVE_NATIVE`` is the default choice (``native=None``): the extension imported and the
environment does not say ``LB_NATIVE=0``.  An explicit ``native=True`` ignores the environment
and raises if the extension is missing, so tests that ask for it fail instead of silently
exercising the fallback.
"""

from __future__ import annotations

import os
from typing import Any

ffi: Any
lib: Any
IMPORT_ERROR: ImportError | None

try:
    from lb._native._lb_native import ffi, lib  # type: ignore[import-not-found,no-redef]
except ImportError as exc:  # not built (pure-Python checkout, or a platform without a compiler)
    ffi = lib = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

DISABLED_BY_ENV: bool = os.environ.get("LB_NATIVE", "").strip() == "0"
HAVE_NATIVE: bool = lib is not None and not DISABLED_BY_ENV


def use_native(native: bool | None) -> bool:
    """Resolve a ``native=`` argument: None = default, True = required, False = pure Python."""
    if native is None:
        return HAVE_NATIVE
    if native and lib is None:
        raise ImportError(
            "lb._native._lb_native is not built (run `python build.py` or `pip install -e .`)"
        ) from IMPORT_ERROR
    return bool(native)
