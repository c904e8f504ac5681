"""Three lb nodes (VRRPv3, advert_int 0.1 s, priorities 100/90/80) under random kill -9 and
restart: after every change the group converges on one master, the best live node, which
alone holds the VIP, and every live node's ``show vrrp`` agrees."""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.support.vrrp_nodes import (
    VIP,
    LbNode,
    Nodes,
    drop_vip,
    holders,
    instance,
    keepalived_conf,
)
from tests.support.vrrp_nodes import nodes as nodes  # fixture

CYCLES = 100
PRIORITIES = (100, 90, 80)
CONVERGE = 5.0  # s allowed per cycle (Master_Down_Interval is 0.3 s + skew)


def _converged(live: list[LbNode], best: LbNode) -> str | None:
    """None when the group agrees on ``best``; else what is still wrong."""
    views = {n: n.show()["VI_1"] for n in live}
    masters = [n for n, v in views.items() if v.state == "MASTER"]
    if masters != [best]:
        return f"masters {masters}, expected {best}"
    for n, v in views.items():
        if n is not best and (v.state != "BACKUP" or v.fields.get("master") != best.host.ip4):
            return f"{n}: {v.state}, master {v.fields.get('master')}"
    held = holders([n.host for n in views] + [], VIP)
    if held != [best.host]:
        return f"VIP held by {held}"
    return None


@pytest.mark.slow
def test_random_kill_and_restart_converge_on_one_master(nodes: Nodes) -> None:
    seed = int(os.environ.get("LB_CHAOS_SEED", "0")) or random.randrange(1, 2**31)
    rng = random.Random(seed)
    group = [nodes.lb(i) for i in range(3)]
    confs = [
        keepalived_conf(instance(priority=p, version=3, advert_int=0.1, vrid=51))
        for p in PRIORITIES
    ]
    for node, conf in zip(group, confs, strict=True):
        node.start(conf)
    alive = set(group)
    history: list[str] = []
    kills_of_master = kills_of_backup = 0

    def fail(message: str) -> None:
        pytest.fail(
            f"chaos seed {seed} (rerun with LB_CHAOS_SEED={seed}), cycle {len(history)}: "
            f"{message}\nactions: {history[-10:]}\n{nodes.logs()}"
        )

    def converge() -> float:
        live = [n for n in group if n in alive]
        best = live[0]  # group is in priority order
        start = time.monotonic()
        why: str | None = "not checked"
        while time.monotonic() - start < CONVERGE:
            why = _converged(live, best)
            if why is None:
                return time.monotonic() - start
            time.sleep(0.03)
        fail(f"no convergence in {CONVERGE}s: {why}")
        raise AssertionError("unreachable")

    converge()
    worst = 0.0
    for _ in range(CYCLES):
        dead = [n for n in group if n not in alive]
        if dead and (len(alive) == 1 or rng.random() < 0.5):
            node = rng.choice(dead)
            node.start()
            alive.add(node)
            history.append(f"restart {node}")
        else:
            node = rng.choice(sorted(alive, key=group.index))
            was_master = node.show()["VI_1"].state == "MASTER"
            node.hard_kill()
            drop_vip(node.host)  # a dead machine answers for nothing
            alive.discard(node)
            history.append(f"kill {node} ({'master' if was_master else 'backup'})")
            kills_of_master += was_master
            kills_of_backup += not was_master
        worst = max(worst, converge())
    print(
        f"chaos seed {seed}: {CYCLES} cycles, {kills_of_master} master kills, "
        f"{kills_of_backup} backup kills, slowest convergence {worst:.2f}s"
    )
    assert kills_of_master and kills_of_backup, f"seed {seed}: the draw never killed both kinds"
