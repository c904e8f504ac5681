"""An HTTP/1.1 backend server for the HTTP tests, run as its own process, and its handle.

Run as a script (stdlib only, so it starts fast):

    python http_servers.py --port 0 --name s1 --log events.jsonl

It prints ``READY <port>`` once it listens, then serves until killed (by pid). Every event is
a JSON line in ``--log``; the ``t`` field is CLOCK_MONOTONIC (comparable across processes):

  open   a TCP connection accepted: ``conn`` (its id, 1, 2, …), ``accepted`` (the count so
         far), ``cur`` (open now), ``peer``
  rx     bytes received on a connection (logged for its first MiB only): ``n``, ``b64``
         (the bytes, at most 4 KiB of them per event)
  req    one parsed request: ``method``, ``target``, ``version``, ``headers`` ([name, value]
         pairs as received), ``head_b64`` (the raw head, request line to blank line),
         ``body_len``, ``body_sha256``, ``body_b64`` (when at most 64 KiB), ``chunked``,
         ``chunks`` (the chunk sizes), ``trailers``, ``conn``, ``n`` (the request's rank on
         its connection)
  bad    bytes that do not parse as a request: ``why``, ``b64``; answered 400, then closed
  ws     a WebSocket frame echoed: ``opcode``, ``len``
  close  the connection closed: ``rx`` (bytes), ``requests``, ``error``

Answers follow the request's path and query (several may combine):

  s=20k        a body of that many bytes of the deterministic pattern (k = 1024, m = 1024²;
               ``pattern_digest(seed, size)`` of servers.py gives its sha256); seed=N
  r=404        the status (204, 304 and 1xx-less HEAD answers carry no body)
  t=50ms       wait before answering (ms, s, or plain seconds)
  chunked=1    a chunked response (chunks of ``cs`` bytes, default 16 KiB); trailers=1 adds a
               trailer field ``X-Trailer: yes``
  close=1      no Content-Length, no chunking: the body ends when the server closes
  sclose=1     ``Connection: close`` on the answer, then close
  hang=1       never answer (read and discard until the peer closes)
  die=after-head     a head promising 1000 bytes, 10 of them, then close
  die=mid-chunk      a chunked head, one chunk, then close
  die=before-head    close without a byte of answer
  bad=status|garbage|cl|space   an invalid response (bad status code, not HTTP at all,
               two differing Content-Length, a space before a colon)
  info=103     send a ``103 Early Hints`` interim response first
  expect=ignore|417  on ``Expect: 100-continue``: send no 100 (just read the body), or
               answer 417 without reading the body; by default send ``100 Continue`` first
  hdr=Name:Value     add a response header (repeatable; url-encoded)
  /ws          a WebSocket echo endpoint (RFC 6455: text, binary, ping → pong, close)

Every answer (but die/bad) has ``X-Server`` (the name), ``X-Conn`` (the server-side
connection id: two responses with the same one came over one backend connection), ``X-Req-N``
(the request's rank on that connection), ``X-Body-Len`` and ``X-Body-Sha256`` (of the request
body after de-chunking), and ``X-Method``.

``HttpBackend`` (importable) starts one as a subprocess and reads its log.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

if __name__ == "__main__":
    from servers import pattern_chunks  # run as a script: tests/support is sys.path[0]
else:
    from tests.support.procs import ProcRef
    from tests.support.servers import pattern_chunks

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RX_LOG_LIMIT = 1 << 20
BODY_LOG_LIMIT = 64 << 10
MAX_HEAD = 256 << 10


class BadRequest(Exception):
    pass


class PeerClosed(Exception):
    pass


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = 1
    if text.endswith("k"):
        mult, text = 1024, text[:-1]
    elif text.endswith("m"):
        mult, text = 1 << 20, text[:-1]
    elif text.endswith("g"):
        mult, text = 1 << 30, text[:-1]
    return int(float(text) * mult)


def parse_delay(text: str) -> float:
    text = text.strip().lower()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    if text.endswith("s"):
        return float(text[:-1])
    return float(text)


def ws_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


class Server:
    def __init__(self, name: str, log_path: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.cur = 0
        self.accepted = 0
        self.log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process

    def event(self, **fields: object) -> None:
        fields["t"] = time.monotonic()
        fields["server"] = self.name
        line = json.dumps(fields)
        with self.lock:
            self.log.write(line + "\n")

    def handle(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        with self.lock:
            self.cur += 1
            self.accepted += 1
            cid = self.accepted
            cur = self.cur
        self.event(ev="open", conn=cid, accepted=cid, cur=cur, peer=f"{peer[0]}:{peer[1]}")
        conn = Conn(self, sock, cid)
        error = ""
        try:
            conn.serve()
        except PeerClosed:
            pass
        except OSError as e:
            error = f"{type(e).__name__}: {e}"
        finally:
            sock.close()
            with self.lock:
                self.cur -= 1
                cur = self.cur
            self.event(ev="close", conn=cid, cur=cur, rx=conn.rx, requests=conn.nreq, error=error)


class Conn:
    """One accepted connection: a receive buffer and the request loop."""

    def __init__(self, server: Server, sock: socket.socket, cid: int) -> None:
        self.srv = server
        self.sock = sock
        self.cid = cid
        self.buf = bytearray()
        self.rx = 0
        self.nreq = 0

    # ------------------------------------------------------------------ input

    def fill(self) -> None:
        data = self.sock.recv(256 * 1024)
        if not data:
            raise PeerClosed
        if self.rx < RX_LOG_LIMIT:
            self.srv.event(
                ev="rx", conn=self.cid, n=len(data), b64=base64.b64encode(data[:4096]).decode()
            )
        self.rx += len(data)
        self.buf += data

    def read_head(self) -> bytes:
        """The request head up to and including its blank line (CRLF or bare LF)."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            j = self.buf.find(b"\n\n")
            ends = [x + 4 for x in (i,) if x >= 0] + [x + 2 for x in (j,) if x >= 0]
            if ends:
                end = min(ends)
                head = bytes(self.buf[:end])
                del self.buf[:end]
                return head
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("head too long")
            self.fill()

    def read_line(self) -> bytes:
        while (i := self.buf.find(b"\n")) < 0:
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("line too long")
            self.fill()
        line = bytes(self.buf[: i + 1])
        del self.buf[: i + 1]
        return line

    def read_body(self, n: int, h: Any, keep: bytearray | None) -> None:
        while n > 0:
            if not self.buf:
                self.fill()
            take = min(n, len(self.buf))
            part = self.buf[:take]
            h.update(part)
            if keep is not None and len(keep) < BODY_LOG_LIMIT:
                keep += part
            del self.buf[:take]
            n -= take

    def drain_forever(self) -> None:
        while True:
            self.buf.clear()
            self.fill()

    # ------------------------------------------------------------------ output

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    # ------------------------------------------------------------------ requests

    def serve(self) -> None:
        while True:
            if not self.buf:
                self.fill()
            try:
                if not self.one_request():
                    return
            except BadRequest as e:
                self.srv.event(
                    ev="bad",
                    conn=self.cid,
                    why=str(e),
                    b64=base64.b64encode(bytes(self.buf[:4096])).decode(),
                )
                self.send(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                return

    def one_request(self) -> bool:
        """Serve one request; False when the connection must close afterwards."""
        head = self.read_head()
        lines = head.replace(b"\r\n", b"\n").split(b"\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            self.buf[:0] = head
            raise BadRequest(f"bad request line {lines[0][:200]!r}")
        method, target, version = (p.decode("latin-1") for p in parts)
        headers: list[list[str]] = []
        for ln in lines[1:]:
            if not ln:
                continue
            name, sep, value = ln.partition(b":")
            if not sep:
                self.buf[:0] = head
                raise BadRequest(f"bad header line {ln[:200]!r}")
            headers.append([name.decode("latin-1"), value.strip().decode("latin-1")])
        self.nreq += 1
        hmap: dict[str, str] = {}
        for k, v in headers:
            kl = k.lower()
            hmap[kl] = f"{hmap[kl]}, {v}" if kl in hmap else v
        url = urlsplit(target)
        q: dict[str, list[str]] = {}
        for k, v in parse_qsl(url.query, keep_blank_values=True):
            q.setdefault(k, []).append(v)

        def opt(key: str, default: str = "") -> str:
            return q.get(key, [default])[-1]

        conn_tokens = {t.strip().lower() for t in hmap.get("connection", "").split(",")}
        keep_alive = (
            "close" not in conn_tokens if version == "HTTP/1.1" else "keep-alive" in conn_tokens
        )

        # --- Expect: 100-continue
        expect = hmap.get("expect", "").lower() == "100-continue"
        has_body = "transfer-encoding" in hmap or int(hmap.get("content-length", "0") or 0) > 0
        if expect and has_body:
            mode = opt("expect")
            if mode == "417":
                self.log_req(method, target, version, headers, head, 0, "", b"", False, [], [])
                self.send(
                    b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n"
                )
                return False
            if mode != "ignore":
                self.send(b"HTTP/1.1 100 Continue\r\n\r\n")

        # --- the body
        h = hashlib.sha256()
        keep = bytearray()
        chunked = False
        chunks: list[int] = []
        trailers: list[list[str]] = []
        te = hmap.get("transfer-encoding", "")
        if te:
            codings = [c.strip().lower() for c in te.split(",")]
            if codings[-1] != "chunked":
                self.buf[:0] = head
                raise BadRequest(f"transfer-encoding {te!r} without chunked last")
            chunked = True
            while True:
                line = self.read_line()
                size_txt = line.split(b";")[0].strip()
                try:
                    size = int(size_txt, 16)
                except ValueError:
                    raise BadRequest(f"bad chunk size {line[:100]!r}") from None
                chunks.append(size)
                if size == 0:
                    break
                self.read_body(size, h, keep)
                crlf = self.read_line()
                if crlf.strip():
                    raise BadRequest(f"chunk not followed by CRLF: {crlf[:100]!r}")
            while True:
                line = self.read_line()
                if not line.strip():
                    break
                name, _, value = line.partition(b":")
                trailers.append([name.decode("latin-1"), value.strip().decode("latin-1")])
        elif "content-length" in hmap:
            try:
                n = int(hmap["content-length"])
            except ValueError:
                raise BadRequest(f"bad content-length {hmap['content-length']!r}") from None
            self.read_body(n, h, keep)
        body_len = sum(chunks) if chunked else int(hmap.get("content-length", "0") or 0)
        self.log_req(
            method,
            target,
            version,
            headers,
            head,
            body_len,
            h.hexdigest(),
            bytes(keep),
            chunked,
            chunks,
            trailers,
        )

        # --- WebSocket
        if url.path == "/ws" and "websocket" in hmap.get("upgrade", "").lower():
            self.websocket(hmap)
            return False

        return self.respond(method, version, url.path, q, opt, keep_alive, body_len, h)

    def log_req(
        self,
        method: str,
        target: str,
        version: str,
        headers: list[list[str]],
        head: bytes,
        body_len: int,
        sha: str,
        body: bytes,
        chunked: bool,
        chunks: list[int],
        trailers: list[list[str]],
    ) -> None:
        ev: dict[str, Any] = dict(
            ev="req",
            conn=self.cid,
            n=self.nreq,
            method=method,
            target=target,
            version=version,
            headers=headers,
            head_b64=base64.b64encode(head).decode(),
            body_len=body_len,
            body_sha256=sha,
            chunked=chunked,
            chunks=chunks[:1000],
            trailers=trailers,
        )
        if body_len <= BODY_LOG_LIMIT:
            ev["body_b64"] = base64.b64encode(body).decode()
        self.srv.event(**ev)

    def respond(
        self,
        method: str,
        version: str,
        path: str,
        q: dict[str, list[str]],
        opt: Any,
        keep_alive: bool,
        body_len: int,
        h: Any,
    ) -> bool:
        if opt("t"):
            time.sleep(parse_delay(opt("t")))
        if opt("hang"):
            self.drain_forever()
        die = opt("die")
        if die == "before-head":
            return False
        if die == "after-head":
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
            time.sleep(0.05)
            return False
        if die == "mid-chunk":
            self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
            time.sleep(0.05)
            return False
        bad = opt("bad")
        if bad:
            self.send(
                {
                    "status": b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
                    "garbage": b"this is not HTTP\r\n\r\n",
                    "cl": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                    "space": b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
                }.get(bad, b"\x00\x01\x02\r\n\r\n")
            )
            time.sleep(0.05)
            return False
        if opt("info"):
            self.send(f"HTTP/1.1 {opt('info')} Early Hints\r\nLink: </style.css>\r\n\r\n".encode())

        status = int(opt("r", "200"))
        seed = int(opt("seed", "1"))
        if "s" in q:
            size = parse_size(opt("s"))
            body_iter = None
        else:
            text = f"{self.srv.name} {method} {path}\n".encode()
            size = len(text)
            body_iter = [text]
        no_body = method == "HEAD" or status in (204, 304) or status < 200
        reason = {200: "OK", 204: "No Content", 304: "Not Modified", 404: "Not Found"}.get(
            status, "Whatever"
        )
        close_delim = bool(opt("close"))
        closing = close_delim or bool(opt("sclose")) or not keep_alive
        out = [
            f"HTTP/1.1 {status} {reason}",
            f"X-Server: {self.srv.name}",
            f"X-Conn: {self.cid}",
            f"X-Req-N: {self.nreq}",
            f"X-Method: {method}",
            f"X-Body-Len: {body_len}",
            f"X-Body-Sha256: {h.hexdigest()}",
        ]
        for hv in q.get("hdr", []):
            out.append(unquote(hv))
        chunked = bool(opt("chunked")) and not close_delim
        if status in (204, 304) or status < 200:
            pass
        elif chunked:
            out.append("Transfer-Encoding: chunked")
            if opt("trailers"):
                out.append("Trailer: X-Trailer")
        elif not close_delim:
            out.append(f"Content-Length: {size}")
        if closing:
            out.append("Connection: close")
        self.send(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        if not no_body:
            it = body_iter if body_iter is not None else pattern_chunks(seed, size)
            if chunked:
                cs = parse_size(opt("cs", "16k"))
                for piece in it:
                    piece = bytes(piece)
                    for off in range(0, len(piece), cs):
                        part = piece[off : off + cs]
                        self.send(b"%x\r\n" % len(part) + part + b"\r\n")
                tail = b"X-Trailer: yes\r\n" if opt("trailers") else b""
                self.send(b"0\r\n" + tail + b"\r\n")
            else:
                for piece in it:
                    self.sock.sendall(piece)
        if closing:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return False
        return True

    # ------------------------------------------------------------------ WebSocket

    def websocket(self, hmap: dict[str, str]) -> None:
        key = hmap.get("sec-websocket-key", "")
        self.send(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {ws_accept(key)}\r\nX-Server: {self.srv.name}\r\n\r\n"
            ).encode()
        )
        while True:
            hdr = self.take(2)
            opcode = hdr[0] & 0x0F
            masked = hdr[1] & 0x80
            n = hdr[1] & 0x7F
            if n == 126:
                n = int.from_bytes(self.take(2), "big")
            elif n == 127:
                n = int.from_bytes(self.take(8), "big")
            mask = self.take(4) if masked else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.take(n)))
            self.srv.event(ev="ws", conn=self.cid, opcode=opcode, len=n)
            if opcode == 0x8:  # close: echo it, then close
                self.send(self.frame(0x8, data[:2]))
                return
            if opcode == 0x9:  # ping
                self.send(self.frame(0xA, data))
            elif opcode in (0x0, 0x1, 0x2):
                self.send(self.frame(opcode, data, fin=bool(hdr[0] & 0x80)))

    def take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    @staticmethod
    def frame(opcode: int, data: bytes, fin: bool = True) -> bytes:
        b0 = (0x80 if fin else 0) | opcode
        n = len(data)
        if n < 126:
            return bytes([b0, n]) + data
        if n < 1 << 16:
            return bytes([b0, 126]) + n.to_bytes(2, "big") + data
        return bytes([b0, 127]) + n.to_bytes(8, "big") + data


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--name", default="srv")
    ap.add_argument("--log", default=os.devnull)
    args = ap.parse_args(argv)
    srv = Server(args.name, args.log)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET  # --host ::1: IPv6
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.host, args.port))
    ls.listen(1024)
    pattern_chunks(1, 1)  # warm the pattern cache of seed 1
    list(pattern_chunks(1, 2 << 20))
    sys.stdout.write(f"READY {ls.getsockname()[1]}\n")
    sys.stdout.flush()
    while True:
        sock, peer = ls.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=srv.handle, args=(sock, peer), daemon=True).start()


# ---------------------------------------------------------------------- the handle


class HttpBackend:
    """One http_servers.py process: its port, pid, and the events it logged."""

    def __init__(self, workdir: Path, name: str = "srv", port: int = 0) -> None:
        import select

        self.name = name
        self.log_path = workdir / f"http-backend-{name}-{os.getpid()}-{time.monotonic_ns()}.jsonl"
        self.log_path.touch()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--name", name]
        cmd += ["--log", str(self.log_path), "--port", str(port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.ref = ProcRef.of(self.pid)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 10.0)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"http backend {name} did not start: {line!r}")
        self.port = int(line.split()[1])

    def events(self, ev: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            if line.endswith("}"):  # a line being written is not complete yet
                e = json.loads(line)
                if ev is None or e["ev"] == ev:
                    out.append(e)
        return out

    def requests(self) -> list[dict[str, Any]]:
        return self.events("req")

    def accepted(self) -> int:
        """TCP connections accepted so far."""
        return len(self.events("open"))

    def raw_received(self) -> bytes:
        """Every byte logged as received (the first MiB of each connection), in order."""
        return b"".join(base64.b64decode(e["b64"]) for e in self.events("rx"))

    def wait_requests(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(reqs := self.requests()) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return reqs

    def wait_events(self, ev: str, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(evs := self.events(ev)) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return evs

    def clear(self) -> None:
        """Forget the events so far (the log file is truncated; the server appends)."""
        self.log_path.write_text("")

    def stop(self) -> None:
        if self.proc.poll() is None:
            if self.ref is not None:
                self.ref.kill(signal.SIGKILL)
            self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def request_head(ev: dict[str, Any]) -> bytes:
    """The raw head of a logged request."""
    return base64.b64decode(ev["head_b64"])


def header_values(ev: dict[str, Any], name: str) -> list[str]:
    """The values of a header of a logged request, in order (one per line received)."""
    return [v for k, v in ev["headers"] if k.lower() == name.lower()]


if __name__ == "__main__":
    main()
