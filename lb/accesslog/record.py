"""What one traffic log line is made of: a ``LogRecord`` per request (HTTP) or session (TCP).

The data path fills a record as the request goes; the logger renders it once, at the end
(or early with ``option logasap``). Field meanings follow HAProxy's manual (sections 8.2.2,
8.2.3 and 8.4): times are milliseconds, ``-1`` means "never reached", and byte strings are
kept as received so that the log escapes them exactly as HAProxy would.
"""

from __future__ import annotations

import os
import socket

from msgspec import Struct, field

NOSRV = "<NOSRV>"


class LogRecord(Struct):
    """Everything ``option httplog``, ``option tcplog`` and the %-variables can show."""

    # -- connection: %ci %cp %fi %fp %ft %f
    client_ip: str = "-"
    client_port: int = -1  # -1 renders "-"
    frontend_ip: str = "-"
    frontend_port: int = -1
    frontend_name: str = ""
    tls: bool = False  # %ft appends "~" (not used before TLS arrives)
    # -- routing: %b %s %si %sp %bi %bp
    backend_name: str = ""  # "" = no backend chosen: renders the frontend's name, as HAProxy
    server_name: str = NOSRV
    server_ip: str = "-"
    server_port: int = -1
    backend_src_ip: str = "-"  # our side of the server connection
    backend_src_port: int = -1
    # -- dates (wall clock, epoch milliseconds): %t %T %Tl %ms %Ts use accept_ms, %tr* request_ms
    accept_ms: int = 0
    request_ms: int = -1  # -1 = accept_ms + Th + Ti (first byte of the request)
    # -- timers (ms, -1 = not reached), HAProxy's names (section 8.4)
    Th: int = 0  # handshakes (PROXY protocol, TLS): 0 without them
    Ti: int = -1  # idle before the request (HTTP)
    TR: int = -1  # receiving the request head (HTTP)
    Tw: int = -1  # queues
    Tc: int = -1  # connecting to the server
    Tr: int = -1  # server response head (HTTP)
    Ta: int = -1  # active time of the request, TR to the last byte (HTTP)
    Tt: int = -1  # whole session, accept to close
    # -- outcome
    status: int = 0  # %ST: HTTP status sent (-1 if none); 0 in TCP mode, as HAProxy
    bytes_out: int = 0  # %B "bytes_read": server (or proxy) to client, headers included
    bytes_in: int = 0  # %U: client to server
    cookie_req: bytes | None = None  # %CC: captured request cookie ("-" if none)
    cookie_res: bytes | None = None  # %CS
    termination: str = "--"  # %ts: 2 chars, section 8.5 ("--", "CD", "SC", "cR", "PR", …)
    cookie_state: str = "--"  # the 2 persistence chars %tsc appends
    # -- counters at log time
    actconn: int = 0
    feconn: int = 0
    beconn: int = 0
    srv_conn: int = 0
    retries: int = 0
    redispatched: bool = False  # %rc gets a "+" prefix
    srv_queue: int = 0
    backend_queue: int = 0
    request_counter: int = 0  # %rt
    # -- captures: one entry per "capture request|response header" line, None = absent.
    # None for the whole list = nothing captured (no capture lines, or a bad request):
    # %hr/%hs then print nothing at all, braces included.
    req_captures: list[bytes | None] | None = None
    res_captures: list[bytes | None] | None = None
    # -- the request line as received; method None = no valid request ("<BADREQ>")
    method: bytes | None = None
    uri: bytes = b""
    version: bytes = b""  # b"HTTP/1.1"; b"" for HTTP/0.9
    unique_id: str | None = None  # %ID


class ProcessInfo(Struct, frozen=True):
    """What is constant for a process: the syslog tag, pid and hostname (%pid, %H)."""

    tag: str = "lb"  # log-tag; HAProxy's default is its program name
    pid: int = field(default_factory=os.getpid)
    hostname: str = field(default_factory=socket.gethostname)


def elapsed_ms(start: float, end: float) -> int:
    """A log timer from two clock readings: milliseconds, or -1 when either was not reached
    (a reading of 0 means "never happened", as HAProxy prints -1 for such phases)."""
    return -1 if start <= 0 or end <= 0 else max(0, round((end - start) * 1000))
