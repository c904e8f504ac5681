"""The probes: one check of one server, whatever its kind. Only I/O lives here."""

from __future__ import annotations

from lb.master.health.probes.http import http_probe
from lb.master.health.probes.icmp import icmp_probe
from lb.master.health.probes.misc import misc_probe
from lb.master.health.probes.result import CheckResult
from lb.master.health.probes.tcp import tcp_probe
from lb.master.health.spec import CheckSpec, HttpProbe, IcmpProbe, MiscProbe, TcpProbe

__all__ = ["CheckResult", "run_check"]


async def run_check(spec: CheckSpec) -> CheckResult:
    """Run the spec's probes in order; the first failure is the result, else the last pass."""
    timing = spec.timing
    connect_timeout = timing.connect_timeout_ms() / 1000
    read = timing.read_timeout_ms()
    read_timeout = read / 1000 if read is not None else None
    result: CheckResult | None = None
    total = 0
    for probe in spec.probes:
        if isinstance(probe, TcpProbe):
            result = await tcp_probe(probe.target, connect_timeout, probe.tls)
        elif isinstance(probe, HttpProbe):
            result = await http_probe(probe, connect_timeout, read_timeout)
        elif isinstance(probe, IcmpProbe):
            result = await icmp_probe(probe.target, timing.total_timeout_ms() / 1000)
        elif isinstance(probe, MiscProbe):
            result = await misc_probe(probe)
        else:
            raise TypeError(f"unknown probe {probe!r}")
        total += result.duration_ms
        if not result.passed:
            break
    if result is None:
        raise ValueError("a check spec without probes")
    return CheckResult(result.status, result.code, total, result.info)
