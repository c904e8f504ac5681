"""LVS lblc / lblcr (locality-based least-connection), simplified to be stateless.

LVS keeps a table destination → server(s) and fills it by weighted least
connection. Here the destination's server is its place on a consistent ring
(sdbm + avalanche over the destination address), which is what that table
converges to without its memory and expiry. As in LVS, the request goes
elsewhere (weighted least connection) when that server is overloaded: it has
more connections than its weight while some other server is under half its
weight. lblcr's server sets (replication for hot destinations) are not kept:
it behaves as lblc. A request without a destination goes to weighted least
connection.
"""

from __future__ import annotations

from collections.abc import Sequence

from lb.balance.hashes import make_hasher
from lb.balance.leastconn import LeastConn
from lb.balance.ring import ConsistentRing
from lb.balance.view import PickKey, ServerView, selectable

_HASH = make_hasher("sdbm", True)


class LocalityLeastConn:
    __slots__ = ("_by_index", "_leastconn", "_ring", "_servers")

    def __init__(self, servers: Sequence[ServerView]) -> None:
        self._ring = ConsistentRing()
        self._leastconn = LeastConn((), cost="wlc")
        self._servers: list[ServerView] = []
        self._by_index: dict[int, ServerView] = {}
        self.update(servers)

    def update(self, servers: Sequence[ServerView]) -> None:
        self._ring.update(servers)
        self._leastconn.update(servers)
        self._servers = [s for s in servers if selectable(s)]
        self._by_index = {s.index: s for s in self._servers}

    def _overloaded(self, server: ServerView) -> bool:
        if server.cur_conns <= server.weight:
            return False
        return any(s.cur_conns * 2 < s.weight for s in self._servers)

    def pick(self, key: PickKey | None = None, exclude: int | None = None) -> int | None:
        destination = key.destination if key is not None else None
        if destination:
            index = self._ring.lookup(_HASH(destination), exclude)
            if index is not None and not self._overloaded(self._by_index[index]):
                return index
        return self._leastconn.pick(None, exclude)
