"""lb._native: the L4 data path's byte pumps and the shared-memory atomics.

A small cffi extension (``_lb_native``, C source in ``pump.c``, built by ``build.py``) with a
pure-Python twin for every piece, behaving identically (same Stop values, same accounting):

- ``SplicePump``: one direction src socket -> pipe -> dst socket via splice(2), one C call per
  readiness event; ``CopyPump``: the same contract through a user-space buffer;
- ``PipePool``: recycled, F_SETPIPE_SZ-grown pipes for the splice pumps;
- ``SharedCounters``: atomic int64 slots in the shared memfd mapping (global maxconn etc.).

``HAVE_NATIVE`` says whether ``native=None`` picks the extension; ``LB_NATIVE=0`` in the
environment forces the pure-Python path.
"""

from __future__ import annotations

from lb._native._ext import HAVE_NATIVE
from lb._native._stop import Stop
from lb._native.counters import SharedCounters
from lb._native.pipes import PipePool
from lb._native.pump import BufferPool, CopyPump, SplicePump

__all__ = [
    "HAVE_NATIVE",
    "BufferPool",
    "CopyPump",
    "PipePool",
    "SharedCounters",
    "SplicePump",
    "Stop",
]
