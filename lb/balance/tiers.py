"""Backup servers, HAProxy's way, around any algorithm.

Backup servers take traffic only when no non-backup server is selectable.
Then the first selectable backup (in server order) takes it all, unless
``option allbackups``, where the algorithm balances over every selectable
backup. Redispatch (``exclude``) stays within the tier in use, and returns the
excluded server when it is the only one there, as HAProxy retries it then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lb.balance.view import Balancer, PickKey, ServerView, selectable

AlgorithmFactory = Callable[[Sequence[ServerView]], Balancer]


@dataclass(frozen=True, slots=True)
class KeySpec:
    """Which ``PickKey`` field the balancer reads, so the worker fills only that one.

    ``field`` is None (no key), "source", "destination", "uri", "param" or
    "header"; ``name`` is the parameter or header name for the last two.
    """

    field: str | None = None
    name: str | None = None


class TieredBalancer:
    __slots__ = (
        "_allbackups",
        "_backup",
        "_first_backups",
        "_primary",
        "_primary_live",
        "algorithm",
        "key_spec",
    )

    def __init__(
        self,
        algorithm: str,
        factory: AlgorithmFactory,
        servers: Sequence[ServerView],
        *,
        allbackups: bool = False,
        key_spec: KeySpec | None = None,
    ) -> None:
        self.algorithm = algorithm
        self.key_spec = key_spec or KeySpec()
        self._allbackups = allbackups
        primaries = [s for s in servers if not s.backup]
        backups = [s for s in servers if s.backup]
        self._primary = factory(primaries)
        self._backup = factory(backups) if allbackups else None
        self._primary_live = False
        self._first_backups: list[int] = []
        self._classify(primaries, backups)

    def _classify(self, primaries: Sequence[ServerView], backups: Sequence[ServerView]) -> None:
        self._primary_live = any(selectable(s) for s in primaries)
        self._first_backups = sorted(s.index for s in backups if selectable(s))

    def update(self, servers: Sequence[ServerView]) -> None:
        primaries = [s for s in servers if not s.backup]
        backups = [s for s in servers if s.backup]
        self._primary.update(primaries)
        if self._backup is not None:
            self._backup.update(backups)
        self._classify(primaries, backups)

    def pick(self, key: PickKey | None = None, exclude: int | None = None) -> int | None:
        if self._primary_live:
            tier: Balancer | None = self._primary
        else:
            tier = self._backup
        if tier is not None:
            chosen = tier.pick(key, exclude)
            if chosen is None and exclude is not None:
                chosen = tier.pick(key, None)
            return chosen
        # No primary left and no allbackups: the first backup takes everything.
        for index in self._first_backups:
            if index != exclude:
                return index
        return self._first_backups[0] if self._first_backups else None
