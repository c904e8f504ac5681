"""``capture request|response header NAME len N``: pick the values a log line shows.

As HAProxy: the last occurrence of a header wins, the value is cut to ``len`` bytes, an
absent header is ``None`` (empty in ``%hr``, "-" in ``%hrl``). Compiled once per proxy.
"""

from __future__ import annotations

from collections.abc import Iterable

from lb.config.model import Capture


class HeaderCapture:
    """The captures of one direction, in declaration order."""

    __slots__ = ("_index", "_lengths", "names")

    def __init__(self, captures: Iterable[Capture]) -> None:
        caps = list(captures)
        self.names = [c.header for c in caps]
        self._lengths = [c.length for c in caps]
        # header name (lower-case bytes) -> the capture slots it fills
        self._index: dict[bytes, list[int]] = {}
        for i, c in enumerate(caps):
            self._index.setdefault(c.header.lower().encode("latin-1"), []).append(i)

    def __len__(self) -> int:
        return len(self.names)

    def __call__(self, headers: Iterable[tuple[bytes, bytes]]) -> list[bytes | None]:
        """Values for ``LogRecord.req_captures`` / ``res_captures`` from (name, value) pairs."""
        out: list[bytes | None] = [None] * len(self._lengths)
        index = self._index
        for name, value in headers:
            slots = index.get(name.lower())
            if slots is not None:
                for i in slots:
                    out[i] = value[: self._lengths[i]]
        return out
