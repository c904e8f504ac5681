"""wrk as the HTTP client of a comparison (``--client wrk``): run it, read its report.

wrk reports the 50/75/90/99th percentiles (``--latency``), requests, socket errors by kind
and non-2xx/3xx responses; several request targets rotate through a small Lua script.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from lb.bench.errors import BenchError

_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def parse(out: str) -> dict[str, Any]:
    """wrk's text report → requests, seconds, requests_per_s, latency_s, errors, non_2xx."""
    m = re.search(r"(\d+) requests in ([\d.]+(?:us|ms|s|m|h))", out)
    if not m:
        raise ValueError("no 'N requests in T' line in wrk's output")
    res: dict[str, Any] = {"requests": int(m.group(1)), "seconds": _seconds(m.group(2))}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["requests_per_s"] = float(m.group(1)) if m else res["requests"] / res["seconds"]
    lat: dict[str, float] = {}
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        if m:
            lat[f"p{pct}"] = _seconds(m.group(1))
    m = re.search(r"^\s+Latency\s+(\S+)\s+\S+\s+(\S+)", out, re.M)
    if m:
        lat["mean"] = _seconds(m.group(1))
        lat["max"] = _seconds(m.group(2))
    res["latency_s"] = lat
    errors: dict[str, int] = {}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        for kind, n in zip(("connect", "read", "write", "timeout"), m.groups(), strict=True):
            if int(n):
                errors[kind] = int(n)
    res["errors"] = errors
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    return res


def lua_rotation(paths: list[str]) -> str:
    """A wrk script that sends the paths in turn."""
    quoted = ", ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in paths)
    return f"""local paths = {{{quoted}}}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format(nil, paths[i])
end
"""


def command(
    wrk: str,
    base: str,
    paths: list[str],
    *,
    connections: int,
    threads: int,
    duration: float,
    close: bool,
    timeout: float,
    script_dir: Path,
) -> list[str]:
    threads = max(1, min(threads, connections))
    cmd = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s"]
    cmd += ["--latency", "--timeout", f"{timeout:g}s"]
    if close:
        cmd += ["-H", "Connection: close"]
    if len(paths) > 1:
        script = script_dir / "rotate.lua"
        script.write_text(lua_rotation(paths))
        cmd += ["-s", str(script)]
    cmd.append(base + paths[0])
    return cmd


def run(cmd: list[str], duration: float) -> dict[str, Any]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration * 3 + 60)
    except subprocess.TimeoutExpired:
        raise BenchError("wrk did not finish in time") from None
    if p.returncode != 0:
        raise BenchError(f"wrk failed: {(p.stderr or p.stdout).strip()[:300]}")
    try:
        return parse(p.stdout)
    except ValueError as e:
        raise BenchError(f"wrk: {e}") from None
