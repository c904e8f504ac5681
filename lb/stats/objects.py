"""The objects that have counters, and their ids: matched by name across reloads.

The master keeps one ``ObjectTable`` for the life of the shared region. An object's key is
its kind and name (``be:app``, ``srv:app/s1``); the first configuration that names it gets
it an id, and every later generation that names it again gets the same id, so its counters
carry on. Ids are never reused: a server removed by a reload keeps its slot (and its
totals) in case a later reload brings it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from lb.config.model import Bind, Config, Proxy

BOOT_PREFIX = "stats.obj:"  # boot-message entries naming an object's id (see ids_for_boot)
BOOT_SLAB = "stats.slab"  # boot-message entry naming the worker's slab


class ObjKind(IntEnum):
    # HAProxy's "type" column values
    FRONTEND = 0
    BACKEND = 1
    SERVER = 2
    LISTENER = 3


def frontend_key(name: str) -> str:
    return f"fe:{name}"


def backend_key(name: str) -> str:
    return f"be:{name}"


def server_key(backend: str, server: str) -> str:
    return f"srv:{backend}/{server}"


def listener_key(frontend: str, listener: str) -> str:
    return f"li:{frontend}/{listener}"


def listener_name(bind: Bind, position: int) -> str:
    """A bind address's name: its ``name`` option, else HAProxy's ``sock-N`` (1-based)."""
    return bind.name or f"sock-{position + 1}"


@dataclass(frozen=True, slots=True)
class ObjectRef:
    kind: ObjKind
    key: str
    proxy: str
    name: str  # the server's or listener's name; "FRONTEND"/"BACKEND" otherwise


def config_objects(config: Config) -> list[ObjectRef]:
    """Every object of ``config`` that has counters, in display order."""
    out: list[ObjectRef] = []
    for proxy in config.proxies:
        out.extend(proxy_objects(proxy))
    return out


def proxy_objects(proxy: Proxy) -> list[ObjectRef]:
    out: list[ObjectRef] = []
    name = proxy.name
    if proxy.has_frontend:
        out.append(ObjectRef(ObjKind.FRONTEND, frontend_key(name), name, "FRONTEND"))
        for i, bind in enumerate(proxy.binds):
            lname = listener_name(bind, i)
            out.append(ObjectRef(ObjKind.LISTENER, listener_key(name, lname), name, lname))
    if proxy.has_backend:
        for server in proxy.servers:
            out.append(ObjectRef(ObjKind.SERVER, server_key(name, server.name), name, server.name))
        out.append(ObjectRef(ObjKind.BACKEND, backend_key(name), name, "BACKEND"))
    return out


class ObjectTable:
    """The master's key → id table. Ids are handed out once and never reused."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.ids: dict[str, int] = {}
        self.keys: list[str] = []
        self.overflow: set[str] = set()  # keys that found the table full (no counters)

    def __len__(self) -> int:
        return len(self.keys)

    def id(self, key: str) -> int:
        """The key's id; -1 when the table is full (the object then counts nothing)."""
        ident = self.ids.get(key)
        if ident is None:
            if len(self.keys) >= self.capacity:
                self.overflow.add(key)
                return -1
            ident = self.ids[key] = len(self.keys)
            self.keys.append(key)
        return ident

    def register(self, config: Config) -> dict[str, int]:
        """Ids of every object of ``config`` (new ones allocated), by key."""
        return {ref.key: self.id(ref.key) for ref in config_objects(config)}


def ids_for_boot(ids: dict[str, int], slab: int) -> dict[str, int]:
    """Entries for a worker's boot message (which carries a name → slot map of the region)."""
    out = {BOOT_PREFIX + key: ident for key, ident in ids.items() if ident >= 0}
    out[BOOT_SLAB] = slab
    return out


def ids_from_boot(entries: dict[str, int]) -> tuple[dict[str, int], int]:
    """The object ids and the slab (-1 if none) a worker was given at boot."""
    n = len(BOOT_PREFIX)
    ids = {k[n:]: v for k, v in entries.items() if k.startswith(BOOT_PREFIX)}
    return ids, entries.get(BOOT_SLAB, -1)
