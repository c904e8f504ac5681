"""Runs inside a test namespace and drives ``lb.vrrp`` objects on request (see netns.Agent).

Protocol: one JSON object per line on stdin, ``{"op": NAME, ...arguments}``; one JSON line
back on stdout, ``{"ok": true, "result": ...}`` or ``{"ok": false, "type", "message",
"errno"}``. The agent exits at end of input.

Every operation runs inside a running asyncio loop, synchronously, because that is how the
master calls this code (pyroute2's synchronous API breaks there unless handled).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Callable
from typing import Any

from lb.vrrp.announce import send_gratuitous_arp, send_unsolicited_na
from lb.vrrp.io import Received, VrrpChannel
from lb.vrrp.vips import VipManager

FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}


class Agent:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.channels: dict[str, VrrpChannel] = {}
        self._vips: VipManager | None = None

    @property
    def vips(self) -> VipManager:
        if self._vips is None:
            self._vips = VipManager()
        return self._vips

    def close(self) -> None:
        for ch in self.channels.values():
            ch.close()
        if self._vips is not None:
            self._vips.close()

    # -- operations

    def op_channel_open(
        self,
        id: str,
        ifname: str,
        family: int,
        unicast_src: str | None = None,
        unicast_peers: list[str] = [],  # noqa: B006 - JSON arguments, never mutated
    ) -> dict[str, Any]:
        ch = VrrpChannel(
            ifname, FAMILIES[family], unicast_src=unicast_src, unicast_peers=unicast_peers
        )
        self.channels[id] = ch
        return {
            "primary_address": ch.primary_address,
            "ifindex": ch.ifindex,
            "destinations": list(ch.destinations),
        }

    def op_channel_send(self, id: str, payload: str, dst: str | None = None) -> None:
        self.channels[id].send(bytes.fromhex(payload), dst)

    async def op_channel_recv(self, id: str, timeout: float = 1.0) -> list[dict[str, Any]]:
        """Wait (with add_reader, as the master does) up to timeout for a datagram, then
        return it and whatever else is queued."""
        ch = self.channels[id]
        got: list[Received] = []
        done = self.loop.create_future()

        def readable() -> None:
            while (r := ch.recv()) is not None:
                got.append(r)
            if got and not done.done():
                done.set_result(None)

        self.loop.add_reader(ch.fileno(), readable)
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError:
            pass
        finally:
            self.loop.remove_reader(ch.fileno())
        return [
            {
                "payload": r.payload.hex(),
                "src": r.src,
                "dst": r.dst,
                "ttl": r.ttl,
                "ifindex": r.ifindex,
            }
            for r in got
        ]

    def op_channel_close(self, id: str) -> None:
        self.channels.pop(id).close()

    def op_vips(self, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if method not in ("add", "remove", "present", "ifindex", "mac", "primary", "addresses"):
            raise ValueError(f"no such VipManager method {method!r}")
        if method == "primary":
            args = [args[0], FAMILIES[args[1]]]
        return getattr(self.vips, method)(*args, **kwargs)

    def op_garp(self, ifname: str, ipv4: str, mac: str | None = None) -> None:
        send_gratuitous_arp(ifname, ipv4, mac)

    def op_na(self, ifname: str, ipv6: str, mac: str | None = None, **kw: Any) -> None:
        send_unsolicited_na(ifname, ipv6, mac, **kw)


async def serve() -> None:
    loop = asyncio.get_running_loop()
    agent = Agent(loop)
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            req = json.loads(line)
            op = req.pop("op")
            try:
                fn: Callable[..., Any] = getattr(agent, f"op_{op}")
                result = fn(**req)
                if asyncio.iscoroutine(result):
                    result = await result
                reply = {"ok": True, "result": result}
            except Exception as exc:
                reply = {
                    "ok": False,
                    "type": type(exc).__name__,
                    "message": str(exc),
                    "errno": getattr(exc, "errno", None),
                }
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
    finally:
        agent.close()


if __name__ == "__main__":
    asyncio.run(serve())
