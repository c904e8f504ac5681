"""``lb demo``: lb in front of three small demo backends, with nothing to configure.

The backends answer any request with a short HTTP response naming themselves, so
``curl http://127.0.0.1:8000/`` shows the round robin at work; a second listener serves
the stats page and Prometheus metrics, and the master health-checks the backends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile

DEMO_CONFIG = """\
# The configuration `lb demo` runs: HAProxy syntax.
global
    nbthread 2
    stats socket {sock} mode 600 level admin
    hard-stop-after 30s

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch

frontend demo
    bind 127.0.0.1:{port}
    default_backend demo_servers

backend demo_servers
    balance roundrobin
{servers}

listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
    stats refresh 5s
    stats admin if LOCALHOST
    http-request use-service prometheus-exporter if {{ path /metrics }}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def _serve_backends(ports: list[int]) -> None:
    async def make(name: str, port: int) -> asyncio.AbstractServer:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass
            body = f"hello from {name} (port {port})\n".encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            writer.close()

        return await asyncio.start_server(handle, "127.0.0.1", port)

    servers = [await make(f"demo{i + 1}", p) for i, p in enumerate(ports)]
    parent = os.getppid()
    while os.getppid() == parent:  # the demo died without stopping us: follow it
        await asyncio.sleep(0.5)
    for server in servers:
        server.close()


def backends_main(argv: list[str]) -> int:
    """``python -m lb.demo backends PORT…`` (run by the demo in a child process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the demo stops us itself
    asyncio.run(_serve_backends([int(p) for p in argv]))
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="lb demo", description=__doc__)
    p.add_argument("--port", type=int, default=8000, help="where lb listens (default 8000)")
    p.add_argument(
        "--stats-port", type=int, default=8404, help="the stats page and /metrics (default 8404)"
    )
    args = p.parse_args(argv)
    port = args.port if _port_is_free(args.port) else _free_port()
    ports = [_free_port() for _ in range(3)]
    workdir = tempfile.mkdtemp(prefix="lb-demo-")
    sock = os.path.join(workdir, "lb.sock")
    servers = "\n".join(
        f"    server demo{i + 1} 127.0.0.1:{p} check inter 2s" for i, p in enumerate(ports)
    )
    stats_port = args.stats_port if _port_is_free(args.stats_port) else _free_port()
    cfg = os.path.join(workdir, "demo.cfg")
    with open(cfg, "w") as f:
        f.write(DEMO_CONFIG.format(sock=sock, port=port, servers=servers, stats_port=stats_port))
    backends = subprocess.Popen([sys.executable, "-m", "lb.demo", "backends", *map(str, ports)])
    print(
        f"""
lb demo: lb listens on 127.0.0.1:{port} in front of 3 demo backends.
  try:       curl http://127.0.0.1:{port}/      (run it a few times: round robin)
  stats:     http://127.0.0.1:{stats_port}/stats      (live page; ;csv and ;json too)
  metrics:   curl http://127.0.0.1:{stats_port}/metrics
  runtime:   echo 'show proc' | socat stdio {sock}
             echo 'show info' | socat stdio {sock}
  reload:    kill -USR2 <master pid>   (no connection is lost)
  config:    {cfg}
  stop:      Ctrl-C
""",
        flush=True,
    )
    from lb.cli import main as lb_main

    try:
        return lb_main(["-f", cfg])
    finally:
        backends.terminate()
        backends.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["backends"]:
        sys.exit(backends_main(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
