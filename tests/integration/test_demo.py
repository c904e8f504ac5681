"""`lb demo` (the README's first command) serves with nothing configured."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time

from tests.support.clients import free_port
from tests.support.lbproc import lb_command
from tests.support.procs import ProcRef, descendants, wait_gone


def _get(port: int, path: str = "/") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data


def test_demo_round_robins_over_its_backends() -> None:
    port, stats_port = free_port(), free_port()
    proc = subprocess.Popen(
        lb_command("demo", "--port", str(port), "--stats-port", str(stats_port)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    family: set[ProcRef] = set()
    try:
        names: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(names) < 6:
            family.update(descendants(proc.pid))
            try:
                reply = _get(port)
            except OSError:
                time.sleep(0.1)
                continue
            assert reply.startswith(b"HTTP/1.1 200 OK")
            names.append(re.search(rb"hello from (demo\d)", reply).group(1).decode())  # type: ignore[union-attr]
        assert len(set(names)) == 3, names
        page = _get(stats_port, "/stats")
        assert page.startswith(b"HTTP/1.1 200") and b"demo_servers" in page
        metrics = _get(stats_port, "/metrics")
        assert b'haproxy_backend_http_requests_total{proxy="demo_servers"}' in metrics
    finally:
        family.update(descendants(proc.pid))
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = proc.communicate(timeout=10)
    assert "lb demo: lb listens on" in out
    assert not wait_gone(list(family), 5.0), "demo processes outlived Ctrl-C"
