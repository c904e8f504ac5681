"""The programs lb is compared with, as installed on this machine: where they are, what version.

``LB_BENCH_HAPROXY``, ``LB_BENCH_NGINX`` and ``LB_BENCH_WRK`` name another binary (a local
build, say); set to an empty string they make the program count as missing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])

INSTALL_HINT = {
    "haproxy": "apt-get install haproxy",
    "nginx": "apt-get install nginx-light",
    "wrk": "apt-get install wrk",
}


def find(name: str) -> str | None:
    """The path of a peer program, honouring LB_BENCH_<NAME>; None when it is not there."""
    override = os.environ.get(f"LB_BENCH_{name.upper()}")
    if override is not None:
        if override and os.access(override, os.X_OK) and os.path.isfile(override):
            return override
        return None
    return shutil.which(name, path=SBIN_PATH)


def version(path: str, flag: str = "-v") -> str:
    """The first line a program prints about its version ("" when it will not say)."""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        p = subprocess.run([path, flag], capture_output=True, text=True, timeout=10)
        text = (p.stdout or p.stderr).strip()
        return text.splitlines()[0] if text else ""
    return ""


@dataclass(frozen=True)
class StreamSupport:
    """Whether nginx can proxy TCP (its stream module), and the line that loads it if dynamic."""

    ok: bool
    load_line: str = ""
    reason: str = ""


def nginx_stream(nginx: str) -> StreamSupport:
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        p = subprocess.run([nginx, "-V"], capture_output=True, text=True, timeout=10)
        return stream_support(p.stderr + p.stdout)
    return StreamSupport(False, reason="nginx -V did not run")


def stream_support(configure: str, exists: type[Path] = Path) -> StreamSupport:
    """Read ``nginx -V``'s configure arguments: built in, a loadable module, or absent."""
    if re.search(r"--with-stream(\s|$)", configure):
        return StreamSupport(True)
    if "--with-stream=dynamic" in configure:
        m = re.search(r"--modules-path=(\S+)", configure)
        base = m.group(1) if m else "/usr/lib/nginx/modules"
        so = f"{base}/ngx_stream_module.so"
        if exists(so).exists():
            return StreamSupport(True, load_line=f"load_module {so};")
        return StreamSupport(
            False,
            reason=f"nginx's stream module is not installed ({so}; Debian: "
            "apt-get install libnginx-mod-stream)",
        )
    return StreamSupport(False, reason="this nginx was built without the stream module")
