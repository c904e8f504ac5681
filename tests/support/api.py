"""A client for lb's runtime API (the ``stats socket``) and parsers for its answers."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


def api_call(path: str, command: str, timeout: float = 5.0) -> str:
    """Send one line (commands separated by ``;``) and read the answer until the server closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks).decode(errors="replace")


@dataclass(frozen=True)
class ProcLine:
    pid: int
    type: str
    reloads: str
    slot: int | None  # None on the master line
    generation: int | None
    raw: str


@dataclass
class ShowProc:
    master: ProcLine | None = None
    workers: list[ProcLine] = field(default_factory=list)  # current generation section
    old_workers: list[ProcLine] = field(default_factory=list)
    raw: str = ""

    def generation(self) -> int:
        """The newest generation among the current workers (-1 if none)."""
        return max((w.generation or 0 for w in self.workers), default=-1)

    def current(self) -> list[ProcLine]:
        """The workers of the newest generation."""
        g = self.generation()
        return [w for w in self.workers if w.generation == g]

    def all_pids(self) -> list[int]:
        pids = [w.pid for w in self.workers + self.old_workers]
        if self.master is not None:
            pids.append(self.master.pid)
        return pids


def parse_show_proc(text: str) -> ShowProc:
    """Parse ``show proc``: a master line, ``# workers`` and ``# old workers`` sections."""
    out = ShowProc(raw=text)
    section = "master"
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            title = stripped.lstrip("#").strip().lower()
            if title.startswith("old worker"):
                section = "old"
            elif title.startswith("worker"):
                section = "workers"
            elif title.startswith("program"):
                section = "other"
            # else: the column header line
            continue
        fields = stripped.split()
        if len(fields) < 2 or not fields[0].isdigit():
            raise ValueError(f"unexpected show proc line: {line!r}")
        if fields[1] == "master":
            out.master = ProcLine(int(fields[0]), "master", fields[2], None, None, line)
            continue
        if section not in ("workers", "old"):
            continue
        entry = ProcLine(
            pid=int(fields[0]),
            type=fields[1],
            reloads=fields[2],
            slot=int(fields[-2]),
            generation=int(fields[-1]),
            raw=line,
        )
        (out.workers if section == "workers" else out.old_workers).append(entry)
    return out


def parse_show_info(text: str) -> dict[str, str]:
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info
