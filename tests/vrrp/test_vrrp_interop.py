"""lb and Debian's keepalived in one VRRP group: they must elect, fail over and fail back
together, for VRRPv2 with PASS authentication and for VRRPv3.

h1 runs the priority-100 node, h2 the priority-99 one; each test runs once with lb on h1
and keepalived on h2, and once the other way round. keepalived runs in the foreground
(``-n``) with its pid files in the node's own directory, and is killed by pid.
"""

from __future__ import annotations

import re

import pytest

from tests.support.vrrp_nodes import (
    VIP,
    KeepalivedNode,
    LbNode,
    Node,
    Nodes,
    holders,
    instance,
    keepalived_conf,
    wait_for,
)
from tests.support.vrrp_nodes import nodes as nodes  # fixture

VERSIONS = {
    # name: (instance options, Master_Down_Interval of the priority-99 backup)
    "v2-pass": (dict(version=2, advert_int=1, auth_pass="s3cret"), 3 + 157 / 256),
    "v3": (dict(version=3, advert_int=0.1), 0.3 + 157 / 256 * 0.1),
}

# keepalived's complaints about a peer's adverts (checksum, addresses, auth, interval)
KEEPALIVED_COMPLAINTS = re.compile(
    r"invalid checksum|bogus|not present in|auth.*(fail|mismatch)|interval mismatch|"
    r"received .*(lower|higher) .*different|ttl",
    re.IGNORECASE,
)


def _state(node: Node) -> str:
    if isinstance(node, LbNode):
        return node.state()
    assert isinstance(node, KeepalivedNode)
    states = node.states()
    return states[-1][1] if states else "INIT"


def _no_complaints(lb: LbNode, ka: KeepalivedNode) -> None:
    view = lb.show()["VI_1"]
    assert view.drops == {}, f"lb dropped keepalived's adverts: {view.drops}"
    assert view.counter("adverts_received") > 0 or view.state == "MASTER"
    bad = [ln for ln in ka.output().splitlines() if KEEPALIVED_COMPLAINTS.search(ln)]
    assert not bad, "keepalived complains about lb's adverts:\n" + "\n".join(bad)


@pytest.mark.parametrize("lb_is_master", [True, False], ids=["lb-master", "keepalived-master"])
@pytest.mark.parametrize("version", list(VERSIONS))
def test_lb_and_keepalived_elect_fail_over_and_fail_back(
    nodes: Nodes, version: str, lb_is_master: bool
) -> None:
    options, mdi = VERSIONS[version]
    h1, _h2, _ = nodes.hosts
    if lb_is_master:
        top, low = nodes.lb(0), nodes.keepalived(1)
    else:
        top, low = nodes.keepalived(0), nodes.lb(1)
    lb = top if isinstance(top, LbNode) else low
    ka = low if isinstance(low, KeepalivedNode) else top
    assert isinstance(lb, LbNode) and isinstance(ka, KeepalivedNode)
    top.start(keepalived_conf(instance(state="MASTER", priority=100, **options)))
    low.start(keepalived_conf(instance(state="BACKUP", priority=99, **options)))

    # election: h1 alone holds the VIP, and both say so
    wait_for(lambda: _state(top) == "MASTER", mdi + 4, "h1 MASTER")
    wait_for(lambda: holders(nodes.hosts) == [h1], 2, "the VIP on h1 only")
    assert _state(low) == "BACKUP"
    if lb is low:
        wait_for(lambda: lb.show()["VI_1"].fields["master"] == h1.ip4, 2, "lb follows h1")
    _no_complaints(lb, ka)

    # hard kill of the master: h2 takes over
    watch = nodes.watch(1)
    t0 = top.hard_kill()
    t1 = watch.wait(VIP, True, t0, mdi + 2)
    assert t1 - t0 <= mdi + 0.1, f"failover took {t1 - t0:.3f}s (Master_Down {mdi:.3f}s)"
    wait_for(lambda: _state(low) == "MASTER", 1, "h2 MASTER")

    # the master returns (removing the address its kill -9 left), and preempts
    top.start()
    wait_for(lambda: _state(top) == "MASTER", mdi + 4, "h1 MASTER again")
    wait_for(lambda: _state(low) == "BACKUP", 2, "h2 BACKUP again")
    wait_for(lambda: holders(nodes.hosts) == [h1], 2, "the VIP back on h1 only")
    _no_complaints(lb, ka)

    # and the other way: the backup dies, nothing moves; it returns as BACKUP
    low.hard_kill()
    low.start()
    wait_for(lambda: _state(low) == "BACKUP", 3, "h2 BACKUP after restart")
    if lb is low:
        wait_for(lambda: lb.show()["VI_1"].fields["master"] == h1.ip4, mdi + 1, "lb follows h1")
    wait_for(lambda: holders(nodes.hosts) == [h1], 2, "the VIP still on h1 only")
    _no_complaints(lb, ka)
