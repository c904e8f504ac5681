"""Sizes, durations and counts as typed on the command line and in serve's queries."""

import pytest

from lb.bench.units import (
    fmt_bytes,
    fmt_count,
    fmt_duration,
    parse_count,
    parse_duration,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("128", 128),
        ("20k", 20_000),
        ("20K", 20_000),
        ("100kB", 100_000),
        ("1.5m", 1_500_000),
        ("2g", 2_000_000_000),
        ("64ki", 65_536),
        ("1mi", 1_048_576),
        (" 3 ", 3),
    ],
)
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "k", "-1", "1x", "1 k b c", "1e3"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "unit", "seconds"),
    [
        ("10", "s", 10.0),
        ("10s", "s", 10.0),
        ("250ms", "s", 0.25),
        ("5", "ms", 0.005),
        ("1m", "s", 60.0),
        ("1.5s", "ms", 1.5),
        ("20us", "s", 20e-6),
        ("2h", "s", 7200.0),
    ],
)
def test_parse_duration(text: str, unit: str, seconds: float) -> None:
    assert parse_duration(text, unit) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "5 parsecs", "-1s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_parse_count() -> None:
    assert parse_count("10k") == 10_000
    with pytest.raises(ValueError, match="positive"):
        parse_count("0")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0"),
        (0.000123, "123µs"),
        (0.0015, "1.50ms"),
        (2.5, "2.50s"),
        (12.25, "12.2s"),
        (1e-8, "10.0ns"),
    ],
)
def test_fmt_duration(seconds: float, text: str) -> None:
    assert fmt_duration(seconds) == text


@pytest.mark.parametrize(
    ("n", "text"), [(999, "999B"), (20_000, "20.0kB"), (1_500_000, "1.5MB"), (4.6e9, "4.6GB")]
)
def test_fmt_bytes(n: float, text: str) -> None:
    assert fmt_bytes(n) == text


@pytest.mark.parametrize(
    ("n", "text"), [(42, "42"), (9999, "9999"), (12345, "12.3k"), (2.5e6, "2.50M")]
)
def test_fmt_count(n: float, text: str) -> None:
    assert fmt_count(n) == text
