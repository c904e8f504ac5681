"""The common shape of every balancing algorithm: what it sees, is asked and answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class ServerView:
    """What an algorithm may know about a server.

    The worker keeps these up to date from shared memory. Algorithms that read
    load (leastconn, first, random, the LVS ones) read ``cur_conns`` at pick
    time from the objects last given to ``update``, so refreshing that field in
    place is enough (the worker's views make it a property that reads the
    daemon-wide count); weight and state changes need ``update``.
    """

    index: int  # position in the backend's server list
    name: str
    weight: int  # effective weight 0..256 (0 = not selectable)
    usable: bool = True  # up and not in maintenance/drain (drain: existing persistence only)
    backup: bool = False
    cur_conns: int = 0  # daemon-wide current connections, from shared memory
    maxconn: int = 0  # 0 = unlimited


@dataclass(slots=True)
class PickKey:
    """The inputs a hashing algorithm may need; the worker fills what the balancer asks for."""

    source: bytes | None = None  # client address, packed (4 or 16 bytes)
    uri: str | None = None  # request target as received
    header: bytes | None = None  # value of the header named by ``hdr(NAME)``
    param: bytes | None = None  # value of the ``url_param`` parameter, if already extracted
    destination: bytes | None = None  # address the client connected to (LVS dh, lblc, lblcr)


class Balancer(Protocol):
    def pick(self, key: PickKey | None = None, exclude: int | None = None) -> int | None:
        """A server index, or None when no server can take the request.

        ``exclude`` (redispatch) names a server to avoid; it is still returned
        when it is the only one left, as HAProxy retries the same server then.
        """
        ...

    def update(self, servers: Sequence[ServerView]) -> None:
        """Weights or states changed: rebuild what needs rebuilding."""
        ...


def selectable(server: ServerView) -> bool:
    """Whether new traffic may go to ``server``: usable and with a positive weight."""
    return server.usable and server.weight > 0
