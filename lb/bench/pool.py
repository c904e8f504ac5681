"""The parent's side of the generator processes: start them, step them together, collect.

Every process first connects (``ready``); only when all are ready does each one hear ``go``,
so that connection set-up stays out of the measurement and the processes start together.
Processes are fresh interpreters (``python -m lb.bench.worker``), stopped by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import IO, Any

from lb.bench.errors import BenchError


def child_env() -> dict[str, str]:
    """The environment for our own child interpreters: they must import this very lb, even
    from a source tree that is not installed."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


STAGES = ("ready", "held", "result")  # what each process says, in this order


class Pool:
    def __init__(self, kind: str, jobs: list[dict[str, Any]], progress: bool = False) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.errs: list[IO[bytes]] = []
        self.bufs: list[bytes] = []
        self.sel = selectors.DefaultSelector()
        env = child_env()
        try:
            for job in jobs:
                err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
                p = subprocess.Popen(
                    [sys.executable, "-m", "lb.bench.worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=env,
                    start_new_session=True,  # a Ctrl-C reaches us, and we stop them by pid
                )
                self.procs.append(p)
                self.errs.append(err)
                self.bufs.append(b"")
                assert p.stdin is not None and p.stdout is not None
                os.set_blocking(p.stdout.fileno(), False)
                self.sel.register(p.stdout, selectors.EVENT_READ, len(self.procs) - 1)
                line = json.dumps({"kind": kind, "job": job, "progress": progress}) + "\n"
                p.stdin.write(line.encode())
                p.stdin.flush()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, word: str) -> None:
        for p in self.procs:
            assert p.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                p.stdin.write(word.encode() + b"\n")
                p.stdin.flush()

    def collect(
        self,
        key: str,
        timeout: float | None,
        on_message: Callable[[int, dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Wait until every process has said ``key``; other messages go to on_message."""
        got: dict[int, dict[str, Any]] = {}
        deadline = None if timeout is None else time.monotonic() + timeout
        for i in range(len(self.procs)):  # lines that came with an earlier message
            self._lines(i, key, got, on_message)
        while len(got) < len(self.procs):
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                raise BenchError(f"generator processes did not answer within {timeout:.0f}s")
            events = self.sel.select(min(wait, 1.0) if wait is not None else 1.0)
            for skey, _ in events:
                i = skey.data
                try:
                    chunk = os.read(skey.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    self.sel.unregister(skey.fileobj)
                    if i not in got:
                        raise BenchError(self._died(i))
                    continue
                self.bufs[i] += chunk
                self._lines(i, key, got, on_message)
            for i, p in enumerate(self.procs):
                if i not in got and p.poll() is not None and not self._pending(i):
                    raise BenchError(self._died(i))
        return [got[i] for i in range(len(self.procs))]

    def _lines(
        self,
        i: int,
        key: str,
        got: dict[int, dict[str, Any]],
        on_message: Callable[[int, dict[str, Any]], None] | None,
    ) -> None:
        """Handle process i's complete lines up to and including its ``key`` message; what
        follows that stays buffered for the next collect()."""
        while i not in got and b"\n" in self.bufs[i]:
            line, self.bufs[i] = self.bufs[i].split(b"\n", 1)
            msg = json.loads(line)
            if "fatal" in msg:
                raise BenchError(f"generator process failed: {msg['fatal']}")
            if key in msg:
                got[i] = msg
            elif any(k in msg for k in STAGES):
                raise BenchError(f"generator process said {line[:60]!r} while {key!r} was due")
            elif on_message is not None:
                on_message(i, msg)

    def _pending(self, i: int) -> bool:
        """Whether process i's stdout may still hold unread lines."""
        fobj = self.procs[i].stdout
        try:
            self.sel.get_key(fobj)  # type: ignore[arg-type]
        except KeyError:
            return bool(self.bufs[i])
        return True

    def _died(self, i: int) -> str:
        p = self.procs[i]
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(2)
        err = self.errs[i]
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()
        last = tail[-1] if tail else ""
        return f"generator process exited with {p.returncode}" + (f": {last}" if last else "")

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(OSError):
                    assert p.stdin is not None
                    p.stdin.close()
        deadline = time.monotonic() + 1
        for p in self.procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for p in self.procs:
            for f in (p.stdin, p.stdout):
                if f is not None:
                    with contextlib.suppress(OSError):
                        f.close()
        for e in self.errs:
            e.close()
        self.sel.close()
        self.procs = []
