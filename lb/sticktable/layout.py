"""Where each part of a stick-table entry lives in the shared mapping (pure).

A table is an array of fixed-size entries of 8-byte words, after a 64-byte header:

    header   magic, layout version, capacity (slots), words per entry, entries in use,
             the largest number of entries (``size``), 2 spare words
    entry    0  key fingerprint (0 empty, 1 deleted, 2 being written, else the key's)
             1  last touch, ms of CLOCK_MONOTONIC (expiry = touch + ``expire``)
             2  trackers: sessions tracking the entry now (HAProxy's ``use=``)
             3… the key's bytes, for ``show table`` (ip 4, ipv6 16, integer 8, string len)
             …  the stored data, in HAProxy's order: one word per counter, two per rate
                (lb.sticktable.freq)

Master and workers compute the same layout from the same configuration (``TableLayout``),
so nothing but the header is read back to check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lb.config.model import StickTable

MAGIC = 0x4C42535449434B31  # "LBSTICK1"
LAYOUT_VERSION = 1
HEADER_WORDS = 8
H_MAGIC, H_VERSION, H_CAPACITY, H_ENTRY_WORDS, H_USED, H_SIZE = range(6)

E_KEY, E_TOUCH, E_USE = 0, 1, 2
ENTRY_HEAD_WORDS = 3

# The data types a table may store, in HAProxy's order (``show table`` prints them so).
# Rates take a period: ``http_req_rate(10s)``.
DATA_ORDER: tuple[str, ...] = (
    "server_id",
    "gpt0",
    "gpc0",
    "gpc0_rate",
    "conn_cnt",
    "conn_rate",
    "conn_cur",
    "sess_cnt",
    "sess_rate",
    "http_req_cnt",
    "http_req_rate",
    "http_err_cnt",
    "http_err_rate",
    "bytes_in_cnt",
    "bytes_in_rate",
    "bytes_out_cnt",
    "bytes_out_rate",
    "gpc1",
    "gpc1_rate",
    "server_key",
    "http_fail_cnt",
    "http_fail_rate",
    "gpt",
    "gpc",
    "gpc_rate",
)
RATES = frozenset(n for n in DATA_ORDER if n.endswith("_rate"))
# Valid HAProxy that lb does not count yet; lb counts all the others.
NOT_YET_DATA = frozenset(
    [
        "bytes_in_cnt",
        "bytes_in_rate",
        "bytes_out_cnt",
        "bytes_out_rate",
        "server_key",
        "http_fail_cnt",
        "http_fail_rate",
        "gpt",
        "gpc",
        "gpc_rate",
    ]
)
SUPPORTED_DATA = frozenset(DATA_ORDER) - NOT_YET_DATA

KEY_TYPES = ("ip", "ipv6", "integer", "string")
KEY_TYPES_NOT_YET = ("binary",)
STRING_LEN_DEFAULT = 32
FIXED_KEY_BYTES = {"ip": 4, "ipv6": 16, "integer": 8}


def key_bytes(key_type: str, length: int) -> int:
    return FIXED_KEY_BYTES.get(key_type, length or STRING_LEN_DEFAULT)


def capacity_for(size: int) -> int:
    """Slots for ``size`` entries: a power of two with the load at most one half, so that
    linear probing stays short (a memfd only costs the pages that are written)."""
    cap = 16
    while cap < 2 * size:
        cap *= 2
    return cap


@dataclass(frozen=True, slots=True)
class TableLayout:
    key_type: str
    key_len: int  # bytes of key kept (strings are cut there, as in HAProxy)
    size: int  # the most entries at once
    capacity: int  # slots
    entry_words: int
    key_words: int
    offsets: dict[str, int]  # data name → word offset inside an entry
    periods: dict[str, int]  # rate name → period in ms
    expire: int  # ms; 0 = never

    @classmethod
    def build(
        cls,
        key_type: str,
        key_len: int,
        size: int,
        store: list[tuple[str, int]],
        expire: int = 0,
    ) -> TableLayout:
        """``store``: (data name, period ms or 0); the order given does not matter."""
        nbytes = key_bytes(key_type, key_len)
        key_words = -(-nbytes // 8)
        wanted = dict(store)
        offsets: dict[str, int] = {}
        periods: dict[str, int] = {}
        word = ENTRY_HEAD_WORDS + key_words
        for name in DATA_ORDER:
            if name not in wanted:
                continue
            offsets[name] = word
            if name in RATES:
                periods[name] = wanted[name]
                word += 2
            else:
                word += 1
        return cls(
            key_type, nbytes, size, capacity_for(size), word, key_words, offsets, periods, expire
        )

    @property
    def total_words(self) -> int:
        return HEADER_WORDS + self.capacity * self.entry_words

    @property
    def total_bytes(self) -> int:
        return self.total_words * 8

    def base(self, slot: int) -> int:
        """Word index of entry ``slot``'s first word."""
        return HEADER_WORDS + slot * self.entry_words


def layout_for(spec: StickTable) -> TableLayout:
    """The layout of a configured table (the master and every worker compute the same)."""
    store = [(s.name, s.period) for s in spec.store]
    return TableLayout.build(spec.type, spec.length, spec.size, store, spec.expire)
