"""Traffic logs: HAProxy's httplog/tcplog/log-format lines, framed as syslog, sent without
ever blocking the data path.

- ``record``: ``LogRecord`` (one request or session), ``ProcessInfo`` (tag, pid, hostname);
- ``formats``: ``HTTPLOG``, ``TCPLOG``, ``HTTPLOG_CLF``, ``compile_log_format`` → ``LogFormat``;
- ``syslog``: framing per target format, facilities and levels;
- ``sender``: ``LogSender``, one non-blocking target;
- ``captures``: ``HeaderCapture`` for ``capture request|response header``;
- ``logger``: ``AccessLogger``, what the worker's data path calls.
"""

from lb.accesslog.captures import HeaderCapture
from lb.accesslog.formats import (
    HTTPLOG,
    HTTPLOG_CLF,
    TCPLOG,
    LogFormat,
    LogFormatError,
    compile_log_format,
)
from lb.accesslog.logger import AccessLogger
from lb.accesslog.record import NOSRV, LogRecord, ProcessInfo, elapsed_ms
from lb.accesslog.sender import LogSender
from lb.accesslog.syslog import SyslogError

__all__ = [
    "HTTPLOG",
    "HTTPLOG_CLF",
    "NOSRV",
    "TCPLOG",
    "AccessLogger",
    "HeaderCapture",
    "LogFormat",
    "LogFormatError",
    "LogRecord",
    "LogSender",
    "ProcessInfo",
    "SyslogError",
    "compile_log_format",
    "elapsed_ms",
]
