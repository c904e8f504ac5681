"""Building the log line of one HTTP request from what the session measured.

Kept apart from the session so the hot path only records timestamps and counts;
this runs once per request, and only when the frontend logs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lb.accesslog import LogRecord, elapsed_ms

if TYPE_CHECKING:
    from lb.worker.http.session import HttpSession, Request


def http_record(
    session: HttpSession, req: Request | None, status: int, termination: str
) -> LogRecord:
    now = session.loop.time()
    logger = session.frontend.logger
    assert logger is not None
    wall_offset = time.time() - now  # loop clock → wall clock
    rec = LogRecord(
        client_ip=session.client_ip,
        client_port=session.client_port,
        frontend_ip=session.local_ip,
        frontend_port=session.local_port,
        frontend_name=session.frontend.name,
        accept_ms=int((session.t_accept + wall_offset) * 1000),
        status=status,
        bytes_out=session.bytes_out,
        termination=termination,
        Tt=elapsed_ms(session.t_accept, now),
        feconn=session.worker.counters.load(session.frontend.cur_index),
        actconn=session.worker.counters.load(session.worker.global_cur),
    )
    backend = session.settings.backend
    if backend is not None:
        rec.backend_name = backend.name
    if req is None:
        return rec  # a request that never parsed: <BADREQ>
    head = req.head
    rec.method = head.method
    rec.uri = head.url
    rec.version = b"HTTP/" + head.version.encode()
    rec.bytes_in = req.bytes_in
    rec.Ti = elapsed_ms(session.t_idle_from, req.t_begin)
    rec.request_ms = int((req.t_begin + wall_offset) * 1000) if req.t_begin else -1
    rec.TR = elapsed_ms(req.t_begin, req.t_head)
    rec.Tw = elapsed_ms(req.t_head, req.t_dequeued) if req.t_dequeued else (0 if req.t_conn else -1)
    rec.Tc = elapsed_ms(req.t_conn, req.t_connected)
    rec.Tr = elapsed_ms(req.t_connected, req.t_resp)
    rec.Ta = elapsed_ms(req.t_begin, now)
    rec.retries = req.retries
    rec.redispatched = req.redispatched
    if req.server_name:
        rec.server_name = req.server_name
        target = session.target
        if target is not None and target.name == req.server_name:  # %si %sp %bi %bp
            rec.server_ip, rec.server_port = target.address
            upstream = session.upstream
            if logger.backend_source and upstream is not None and upstream.transport:
                local = upstream.transport.get_extra_info("sockname")
                if local:
                    rec.backend_src_ip, rec.backend_src_port = local[0], local[1]
    if len(logger.request_capture):
        rec.req_captures = logger.request_capture(head.headers)
    if len(logger.response_capture):
        rec.res_captures = (
            logger.response_capture(req.resp_headers)
            if req.resp_headers is not None
            else [None] * len(logger.response_capture)
        )
    return rec
