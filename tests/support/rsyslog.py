"""A real rsyslogd for the tests: UDP input, local2 to a file of its own (the seed's setup)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.support.peers import need_command


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rsyslog:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        rsyslogd = need_command("rsyslogd")
        self.port = port or _free_udp_port()
        self.local2 = workdir / "local2.log"
        self.other = workdir / "other.log"
        conf = workdir / "rsyslog.conf"
        conf.write_text(
            f"""
global(workDirectory="{workdir}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{self.port}")
template(name="fields" type="string"
         string="%syslogfacility-text%|%syslogseverity-text%|%hostname%|%programname%|%procid%|%msg%\\n")
if $syslogfacility-text == "local2" then {{
    action(type="omfile" file="{self.local2}" template="fields")
}} else {{
    action(type="omfile" file="{self.other}" template="fields")
}}
"""
        )
        self.log = (workdir / "rsyslogd.out").open("wb")
        self.proc = subprocess.Popen(
            [rsyslogd, "-n", "-f", str(conf), "-i", str(workdir / "rsyslogd.pid")],
            stdout=self.log,
            stderr=self.log,
        )

    def lines(self, path: Path) -> list[str]:
        """facility|severity|host|tag|pid|msg (rsyslog keeps the 3164 space before msg)."""
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            parts = line.split("|", 5)
            parts[-1] = parts[-1].lstrip(" ")
            out.append("|".join(parts))
        return out

    def wait_for(self, path: Path, needle: str, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines(path)
            if any(needle in line for line in lines):
                return lines
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} never reached {path}: {self.lines(path)}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
