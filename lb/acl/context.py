"""What compiling one proxy's rules needs: the configuration around it, the files
it reads (pattern files, maps, return payloads), and where warnings go."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from lb.acl.errors import Diagnostics, RuleError
from lb.acl.users import CompiledUserlist
from lb.config.model import Config, Proxy, Source

Direction = Literal["req", "res"]
FileReader = Callable[[str], bytes]


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class FileSnapshot:
    """A reader that keeps what it read: the master can compile once with it, ship
    ``files`` to the workers, and the workers compile with ``files.__getitem__`` —
    so that every worker of a generation sees the same bytes, even after a chroot."""

    __slots__ = ("files",)

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def __call__(self, path: str) -> bytes:
        data = self.files.get(path)
        if data is None:
            data = self.files[path] = read_file(path)
        return data


class Shared:
    """Compiled once per configuration and shared by every proxy's rules."""

    __slots__ = ("config", "maps", "reader", "report", "userlists")

    def __init__(self, config: Config, reader: FileReader, report: Diagnostics) -> None:
        self.config = config
        self.reader = reader
        self.report = report
        self.userlists: dict[str, CompiledUserlist] = {}
        self.maps: dict[tuple[str, str, str], object] = {}


class Ctx:
    """One proxy, one direction (request or response rules), one line at a time."""

    __slots__ = ("direction", "proxy", "shared", "source")

    def __init__(self, shared: Shared, proxy: Proxy, direction: Direction, source: Source) -> None:
        self.shared = shared
        self.proxy = proxy
        self.direction = direction
        self.source = source

    def at(self, source: Source, direction: Direction | None = None) -> Ctx:
        return Ctx(self.shared, self.proxy, direction or self.direction, source)

    @property
    def config(self) -> Config:
        return self.shared.config

    def warn(self, message: str) -> None:
        self.shared.report.warning(self.source, message)

    def read(self, path: str) -> bytes:
        try:
            return self.shared.reader(path)
        except (OSError, KeyError) as e:
            reason = getattr(e, "strerror", None) or "not readable"
            raise RuleError(f"cannot read '{path}': {reason}") from None

    def pattern_lines(self, path: str) -> list[str]:
        """A pattern file as HAProxy reads it: a line starting with '#' is a comment
        (so " #x" is a pattern), leading blanks go, empty lines are skipped."""
        out: list[str] = []
        for raw in self.read(path).decode("utf-8", errors="surrogateescape").split("\n"):
            if raw.startswith("#"):
                continue
            line = raw.lstrip(" \t").rstrip("\r")
            if line:
                out.append(line)
        return out

    def backend_names(self) -> set[str]:
        return {p.name for p in self.config.proxies if p.has_backend}

    def server_names(self, backend: str) -> set[str] | None:
        p = self.config.backend(backend)
        return None if p is None else {s.name for s in p.servers}

    def userlist(self, name: str) -> CompiledUserlist:
        cached = self.shared.userlists.get(name)
        if cached is not None:
            return cached
        for ul in self.config.userlists:
            if ul.name == name:
                compiled = self.shared.userlists[name] = CompiledUserlist(ul)
                return compiled
        raise RuleError(f"no userlist named '{name}'")
