"""One generator process: ``python -m lb.bench.worker``, driven by lb.bench.pool.

The conversation is JSON lines. stdin: the job, then ``go`` (start measuring now), and for
held connections ``release``. stdout: ``{"ready": n}`` once connected, ``{"progress": …}``
every second, ``{"held": …}`` while holding idle connections, ``{"result": …}`` at the end,
or ``{"fatal": message}``. Nothing else may write to stdout. When stdin ends (the parent
went away, however), the process ends too.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import resource
import sys
import threading
from typing import Any


def emit(msg: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


class Commands:
    """The parent's words after the job, read by a thread for the whole life of the process.

    stdin reaches EOF when the parent goes away, however it goes (even SIGKILL): then this
    process ends at once, whatever phase it is in, so that no generator outlives its run.
    """

    def __init__(self) -> None:
        self.words: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            self.words.put(line.strip())
        os._exit(3)

    def wait(self, word: str) -> None:
        while self.words.get() != word:
            pass


def raise_fd_limit(wanted: int) -> None:
    """Raise the soft open-files limit towards wanted (many connections need many fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        pass


def _http(spec: dict[str, Any], commands: Commands) -> int:
    import uvloop

    from lb.bench.httpload import Engine, HttpCounts, HttpJob

    job = HttpJob.from_json(spec["job"])
    raise_fd_limit(job.connections + 64)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)

    def progress(c: HttpCounts) -> None:
        emit({"progress": c.responses, "errors": sum(c.errors.values())})

    async def prepare() -> tuple[Engine, int]:
        eng = Engine(job, progress if spec.get("progress") else None)
        return eng, await eng.prepare()

    engine, opened = loop.run_until_complete(prepare())
    emit({"ready": opened, "errors": engine.counts.errors})
    commands.wait("go")
    counts = loop.run_until_complete(engine.run())
    if job.hold:
        emit({"held": len(engine.conns)})
        commands.wait("release")
        engine.close_all()
    emit({"result": counts.to_json()})
    loop.run_until_complete(asyncio.sleep(0))  # let the transports finish closing
    loop.close()
    return 0


def _tcp(spec: dict[str, Any], commands: Commands) -> int:
    from lb.bench.tcpload import TcpJob, TcpRun

    run = TcpRun(TcpJob.from_json(spec["job"]))
    opened = run.prepare()
    emit({"ready": opened, "errors": {s.error: 1 for s in run.streams if s.error}})
    commands.wait("go")
    emit({"result": run.run().to_json()})
    return 0


def main() -> int:
    try:
        line = sys.stdin.readline()
        if not line:
            return 0
        spec = json.loads(line)
        commands = Commands()
        return _http(spec, commands) if spec["kind"] == "http" else _tcp(spec, commands)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # the parent reports it; a traceback would be noise on its screen
        emit({"fatal": f"{type(e).__name__}: {e}"})
        return 1


if __name__ == "__main__":
    sys.exit(main())
