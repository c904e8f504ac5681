"""HAProxy socket addresses: ``bind`` and ``server`` targets.

Forms accepted, following HAProxy's rules:

- ``:80`` and ``*:80`` — every address (``host`` = "");
- ``1.2.3.4:80``, ``[::1]:80``, ``::1:80`` (the *last* colon separates the port),
  ``name.example:80`` (a hostname is kept as written: resolving it is I/O);
- an ``ipv4@``/``ipv6@`` (or ``tcp4@``/``tcp6@``/``tcp@``) prefix before any of these.

Other families (``unix@``, ``abns@``, ``fd@``, ``sockpair@``, ``udp@``, ``quic4@``,
a ``/path``), port ranges (``80-90``) and port offsets (``+1``) are recognised and
reported as not supported yet.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_IP_PREFIXES = {"ipv4@": 4, "ipv6@": 6, "tcp4@": 4, "tcp6@": 6, "tcp@": 0}
_OTHER_PREFIXES = (
    "unix@",
    "abns@",
    "abnsz@",
    "fd@",
    "sockpair@",
    "udp@",
    "udp4@",
    "udp6@",
    "quic4@",
    "quic6@",
    "uxst@",
    "uxdg@",
    "rhttp@",
)
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_-]+)*\.?"
)


@dataclass(frozen=True, slots=True)
class Address:
    host: str  # "" = any address
    port: int | None  # None when the address has no port


class AddressError(ValueError):
    """The address is malformed: an alert."""


class AddressNotYet(ValueError):
    """Valid HAProxy that lb cannot use yet: ``what`` is the offending part, ``hint`` its kind."""

    def __init__(self, what: str, hint: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint


def parse_address(text: str) -> Address:
    """Parse ``text``; raise AddressError or AddressNotYet."""
    family = 0
    lowered = text.lower()
    for prefix, fam in _IP_PREFIXES.items():
        if lowered.startswith(prefix):
            family, text = fam, text[len(prefix) :]
            break
    else:
        for prefix in _OTHER_PREFIXES:
            if lowered.startswith(prefix):
                raise AddressNotYet(prefix, "address family")
        if text.startswith("/"):
            raise AddressNotYet(text, "unix socket address")

    host, port_text = _split_host_port(text)
    host = _check_host(host, family, text)
    port = _check_port(port_text, text) if port_text is not None else None
    return Address(host, port)


def _split_host_port(text: str) -> tuple[str, str | None]:
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise AddressError(f"invalid address '{text}': missing ']'")
        host, rest = text[1:close], text[close + 1 :]
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise AddressError(f"invalid address '{text}': unexpected '{rest}' after ']'")
        return host, rest[1:]
    if ":" not in text:
        return text, None
    host, _, port = text.rpartition(":")
    return host, port


def _check_host(host: str, family: int, text: str) -> str:
    if host in ("", "*"):
        return ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if _HOSTNAME.fullmatch(host) and not host.replace(".", "").isdigit():
            return host
        raise AddressError(f"invalid address '{text}': '{host}' is not an IP address") from None
    if family and ip.version != family:
        raise AddressError(f"invalid address '{text}': '{host}' is not an IPv{family} address")
    return str(ip)


def _check_port(port_text: str, text: str) -> int:
    if port_text == "":
        raise AddressError(f"missing port in address '{text}'")
    if port_text[0] in "+-":
        raise AddressNotYet(port_text, "port offset")
    if "-" in port_text:
        low, _, high = port_text.partition("-")
        if low.isdigit() and high.isdigit():
            raise AddressNotYet(port_text, "port range")
    if not port_text.isdigit() or not port_text.isascii():
        raise AddressError(f"invalid port '{port_text}' in address '{text}'")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise AddressError(f"port {port_text} is out of range 1..65535 in address '{text}'")
    return port
