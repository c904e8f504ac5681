"""Splitting HAProxy-style httplog/tcplog syslog lines into fields, to compare two proxies."""

from __future__ import annotations

import re

SYSLOG = re.compile(
    r"<(?P<pri>\d+)>(?P<sysdate>\w{3} [ \d]\d \d\d:\d\d:\d\d) "
    r"(?P<tag>[^\[ ]+)\[(?P<pid>\d+)\]: (?P<msg>.*)\n",
    re.S,
)
_HEAD = (
    r"(?P<client>\S+) \[(?P<date>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3})\] (?P<frontend>\S+) "
    r"(?P<backend>[^/ ]+)/(?P<server>\S+) "
)
_TAIL = r"(?P<conns>\d+/\d+/\d+/\d+)/(?P<retries>\+?\d+) (?P<queues>\d+/\d+)"
HTTP_FIELDS = re.compile(
    _HEAD + r"(?P<timers>-?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+) (?P<status>-?\d+) (?P<bytes>\+?\d+) "
    r"(?P<cc>\S+) (?P<cs>\S+) (?P<tsc>\S{4}) " + _TAIL + r"(?: (?P<hr>\{[^}]*\}))?"
    r"(?: (?P<hs>\{[^}]*\}))? (?P<request>\".*\")",
    re.S,
)
TCP_FIELDS = re.compile(
    _HEAD + r"(?P<timers>-?\d+/-?\d+/\+?-?\d+) (?P<bytes>\+?\d+) (?P<ts>\S\S) " + _TAIL, re.S
)
VOLATILE = {"sysdate", "pid", "date", "timers", "msg"}


def split_fields(datagram: bytes, fields: re.Pattern[str]) -> dict[str, str | None]:
    """A syslog datagram of haproxy's httplog/tcplog, field by field."""
    head = SYSLOG.fullmatch(datagram.decode())
    assert head, datagram
    body = fields.fullmatch(head["msg"])
    assert body, head["msg"]
    return head.groupdict() | body.groupdict()


def comparable(fields: dict[str, str | None]) -> dict[str, str | None]:
    return {k: v for k, v in fields.items() if k not in VOLATILE}
