"""The hashing algorithms (source, uri, url_param, hdr, LVS sh/dh): key → hash → server.

The key's bytes are hashed with the ``hash-type`` function, then placed on a
consistent ring or a map-based table. A request with nothing to hash (no
parameter, no header, no address) goes to round robin over the same servers,
as HAProxy does.
"""

from __future__ import annotations

from collections.abc import Sequence

from lb.balance.dynamic_rr import RoundRobin
from lb.balance.hashes import HashFunction
from lb.balance.keys import KeyOf
from lb.balance.maptable import MapTable
from lb.balance.ring import ConsistentRing
from lb.balance.view import PickKey, ServerView


class HashBalancer:
    __slots__ = ("_fallback", "_hasher", "_key_of", "_placement")

    def __init__(
        self,
        servers: Sequence[ServerView],
        *,
        key_of: KeyOf,
        hasher: HashFunction,
        consistent: bool,
    ) -> None:
        self._key_of = key_of
        self._hasher = hasher
        self._placement: ConsistentRing | MapTable = (
            ConsistentRing(servers) if consistent else MapTable(servers)
        )
        self._fallback = RoundRobin(servers)

    def update(self, servers: Sequence[ServerView]) -> None:
        self._placement.update(servers)
        self._fallback.update(servers)

    def server_for(self, data: bytes, exclude: int | None = None) -> int | None:
        """Where these key bytes go (for callers that already hold the key)."""
        return self._placement.lookup(self._hasher(data), exclude)

    def pick(self, key: PickKey | None = None, exclude: int | None = None) -> int | None:
        data = self._key_of(key)
        if data is None:
            return self._fallback.pick(None, exclude)
        return self._placement.lookup(self._hasher(data), exclude)
