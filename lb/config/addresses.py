"""HAProxy socket addresses: ``bind`` and ``server`` targets.

Forms accepted, following HAProxy's rules:

- ``:80`` and ``*:80`` — every IPv4 address (``host`` = ""), ``ipv6@:80`` every
  IPv6 one (``host`` = "::");
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
import socket
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
        # "ipv6@:80" is every IPv6 address ("::"), as in HAProxy; without the prefix
        # an empty host stays "" (every IPv4 address)
        return "::" if family == 6 else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if _HOSTNAME.fullmatch(host) and not host.replace(".", "").isdigit():
            return host
        raise AddressError(f"invalid address '{text}': '{host}' is not an IP address") from None
    if family and ip.version != family:
        raise AddressError(f"invalid address '{text}': '{host}' is not an IPv{family} address")
    # inet_ntop's text (as HAProxy shows addresses): Python 3.11 writes "::ffff:7f00:1"
    return socket.inet_ntop(socket.AF_INET6, ip.packed) if ip.version == 6 else str(ip)


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


# --------------------------------------------------------------------------- log targets

SYSLOG_PORT = 514
_LOG_IP_PREFIXES = {"udp@": 0, "udp4@": 4, "udp6@": 6, "ipv4@": 4, "ipv6@": 6}
_LOG_FDS = {"fd@1": "stdout", "fd@2": "stderr"}


def parse_log_address(text: str) -> str:
    """The target of a ``log`` line, normalised for the logger.

    Returns ``"stdout"``, ``"stderr"``, a unix datagram socket path (``"/dev/log"``),
    ``"HOST:PORT"`` (IPv4 or host name) or ``"[IPv6]:PORT"``. A missing or zero port
    is 514. As in HAProxy, the last ``:`` introduces the port, so a bare IPv6
    address must be bracketed or end with ``:`` (``::1:`` = ``[::1]:514``).
    Raises AddressError or AddressNotYet.
    """
    if text in ("stdout", "stderr"):
        return text
    lowered = text.lower()
    if lowered in _LOG_FDS:
        return _LOG_FDS[lowered]
    family = 0
    for prefix, fam in _LOG_IP_PREFIXES.items():
        if lowered.startswith(prefix):
            family, text = fam, text[len(prefix) :]
            break
    else:
        if lowered.startswith("unix@"):
            text = text[len("unix@") :]
            if not text.startswith("/"):
                raise AddressError(f"invalid unix socket path '{text}' in 'unix@{text}'")
        elif "@" in text and not text.startswith("/"):
            prefix = text[: text.index("@") + 1]
            raise AddressNotYet(prefix, "log target family")
        if text.startswith("/"):
            return text
    written = text
    if text.endswith(":") and not text.startswith("["):
        text += str(SYSLOG_PORT)  # "1.2.3.4:" and "::1:" leave the port out
    host, port_text = _split_host_port(text)
    if not host or host == "*":
        raise AddressError(f"invalid log address '{written}': no host")
    try:
        host = _check_host(host, 0, written)
    except AddressError:
        if _is_ipv6(written):
            raise AddressError(
                f"invalid log address '{written}': the last ':' introduces the port; "
                f"write an IPv6 address as '[{written}]' or '{written}:'"
            ) from None
        raise
    if family and _ip_version(host, family) != family:
        raise AddressError(f"invalid log address '{written}': not an IPv{family} address")
    port = SYSLOG_PORT
    if port_text not in (None, "0"):
        if not port_text.isdigit() or not port_text.isascii():
            raise AddressError(f"invalid port '{port_text}' in log address '{written}'")
        port = int(port_text)
        if port > 65535:
            raise AddressError(f"port {port_text} is out of range 1..65535 in '{written}'")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ip_version(host: str, default: int) -> int:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return default  # a host name: its address family is the resolver's business


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """``ADDR[/MASK]``: IPv4 with a prefix length or a dotted mask, or IPv6 with a
    prefix length; host bits may be set (HAProxy masks them). Raises ValueError."""
    addr, sep, mask = text.partition("/")
    if sep and not mask:
        raise ValueError(f"invalid network '{text}'")
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        raise ValueError(f"invalid network '{text}': '{addr}' is not an IP address") from None
    if sep and not mask.isdigit() and (ip.version == 6 or "." not in mask):
        raise ValueError(f"invalid network '{text}': bad mask '{mask}'")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"invalid network '{text}': bad mask '{mask}'") from None
