import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lb.balance.hashes import (
    HASH_FUNCTIONS,
    HashFunction,
    avalanche,
    crc32,
    djb2,
    make_hasher,
    sdbm,
    wt6,
)

# HAProxy's reg-test for its hash converters (reg-tests/sample_fetches/hashes.vtc)
# documents these values for the 256 bytes 00 01 … ff, plain and with "(1)",
# its avalanche modifier.
ALL_BYTES = bytes(range(256))


@pytest.mark.parametrize(
    ("function", "plain", "with_avalanche"),
    [
        (crc32, 688229491, 4230317029),
        (djb2, 2589693061, 600622701),
        (sdbm, 905707648, 3103804144),
        (wt6, 4090277559, 1192658767),
    ],
)
def test_documented_values(function: HashFunction, plain: int, with_avalanche: int) -> None:
    assert function(ALL_BYTES) == plain
    assert avalanche(function(ALL_BYTES)) == with_avalanche


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", (0, 5381)),  # sdbm starts at 0, djb2 at 5381
        (b"a", (97, 5381 * 33 + 97)),
    ],
)
def test_definitions_on_short_inputs(data: bytes, expected: tuple[int, int]) -> None:
    assert (sdbm(data), djb2(data)) == expected


@given(st.binary(max_size=64))
def test_every_function_is_32_bit_and_crc32_is_zlibs(data: bytes) -> None:
    for function in HASH_FUNCTIONS.values():
        assert 0 <= function(data) <= 0xFFFFFFFF
    assert crc32(data) == zlib.crc32(data)


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_avalanche_is_32_bit(value: int) -> None:
    assert 0 <= avalanche(value) <= 0xFFFFFFFF


def test_avalanche_flips_about_half_the_bits_for_a_one_bit_change() -> None:
    flips = [bin(avalanche(v) ^ avalanche(v ^ 1)).count("1") for v in range(2000)]
    assert 14 < sum(flips) / len(flips) < 18


def test_make_hasher() -> None:
    assert make_hasher("djb2", False)(b"x") == djb2(b"x")
    assert make_hasher("djb2", True)(b"x") == avalanche(djb2(b"x"))
    with pytest.raises(ValueError, match="unknown hash function 'md5'"):
        make_hasher("md5", False)
