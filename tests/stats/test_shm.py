import os
import subprocess
import sys

from lb.stats.shm import GaugeTable, SharedRegion


def test_region_roundtrip_across_processes() -> None:
    region = SharedRegion.create(capacity=16)
    try:
        region.generation = 7
        idx = region.counter_index(3)
        region.counters.add(idx, 5)
        code = (
            "import sys; from lb.stats.shm import SharedRegion;"
            "r = SharedRegion.attach(int(sys.argv[1]));"
            "r.counters.add(r.counter_index(3), 10);"
            "print(r.generation, r.load(3))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(region.fd)],
            pass_fds=[region.fd],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert out == ["7", "15"]
        assert region.load(3) == 15
    finally:
        region.close()


def test_attach_rejects_foreign_memory() -> None:
    fd = os.memfd_create("not-lb")
    os.ftruncate(fd, 4096)
    try:
        try:
            SharedRegion.attach(fd)
        except RuntimeError as exc:
            assert "layout" in str(exc)
        else:
            raise AssertionError("attach accepted a region without the magic")
    finally:
        os.close(fd)


def test_gauge_slots_are_stable_and_never_reused() -> None:
    table = GaugeTable(capacity=3)
    assert table.slot("a") == 0
    assert table.slot("b") == 1
    assert table.slot("a") == 0
    assert table.slot("c") == 2
    try:
        table.slot("d")
    except RuntimeError:
        pass
    else:
        raise AssertionError("a full table handed out a slot")
