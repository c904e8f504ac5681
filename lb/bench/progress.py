"""Progress lines on stderr for runs long enough to wonder about: rewritten in place on a
terminal, one line each otherwise (logs, CI), silent with ``--quiet``."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = self.enabled and self.stream.isatty()
        self.t0 = time.monotonic()
        self.last = (0.0, 0)
        self.open = False  # a tty line is waiting to be overwritten

    def requests(self, done: int, errors: int) -> None:
        """Called about once a second with the running totals of a load run."""
        if not self.enabled:
            return
        now = time.monotonic()
        t_prev, n_prev = self.last
        rate = (done - n_prev) / (now - t_prev) if t_prev else done / max(now - self.t0, 1e-9)
        self.last = (now, done)
        err = f", {errors} errors" if errors else ""
        self.line(f"{now - self.t0:5.0f}s  {done} responses  {rate:.0f} req/s{err}")

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
            self.open = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A line that stays (also on a terminal)."""
        if not self.enabled:
            return
        self.done()
        self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.open:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.open = False
