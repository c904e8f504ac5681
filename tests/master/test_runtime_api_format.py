import pytest

from lb.master.runtime_api import format_uptime


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0d00h00m00s"),
        (5.9, "0d00h00m05s"),
        (3661, "0d01h01m01s"),
        (90061, "1d01h01m01s"),
    ],
)
def test_uptime_as_haproxy_writes_it(seconds: float, text: str) -> None:
    assert format_uptime(seconds) == text
