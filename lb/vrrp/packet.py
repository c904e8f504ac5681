"""VRRP advertisement codec: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798, RFC 9568).

Pure: bytes in, bytes out. The IP header is the socket's business; this module sees the VRRP
payload plus the source and destination addresses, which VRRPv3 needs for its checksum
pseudo-header and which tell the address family of the advertised addresses.

Wire layouts (all big-endian)::

    VRRPv2 (IPv4 only)                       VRRPv3 (IPv4 or IPv6)
    0: version(4) | type(4)                  0: version(4) | type(4)
    1: virtual router id                     1: virtual router id
    2: priority                              2: priority
    3: count of IPv4 addresses               3: count of IPvX addresses
    4: auth type                             4-5: rsvd(4) | max advert int(12), centiseconds
    5: advertisement interval, seconds       6-7: checksum
    6-7: checksum                            8..: addresses (4 or 16 bytes each)
    8..: IPv4 addresses (4 bytes each)
    then 8 bytes of authentication data

Decoding (:func:`decode`) does the structural checks that need nothing but the packet;
:func:`check_advert` does the RFC 3768 / RFC 5798 section 7.1 checks that need the receiving
instance's configuration. Both report a :class:`DropReason`, which the caller counts.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass

VRRP_PROTO = 112
MCAST_V4 = "224.0.0.18"
MCAST_V6 = "ff02::12"
TTL = 255  # RFC 3768/5798: sent with TTL / hop limit 255, anything else crossed a router

TYPE_ADVERTISEMENT = 1
AUTH_NONE = 0
AUTH_PASS = 1  # keepalived "auth_type PASS": 8-byte clear-text password
AUTH_AH = 2  # IPsec AH: keepalived's "auth_type AH"; not supported here

HEADER_LEN = 8
AUTH_DATA_LEN = 8  # VRRPv2 only
MAX_V3_INTERVAL_CS = 0x0FFF  # 12-bit field: 40.95 s
MAX_V2_INTERVAL_S = 0xFF


class DropReason(enum.StrEnum):
    """Why a received advertisement is discarded (the value doubles as a counter label)."""

    TRUNCATED = "truncated"  # shorter than its header, or than its address count says
    BAD_VERSION = "bad_version"  # not 2 or 3, VRRPv2 over IPv6, or not the instance's version
    BAD_TYPE = "bad_type"  # only type 1 (ADVERTISEMENT) exists
    BAD_ADDRESS_COUNT = "bad_address_count"  # bytes left over after the counted addresses
    BAD_CHECKSUM = "bad_checksum"
    BAD_INTERVAL = "bad_interval"  # an interval of 0 would make timers spin
    BAD_TTL = "bad_ttl"  # TTL / hop limit not 255
    WRONG_VRID = "wrong_vrid"  # not this instance's virtual router (or VRID 0, nobody's)
    BAD_AUTH_TYPE = "bad_auth_type"  # VRRPv2: auth type differs from ours (or is AH / unknown)
    AUTH_MISMATCH = "auth_mismatch"  # VRRPv2 PASS: password differs
    INTERVAL_MISMATCH = "interval_mismatch"  # VRRPv2: advert interval differs from ours
    ADDRESS_MISMATCH = "address_mismatch"  # advertised addresses differ from our VIPs


class PacketError(Exception):
    """A received payload that must be dropped; ``reason`` says why."""

    def __init__(self, reason: DropReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Advert:
    """One VRRP advertisement, version-neutral.

    ``advert_int_cs`` is in centiseconds for both versions so that callers compare like with
    like: VRRPv2 carries whole seconds on the wire (1 s is 100 here).
    """

    version: int
    vrid: int
    priority: int
    advert_int_cs: int
    addresses: tuple[str, ...]
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""


# --------------------------------------------------------------------------- checksum


def internet_checksum(data: bytes) -> int:
    """RFC 1071: the one's complement of the one's complement sum of 16-bit words.

    An odd trailing byte is padded with a zero byte. A buffer that already holds a correct
    checksum sums to 0xFFFF, so this returns 0 for it.
    """
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    # Fold the carries back in; two rounds are enough for any buffer under 2**16 words,
    # the loop just does not have to know that.
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_header(
    src: ipaddress.IPv4Address | ipaddress.IPv6Address, dst_packed: bytes, length: int
) -> bytes:
    if src.version == 4:
        # RFC 768 layout: src, dst, zero, protocol, length.
        return src.packed + dst_packed + struct.pack("!BBH", 0, VRRP_PROTO, length)
    # RFC 8200 section 8.1: src, dst, 32-bit length, 3 zero bytes, next header.
    return src.packed + dst_packed + struct.pack("!I3xB", length, VRRP_PROTO)


# --------------------------------------------------------------------------- encode


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def _pad_auth(data: bytes) -> bytes:
    if len(data) > AUTH_DATA_LEN:
        raise ValueError(f"VRRPv2 auth data is at most {AUTH_DATA_LEN} bytes, got {len(data)}")
    return data.ljust(AUTH_DATA_LEN, b"\x00")


def _interval_field(advert: Advert) -> int:
    cs = advert.advert_int_cs
    if advert.version == 2:
        # VRRPv2 only has whole seconds; refusing beats silently rounding a timer.
        if cs % 100 or not 1 <= cs // 100 <= MAX_V2_INTERVAL_S:
            raise ValueError(f"VRRPv2 advert interval must be 1..255 whole seconds, got {cs} cs")
        return cs // 100
    if not 1 <= cs <= MAX_V3_INTERVAL_CS:
        raise ValueError(f"VRRPv3 advert interval must be 1..4095 centiseconds, got {cs}")
    return cs


def encode(advert: Advert, *, src: str, dst: str, v3_checksum_as_v2: bool = False) -> bytes:
    """The VRRP payload for ``advert`` sent from ``src`` to ``dst`` (no IP header).

    VRRPv2: checksum over the VRRP message only. VRRPv3: checksum over a pseudo-header
    (src, dst, protocol 112, length) and the message; ``v3_checksum_as_v2`` (keepalived's
    option of that name, for IPv4 peers that read RFC 5798 section 5.2.8 as IPv6-only) leaves
    the pseudo-header out. It has no effect on IPv6, where the pseudo-header is mandatory.
    Raises ValueError for an advert that cannot be put on the wire.
    """
    source = _parse_ip(src)
    dest = _parse_ip(dst)
    if source.version != dest.version:
        raise ValueError(f"source {src} and destination {dst} are of different families")
    if advert.version not in (2, 3):
        raise ValueError(f"VRRP version must be 2 or 3, got {advert.version}")
    if advert.version == 2 and source.version == 6:
        raise ValueError("VRRPv2 is IPv4 only")
    if not 1 <= advert.vrid <= 255:
        raise ValueError(f"VRID must be 1..255, got {advert.vrid}")
    if not 0 <= advert.priority <= 255:
        raise ValueError(f"priority must be 0..255, got {advert.priority}")
    if len(advert.addresses) > 255:
        raise ValueError("at most 255 addresses fit in one advertisement")
    interval = _interval_field(advert)

    packed = []
    for text in advert.addresses:
        addr = _parse_ip(text)
        if addr.version != source.version:
            raise ValueError(f"address {text} is not of the family of source {src}")
        packed.append(addr.packed)
    addrs = b"".join(packed)

    if advert.version == 2:
        if advert.auth_type not in (AUTH_NONE, AUTH_PASS):
            raise ValueError(f"VRRPv2 auth type {advert.auth_type} is not supported")
        auth = _pad_auth(advert.auth_data if advert.auth_type == AUTH_PASS else b"")
        head = struct.pack(
            "!BBBBBB",
            0x20 | TYPE_ADVERTISEMENT,
            advert.vrid,
            advert.priority,
            len(packed),
            advert.auth_type,
            interval,
        )
        body = head + b"\x00\x00" + addrs + auth
        return _with_checksum(body, internet_checksum(body))

    head = struct.pack(
        "!BBBBH", 0x30 | TYPE_ADVERTISEMENT, advert.vrid, advert.priority, len(packed), interval
    )
    body = head + b"\x00\x00" + addrs
    if source.version == 4 and v3_checksum_as_v2:
        return _with_checksum(body, internet_checksum(body))
    pseudo = _pseudo_header(source, dest.packed, len(body))
    return _with_checksum(body, internet_checksum(pseudo + body))


def _with_checksum(body: bytes, checksum: int) -> bytes:
    return body[:6] + checksum.to_bytes(2, "big") + body[8:]


# --------------------------------------------------------------------------- decode


def decode(payload: bytes, *, src: str, dst: str) -> Advert:
    """Parse a received VRRP payload; raise :class:`PacketError` if it is malformed.

    Checks what needs nothing but the packet: length, version, type, address count against
    length, checksum, and that VRID and interval are not zero. VRRPv3 over IPv4 is accepted
    with either checksum form (with or without the pseudo-header), since both are in use and
    telling them apart costs one more sum. ``src``/``dst`` must be valid addresses of one
    family (the caller read them from the IP header); otherwise ValueError.
    """
    source = _parse_ip(src)
    dest = _parse_ip(dst)
    if len(payload) < HEADER_LEN:
        raise PacketError(DropReason.TRUNCATED, f"{len(payload)} bytes")
    first, vrid, priority, count = payload[0], payload[1], payload[2], payload[3]
    version, ptype = first >> 4, first & 0x0F
    if version not in (2, 3):
        raise PacketError(DropReason.BAD_VERSION, f"version {version}")
    if version == 2 and source.version == 6:
        raise PacketError(DropReason.BAD_VERSION, "VRRPv2 over IPv6")
    if ptype != TYPE_ADVERTISEMENT:
        raise PacketError(DropReason.BAD_TYPE, f"type {ptype}")

    addr_len = 4 if source.version == 4 else 16
    expected = HEADER_LEN + count * addr_len + (AUTH_DATA_LEN if version == 2 else 0)
    if len(payload) < expected:
        raise PacketError(
            DropReason.TRUNCATED, f"{len(payload)} bytes, {count} addresses need {expected}"
        )
    if len(payload) > expected:
        raise PacketError(
            DropReason.BAD_ADDRESS_COUNT, f"{len(payload)} bytes for {count} addresses"
        )

    if not _checksum_ok(payload, version, source, dest.packed):
        raise PacketError(DropReason.BAD_CHECKSUM)

    if version == 2:
        auth_type, interval_cs = payload[4], payload[5] * 100
        auth_data = payload[expected - AUTH_DATA_LEN : expected]
    else:
        # The top 4 bits are reserved: ignored on receipt (RFC 5798 section 5.2.6).
        auth_type, interval_cs = AUTH_NONE, int.from_bytes(payload[4:6], "big") & 0x0FFF
        auth_data = b""
    if vrid == 0:
        raise PacketError(DropReason.WRONG_VRID, "VRID 0")
    if interval_cs == 0:
        raise PacketError(DropReason.BAD_INTERVAL, "advert interval 0")

    make = ipaddress.IPv4Address if addr_len == 4 else ipaddress.IPv6Address
    addresses = tuple(
        str(make(payload[off : off + addr_len]))
        for off in range(HEADER_LEN, HEADER_LEN + count * addr_len, addr_len)
    )
    return Advert(version, vrid, priority, interval_cs, addresses, auth_type, auth_data)


def _checksum_ok(
    payload: bytes,
    version: int,
    source: ipaddress.IPv4Address | ipaddress.IPv6Address,
    dst_packed: bytes,
) -> bool:
    plain_ok = internet_checksum(payload) == 0
    if version == 2:
        return plain_ok
    if source.version == 4 and plain_ok:
        return True
    return internet_checksum(_pseudo_header(source, dst_packed, len(payload)) + payload) == 0


# --------------------------------------------------------------------------- validate


def check_advert(
    advert: Advert,
    *,
    ttl: int,
    vrid: int,
    version: int,
    auth_type: int,
    auth_pass: bytes,
    advert_int_cs: int,
    addresses: Sequence[str] | None = None,
) -> DropReason | None:
    """The receive checks that need the instance's configuration; None means accept.

    In RFC 3768 / RFC 5798 section 7.1 order: TTL (hop limit) 255; our version; our VRID (a
    socket may be shared by instances: the caller dispatches on VRID first, this is the
    backstop); VRRPv2 only: our auth type and password, our advert interval. VRRPv3 has no
    authentication, and an interval different from ours is accepted there: a backup adopts
    the master's interval (the state machine does that).

    ``addresses`` (our virtual addresses), when given, must equal the advertised ones as a
    set, with the same count. This follows keepalived, which discards such adverts and logs
    "ip address associated with VRID N not present in MASTER advert" / "bogus VRRP packet
    received" (observed in its logs, e.g. acassen/keepalived#1515 and #2444), and applies no
    exception for priority 255, unlike RFC 5798 section 7.1. Pass None to skip the check:
    that is keepalived's ``vrrp_skip_check_adv_addr`` when the advert comes from the master
    already known.

    ``auth_type`` is ours: AUTH_NONE or AUTH_PASS (ValueError for AH or anything else);
    ``auth_pass`` is the password, at most 8 bytes (keepalived keeps the first 8).
    """
    if auth_type not in (AUTH_NONE, AUTH_PASS):
        raise ValueError(f"auth type {auth_type} is not supported (only none and PASS)")
    if ttl != TTL:
        return DropReason.BAD_TTL
    if advert.version != version:
        return DropReason.BAD_VERSION
    if advert.vrid != vrid:
        return DropReason.WRONG_VRID
    if version == 2:
        if advert.auth_type != auth_type:
            return DropReason.BAD_AUTH_TYPE
        # Constant-time compare: the password is clear text on the wire anyway, but it costs
        # nothing and keeps timing out of the question.
        if auth_type == AUTH_PASS and not hmac.compare_digest(
            _pad_auth(advert.auth_data), _pad_auth(auth_pass)
        ):
            return DropReason.AUTH_MISMATCH
        if advert.advert_int_cs != advert_int_cs:
            return DropReason.INTERVAL_MISMATCH
    if addresses is not None and _address_key(advert.addresses) != _address_key(addresses):
        return DropReason.ADDRESS_MISMATCH
    return None


def _address_key(addresses: Sequence[str]) -> list[tuple[int, int]]:
    # Compare parsed addresses, not text: "fe80::0:1" and "fe80::1" are one address.
    return sorted(
        (addr.version, int(addr)) for addr in (ipaddress.ip_address(a) for a in addresses)
    )
