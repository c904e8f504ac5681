"""Why a pump call returned (shared by every pump implementation)."""

from __future__ import annotations

import enum


class Stop(enum.IntEnum):
    """Reason a pump's ``run()`` returned.  Values match the ``LB_*`` defines in pump.c."""

    SRC_AGAIN = 1  # source drained (EAGAIN), nothing held: wait until the source is readable
    DST_AGAIN = 2  # destination would block with bytes still held: wait until it is writable
    EOF = 3  # source sent FIN and everything read before it has been delivered
    SRC_ERROR = 4  # reading failed; errno in pump.errno
    DST_ERROR = 5  # writing failed (EPIPE, ECONNRESET, ...); errno in pump.errno
    BUDGET = 6  # delivered `budget` bytes in this call and holds nothing: call again later


# Indexed by the raw C value, so the hot path maps an int to a member with one tuple lookup
# instead of an enum constructor call.
STOPS: tuple[Stop, ...] = (Stop.SRC_AGAIN, *Stop)  # index 0 is never produced
