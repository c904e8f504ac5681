"""``AccessLogger``: one frontend's traffic logs, from records to every ``log`` target.

The format is chosen once, as HAProxy does: ``log-format`` if set, else ``option httplog``
(``option tcplog``'s line for a TCP record), else ``option tcplog``; with none of them,
only ``log_connect`` (HAProxy's legacy "Connect from" line, sent at accept) logs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Literal

from lb.accesslog.captures import HeaderCapture
from lb.accesslog.formats import HTTPLOG, TCPLOG, LogFormat, compile_log_format
from lb.accesslog.record import LogRecord, ProcessInfo
from lb.accesslog.sender import LogSender
from lb.accesslog.syslog import ERR, INFO
from lb.config.model import Capture, LogOptions, LogTarget

# %bi / %bp (with or without {flags}): our side of the server connection
_BACKEND_SOURCE = re.compile(r"%(\{[^}]*\})?b[ip](?![A-Za-z])")


def is_error(rec: LogRecord) -> bool:
    """What ``option log-separate-errors`` raises to "err": errors, timeouts, retries,
    redispatches, 5xx."""
    return (
        rec.termination[:1] not in ("-", "")
        or rec.status >= 500
        or rec.retries > 0
        or rec.redispatched
    )


class AccessLogger:
    """Traffic logs of one frontend (or listen) section."""

    def __init__(
        self,
        targets: Iterable[LogTarget],
        options: LogOptions,
        *,
        mode: Literal["http", "tcp"] = "http",
        request_captures: Iterable[Capture] = (),
        response_captures: Iterable[Capture] = (),
        process: ProcessInfo | None = None,
        send_hostname: str | None = None,
        separate_errors: bool = False,
    ) -> None:
        """Raises LogFormatError (bad log-format) or SyslogError (bad target) at once."""
        self.process = process or ProcessInfo()
        self.options = options
        self.logasap = options.logasap
        self.separate_errors = separate_errors
        self.request_capture = HeaderCapture(request_captures)
        self.response_capture = HeaderCapture(response_captures)
        self._http_fmt, self._tcp_fmt = self._formats(options, mode)
        # the backend source address costs a getsockname() per line: only when shown
        self.backend_source = any(
            f is not None and _BACKEND_SOURCE.search(f.source) is not None
            for f in (self._http_fmt, self._tcp_fmt)
        )
        self.senders: list[LogSender] = []
        try:
            for t in targets:
                self.senders.append(LogSender(t, self.process, send_hostname=send_hostname))
        except BaseException:
            self.close()
            raise
        self.enabled = bool(self.senders)

    def _formats(
        self, options: LogOptions, mode: Literal["http", "tcp"]
    ) -> tuple[LogFormat | None, LogFormat | None]:
        def comp(fmt: str, m: Literal["http", "tcp"]) -> LogFormat:
            return compile_log_format(fmt, mode=m, logasap=options.logasap, process=self.process)

        if options.log_format is not None:
            custom = comp(options.log_format, mode)
            return custom, custom
        tcp = comp(TCPLOG, "tcp") if (options.tcplog or options.httplog) else None
        if options.httplog and mode == "http":
            return comp(HTTPLOG, "http"), tcp
        return tcp, tcp

    def wants_line(self, rec: LogRecord) -> bool:
        """False when nothing would be sent (no target, or dontlognull on an empty session)."""
        if not self.senders:
            return False
        return not (self.options.dontlognull and rec.bytes_in == 0)

    def _emit(self, fmt: LogFormat | None, rec: LogRecord) -> None:
        if fmt is None or not self.wants_line(rec):
            return
        line = fmt.render(rec)
        level = ERR if self.separate_errors and is_error(rec) else INFO
        now = time.time()
        for s in self.senders:
            s.send(line, level, now)

    def log_http(self, rec: LogRecord) -> None:
        """One HTTP request's line (at its end, or early with logasap)."""
        self._emit(self._http_fmt, rec)

    def log_tcp(self, rec: LogRecord) -> None:
        """One TCP session's line."""
        self._emit(self._tcp_fmt, rec)

    def log_connect(self, rec: LogRecord, mode: Literal["HTTP", "TCP"] = "TCP") -> None:
        """HAProxy's default format, sent at accept when no log format option is set."""
        if self._http_fmt is not None or not self.senders:
            return
        line = (
            f"Connect from {rec.client_ip}:{rec.client_port} to "
            f"{rec.frontend_ip}:{rec.frontend_port} ({rec.frontend_name}/{mode})"
        )
        now = time.time()
        for s in self.senders:
            s.send(line, INFO, now)

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.senders)

    def close(self) -> None:
        for s in self.senders:
            s.close()
