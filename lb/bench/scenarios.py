"""The comparison matrix: what each scenario sends, and which proxy configuration it needs.

Built in: the headline comparisons of issue 8. More can come from a TOML file
(``lb-bench compare --scenario-file FILE``), one ``[[scenario]]`` table each, with the
fields of Scenario (see bench/scenarios/extra.toml).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

KINDS = ("http", "tcp", "idle")
CONFIGS = ("http", "tcp", "seed")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    kind: str  # http: request load; tcp: bulk streams; idle: connections held open
    config: str = "http"  # the proxy configuration: generic http, generic tcp, or the seed's
    paths: tuple[str, ...] = ("/?s=128",)  # request targets on the serve backend, rotated
    close: bool = False  # a connection per request
    pipeline: int = 1

    def check(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"scenario {self.name}: kind must be one of {', '.join(KINDS)}")
        if self.config not in CONFIGS:
            raise ValueError(f"scenario {self.name}: config must be one of {', '.join(CONFIGS)}")
        if (self.kind == "tcp") != (self.config == "tcp"):
            raise ValueError(f"scenario {self.name}: kind tcp goes with config tcp, and only it")
        if not self.paths or not all(p.startswith("/") for p in self.paths):
            raise ValueError(f"scenario {self.name}: paths must be a list of /paths")
        if self.pipeline < 1 or (self.close and self.pipeline > 1):
            raise ValueError(f"scenario {self.name}: pipeline ≥ 1, and 1 with close")


# Paths for the seed's routing: static by prefix or by suffix, dynamic otherwise; the query
# sizes the response on the serve backend.
SEED_PATHS = (
    "/static/app.css?s=4k",
    "/index.php?s=2k",
    "/image/logo.png?s=16k",
    "/about.html?s=2k",
    "/api/items?s=512",
    "/js/main.js?s=8k",
    "/cart?s=1k",
)

BUILTIN = (
    Scenario("http-keepalive", "HTTP, 128-byte responses, keep-alive", "http", "http"),
    Scenario(
        "http-close", "HTTP, 128-byte responses, a connection per request", "http", close=True
    ),
    Scenario("http-100k", "HTTP, 100 kB responses, keep-alive", "http", paths=("/?s=100k",)),
    Scenario("tcp-bulk", "TCP bulk streams", "tcp", "tcp"),
    Scenario("idle-10k", "Idle keep-alive connections: memory per connection", "idle"),
    Scenario(
        "seed-acl",
        "The seed's configuration: ACL content switching, httpclose, httplog",
        "http",
        "seed",
        paths=SEED_PATHS,
    ),
)


def from_toml(text: str, source: str = "<toml>") -> list[Scenario]:
    """``[[scenario]]`` tables → Scenarios; ValueError naming the source on any mistake."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{source}: {e}") from None
    known = {f.name for f in fields(Scenario)}
    out = []
    for i, table in enumerate(data.get("scenario", [])):
        if not isinstance(table, dict):
            raise ValueError(f"{source}: scenario {i + 1} is not a table")
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"{source}: scenario {i + 1}: unknown field {', '.join(unknown)}")
        args: dict[str, Any] = dict(table)
        if "paths" in args:
            args["paths"] = tuple(args["paths"])
        try:
            s = Scenario(**args)
        except TypeError as e:
            raise ValueError(f"{source}: scenario {i + 1}: {e}") from None
        try:
            s.check()
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None
        out.append(s)
    if not out:
        raise ValueError(f"{source}: no [[scenario]] table")
    return out


def select(names: list[str], extra_files: list[str]) -> list[Scenario]:
    """The scenarios asked for (comma lists allowed), in the order asked; default: all."""
    available = list(BUILTIN)
    for f in extra_files:
        try:
            text = Path(f).read_text()
        except OSError as e:
            raise ValueError(f"{f}: {e.strerror}") from None
        available += from_toml(text, f)
    by_name = {s.name: s for s in available}
    wanted = [n.strip() for item in names for n in item.split(",") if n.strip()]
    if not wanted:
        return available
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise ValueError(f"unknown scenario {', '.join(unknown)} (known: {', '.join(by_name)})")
    return [by_name[n] for n in dict.fromkeys(wanted)]
