"""What rules need to know about servers at run time; the worker implements it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lb.sticktable.table import StickTable


class Runtime(Protocol):
    # the stick tables by name (lb.sticktable): every worker maps the same shared ones
    stick_tables: dict[str, StickTable]

    def servers_up(self, backend: str) -> int:
        """How many usable servers ``backend`` has now (``nbsrv``)."""
        ...

    def server_is_up(self, backend: str, server: str) -> bool:
        """Whether ``server`` of ``backend`` is usable now (``srv_is_up``, ``use-server``)."""
        ...


class StaticRuntime:
    """Every known server up unless listed as down: for tests and tools."""

    __slots__ = ("down", "servers", "stick_tables")

    def __init__(
        self, servers: dict[str, list[str]] | None = None, down: set[tuple[str, str]] | None = None
    ) -> None:
        self.servers = servers or {}
        self.down = down or set()
        self.stick_tables: dict[str, StickTable] = {}

    def servers_up(self, backend: str) -> int:
        return sum((backend, s) not in self.down for s in self.servers.get(backend, ()))

    def server_is_up(self, backend: str, server: str) -> bool:
        return server in self.servers.get(backend, ()) and (backend, server) not in self.down
