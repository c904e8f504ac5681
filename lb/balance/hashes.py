"""The 32-bit hash functions of ``hash-type`` and the avalanche modifier.

sdbm, djb2 and wt6 follow their published definitions (wt6 is Willy Tarreau's,
as documented for HAProxy); crc32 is zlib's. ``avalanche`` is Bob Jenkins'
6-shift 32-bit integer hash (burtleburtle.net/bob/hash/integer.html) followed by
a multiplication by 3221225473 (a prime near 3/4 of 2^32), which is what
HAProxy applies, so ``avalanche(djb2(k))`` equals HAProxy's ``djb2(1)``
converter: the tests check all four against HAProxy's documented values.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

MASK32 = 0xFFFFFFFF

HashFunction = Callable[[bytes], int]


def sdbm(data: bytes) -> int:
    h = 0
    for c in data:
        # c + (h << 6) + (h << 16) - h, written as the one multiplication it is.
        h = (h * 65599 + c) & MASK32
    return h


def djb2(data: bytes) -> int:
    h = 5381
    for c in data:
        h = (h * 33 + c) & MASK32
    return h


def wt6(data: bytes) -> int:
    h0 = 0xA53C965A
    h1 = 0x5CA6953A
    step0 = 6
    step1 = 18
    for c in data:
        h0 = ~(h0 ^ c) & MASK32
        h1 = ~(h1 + c) & MASK32
        # Rotations; a step of 0 leaves the word unchanged, as a rotation should.
        t = ((h1 << step0) | (h1 >> (32 - step0))) & MASK32
        h1 = ((h0 << step1) | (h0 >> (32 - step1))) & MASK32
        h0 = t
        t = ((h0 >> 16) ^ h1) & 0xFFFF
        step0 = t & 0x1F
        step1 = t >> 11
    return h0 ^ h1


def crc32(data: bytes) -> int:
    return zlib.crc32(data)


def fold_address(data: bytes) -> int:
    """HAProxy's ``balance source`` hash: the address's 32-bit words XORed together.

    Each 4-byte word is read in network order, so an IPv4 address hashes to its
    own value (10.0.0.1 → 0x0A000001) and an IPv6 one to the XOR of its four
    words; an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) thus hashes to
    ``0xFFFF ^ a.b.c.d``, not like the plain IPv4 address, as in HAProxy.
    No ``hash-type`` function is applied; only ``avalanche``, when asked.
    """
    if len(data) == 4:
        return int.from_bytes(data, "big")
    folded = 0
    for start in range(0, len(data) - 3, 4):  # a trailing partial word is ignored, as there
        folded ^= int.from_bytes(data[start : start + 4], "big")
    return folded


def avalanche(a: int) -> int:
    """Spread a 32-bit hash so that close inputs land far apart on the ring."""
    a = (a + 0x7ED55D16 + (a << 12)) & MASK32
    a = (a ^ 0xC761C23C ^ (a >> 19)) & MASK32
    a = (a + 0x165667B1 + (a << 5)) & MASK32
    a = ((a + 0xD3A2646C) ^ (a << 9)) & MASK32
    a = (a + 0xFD7046C5 + (a << 3)) & MASK32
    a = (a ^ 0xB55A4F09 ^ (a >> 16)) & MASK32
    return (a * 3221225473) & MASK32


HASH_FUNCTIONS: dict[str, HashFunction] = {
    "sdbm": sdbm,
    "djb2": djb2,
    "wt6": wt6,
    "crc32": crc32,
}


def make_hasher(
    function: str, with_avalanche: bool, *, base: HashFunction | None = None
) -> HashFunction:
    """The hash of ``hash-type … <function> [avalanche]``; ValueError for an unknown one.

    ``base`` replaces the function (still checked) for keys HAProxy does not hash with
    it: ``balance source`` passes ``fold_address``.
    """
    try:
        named = HASH_FUNCTIONS[function]
    except KeyError:
        known = ", ".join(HASH_FUNCTIONS)
        raise ValueError(f"unknown hash function '{function}' (known: {known})") from None
    if base is None:
        base = named
    if not with_avalanche:
        return base

    def hasher(data: bytes) -> int:
        return avalanche(base(data))

    return hasher
