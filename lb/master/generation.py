"""A generation: one loaded configuration and everything derived from it."""

from __future__ import annotations

import os

from msgspec import Struct

import lb.config
from lb.config.model import Config
from lb.master.privileges import apply_fd_limit
from lb.master.resolve import ResolveError, resolve_servers


class Generation(Struct):
    number: int
    config: Config
    nworkers: int
    maxconn: int
    server_addrs: dict[str, tuple[int, str, int]]
    errorfiles: dict[str, dict[int, bytes]] = {}

    @property
    def hard_stop_after(self) -> float | None:
        ms = self.config.global_.hard_stop_after
        return None if ms is None else ms / 1000.0


class LoadFailure(Exception):
    """A configuration that cannot run; ``lines`` are the messages to show."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def default_worker_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_generation(
    paths: list[str], number: int, nworkers: int | None, unsupported: str
) -> tuple[Generation, list[str]]:
    """Parse, validate and resolve. Returns the generation and its warnings.

    Raises LoadFailure with every alert when the files cannot run.
    """
    result = lb.config.load_files(paths, unsupported=unsupported)  # type: ignore[arg-type]
    warnings = [str(d) for d in result.diagnostics if d.level == "WARNING"]
    if not result.ok or result.config is None:
        raise LoadFailure([str(d) for d in result.alerts()] or ["configuration is not usable"])
    config = result.config
    try:
        addrs = resolve_servers(config)
    except ResolveError as exc:
        raise LoadFailure([f"[ALERT] {exc}"]) from exc
    errorfiles = read_errorfiles(config)
    if config.frontends():
        count = nworkers or config.global_.nbthread or default_worker_count()
    else:
        count = 0  # nothing to proxy (a keepalived-only configuration): the master alone
    maxconn = apply_fd_limit(config.global_.maxconn, config.global_.ulimit_n)
    return Generation(number, config, count, maxconn, addrs, errorfiles), warnings


def read_errorfiles(config: Config) -> dict[str, dict[int, bytes]]:
    """The workers cannot read files after their chroot: the master reads errorfiles."""
    out: dict[str, dict[int, bytes]] = {}
    for proxy in config.proxies:
        for status, path in proxy.http.errorfiles.items():
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except OSError as exc:
                raise LoadFailure([f"[ALERT] {proxy.source}: errorfile {path}: {exc}"]) from exc
            out.setdefault(proxy.name, {})[status] = raw
    return out
