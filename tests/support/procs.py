"""Process bookkeeping through /proc: the helpers live in lb.bench.procs (lb-bench ships them)."""

from lb.bench.procs import (
    CLOCK_TICKS,
    ProcRef,
    ProcStat,
    Target,
    all_pids,
    children,
    children_map,
    cpu_ticks,
    descendants,
    read_stat,
    wait_gone,
)

__all__ = [
    "CLOCK_TICKS",
    "ProcRef",
    "ProcStat",
    "Target",
    "all_pids",
    "children",
    "children_map",
    "cpu_ticks",
    "descendants",
    "read_stat",
    "wait_gone",
]
