"""Admin actions: the stats page's form, the runtime API's server commands, and the wire
between a worker and the master.

A worker never changes server state itself: the master owns the server state table. The
page's form becomes runtime API commands (``set server BE/SRV state drain``, ``set weight
BE/SRV 5``), which the worker sends to the master over its control socket, one frame per
command; the master runs them as the runtime API would and every worker sees the new state
in shared memory. Only these server commands are accepted from a worker: a worker handles
untrusted traffic and must not be able to ask for a reload, say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

FRAME_START = b"\x02"  # STX; the worker's only other byte on the socket is READY ("R")
FRAME_END = b"\n"
MAX_FRAME = 4096

_NAME = r"[A-Za-z0-9_.:-]+"
WORKER_COMMANDS = re.compile(
    rf"(?:set server {_NAME}/{_NAME} state (?:ready|drain|maint)"
    rf"|set weight {_NAME}/{_NAME} \d{{1,3}}%?"
    rf"|(?:enable|disable) server {_NAME}/{_NAME})"
)

ACTIONS = ("ready", "drain", "maint", "weight")


def encode_frame(command: str) -> bytes:
    data = command.encode()
    if b"\n" in data or b"\x02" in data:
        raise ValueError("a command is one line")
    return FRAME_START + data + FRAME_END


@dataclass(slots=True)
class FrameDecoder:
    """The master's side: commands out of a byte stream that may also carry READY."""

    buffer: bytearray = field(default_factory=bytearray)
    inside: bool = False

    def feed(self, data: bytes) -> list[str]:
        out: list[str] = []
        for byte in data:
            if not self.inside:
                if byte == FRAME_START[0]:
                    self.inside = True
                    self.buffer.clear()
                continue  # READY or noise between frames
            if byte == FRAME_END[0]:
                self.inside = False
                out.append(self.buffer.decode("utf-8", "replace"))
                self.buffer.clear()
            elif len(self.buffer) < MAX_FRAME:
                self.buffer.append(byte)
        return out


def allowed_from_worker(command: str) -> bool:
    return WORKER_COMMANDS.fullmatch(command) is not None


# --------------------------------------------------------------------------- the form


@dataclass(frozen=True, slots=True)
class FormAction:
    backend: str  # "#IID" or a name, as the form sent it
    servers: tuple[str, ...]
    action: str
    weight: int | None = None


def parse_form(body: bytes) -> FormAction | None:
    """The admin form (application/x-www-form-urlencoded); None when it makes no sense."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    backend = ""
    action = ""
    weight: int | None = None
    servers: list[str] = []
    for key, value in pairs:
        if key == "b":
            backend = value
        elif key == "s":
            servers.append(value)
        elif key == "action":
            action = value
        elif key == "weight" and value.strip():
            try:
                weight = int(value)
            except ValueError:
                return None
    if not backend or action not in ACTIONS:
        return None
    if action == "weight" and (weight is None or not 0 <= weight <= 256):
        return None
    return FormAction(backend, tuple(servers), action, weight)


def commands_for(form: FormAction, backend: str) -> list[str]:
    """Runtime API commands doing what the form asked, for the resolved backend name."""
    out = []
    for server in form.servers:
        if form.action == "weight":
            out.append(f"set weight {backend}/{server} {form.weight}")
        else:
            out.append(f"set server {backend}/{server} state {form.action}")
    return out
