"""In-process TLS servers for the tests: HTTP/1.1 (keep-alive) or echo, recording the SNI.

Each accepted connection is served by its own thread; ``stop()`` closes the listener
and every connection. The HTTP answer's body names the server, the SNI it received
("-" without) and the connection's number, so a test sees which connection served it.
"""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

from tests.support.clients import LOCAL


class TlsServer:
    def __init__(self, name: str, cert: Path, mode: str = "http") -> None:
        self.name = name
        self.mode = mode  # "http" or "echo"
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert))
        self.ctx.sni_callback = self._on_sni
        self.sni_seen: list[str] = []  # per connection, in order ("-" without SNI)
        self.handshakes = 0
        self.lock = threading.Lock()
        self.sock = socket.create_server((LOCAL, 0))
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _on_sni(self, obj: ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        obj.test_sni = name or "-"  # type: ignore[attr-defined]

    def _accept(self) -> None:
        while not self.closed:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(30)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        with self.lock:
            self.handshakes += 1
            number = self.handshakes
            sni = getattr(conn, "test_sni", "-")
            self.sni_seen.append(sni)
            self.conns.append(conn)
        try:
            if self.mode == "echo":
                while data := conn.recv(65536):
                    conn.sendall(data)
            else:
                self._http(conn, sni, number)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def _http(self, conn: ssl.SSLSocket, sni: str, number: int) -> None:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            while len(buf) < length:
                buf += conn.recv(65536)
            buf = buf[length:]
            body = f"{self.name} sni={sni} conn={number}\n".encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nx-server: %s\r\n\r\n%s"
                % (len(body), self.name.encode(), body)
            )

    def stop(self) -> None:
        self.closed = True
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass
