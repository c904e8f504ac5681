"""Fill servers in a fixed order: HAProxy's ``first`` and LVS's fo and ovf.

- ``first``: by server order (HAProxy's id order), the first whose cur_conns
  is under its maxconn (0 = unlimited); weights are ignored, as in HAProxy,
  except that weight 0 still means "not selectable". When every server is
  full the answer is None: HAProxy queues the request then, and so should the
  caller.
- ``fo`` (LVS weighted fail-over): the selectable server of highest weight.
- ``ovf`` (LVS weighted overflow): by decreasing weight, the first whose
  cur_conns is under its weight.
"""

from __future__ import annotations

from collections.abc import Sequence

from lb.balance.view import PickKey, ServerView, selectable

MODES = ("first", "fo", "ovf")


class FirstAvailable:
    __slots__ = ("_mode", "_servers")

    def __init__(self, servers: Sequence[ServerView], *, mode: str = "first") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown fill mode '{mode}'")
        self._mode = mode
        self._servers: list[ServerView] = []
        self.update(servers)

    def update(self, servers: Sequence[ServerView]) -> None:
        chosen = [s for s in servers if selectable(s)]
        if self._mode == "first":
            chosen.sort(key=lambda s: s.index)
        else:
            chosen.sort(key=lambda s: (-s.weight, s.index))
        self._servers = chosen

    def pick(self, key: PickKey | None = None, exclude: int | None = None) -> int | None:
        mode = self._mode
        for s in self._servers:
            if s.index == exclude:
                continue
            if mode == "fo":
                return s.index
            limit = s.maxconn if mode == "first" else s.weight
            if limit == 0 or s.cur_conns < limit:
                return s.index
        return None
