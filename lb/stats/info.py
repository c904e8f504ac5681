"""What only the master knows, published in the region for the workers' stats pages.

The master writes a ``MasterInfo`` (msgpack) into the region's info blob whenever a worker
starts or exits, at each reload, and once a second; a worker serving the stats page or
/metrics reads it to show the process block, the worker list and VRRP.
"""

from __future__ import annotations

import msgspec


class WorkerInfo(msgspec.Struct, frozen=True):
    pid: int
    slot: int
    generation: int
    started: float  # wall clock, s
    ready: bool = False
    stopping: bool = False
    slab: int = -1


class SlotInfo(msgspec.Struct, frozen=True):
    slot: int
    restarts: int  # workers of this slot that died and were replaced (not reloads)


class VrrpInfo(msgspec.Struct, frozen=True):
    name: str
    state: str  # "MASTER", "BACKUP", "FAULT", "INIT"
    priority: int = 0


class MasterInfo(msgspec.Struct):
    pid: int = 0
    started: float = 0.0  # wall clock, s
    generation: int = 0
    nworkers: int = 0
    maxconn: int = 0
    reloads: int = 0
    failed_reloads: int = 0
    stopping: bool = False
    workers: list[WorkerInfo] = msgspec.field(default_factory=list)
    slots: list[SlotInfo] = msgspec.field(default_factory=list)
    vrrp: list[VrrpInfo] = msgspec.field(default_factory=list)

    @property
    def restarts(self) -> int:
        return sum(s.restarts for s in self.slots)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(MasterInfo)


def encode_info(info: MasterInfo) -> bytes:
    return _encoder.encode(info)


def decode_info(blob: bytes) -> MasterInfo:
    if not blob:
        return MasterInfo()
    try:
        return _decoder.decode(blob)
    except msgspec.DecodeError:
        return MasterInfo()
