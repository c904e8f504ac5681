"""keepalived's ``lb_algo`` names (LVS schedulers), with their LVS meaning.

``lvs_algorithm(name)`` turns a scheduler name into the engine's algorithm,
arguments and hash type; ``make_balancer("lvs:wlc", …)`` does the same
inline. Load is ``cur_conns`` (LVS weighs active connections 256 times
inactive ones; lb counts current connections only).

| lb_algo | meaning | engine |
|---|---|---|
| rr | round robin, weights ignored (weight 0 still excluded) | ``roundrobin`` unweighted |
| wrr | weighted round robin | ``roundrobin`` |
| lc | least connections, weights ignored | ``leastconn`` unweighted |
| wlc | least connections per weight | ``leastconn`` |
| sed | shortest expected delay: (conns+1)/weight | ``sed`` |
| nq | never queue: an idle server first, else sed | ``nq`` |
| sh | source hash | ``source``, consistent |
| dh | destination hash | ``destination``, consistent |
| mh | maglev hash (source) | ``source``, consistent (a ring, not a maglev table) |
| lblc | locality-based least connection | ``lblc`` (see ``locality``) |
| lblcr | same, with replication | ``lblc`` (server sets not kept) |
| fo | weighted fail-over: highest weight | ``fo`` |
| ovf | weighted overflow: highest weight until conns reach its weight | ``ovf`` |
| twos | weighted random, best of two | ``random(2)`` |
"""

from __future__ import annotations

_CONSISTENT = ["consistent"]  # sdbm + avalanche, as HAProxy's default for consistent

LVS_ALGORITHMS: dict[str, tuple[str, list[str], list[str]]] = {
    "rr": ("rr", [], []),
    "wrr": ("roundrobin", [], []),
    "lc": ("lc", [], []),
    "wlc": ("leastconn", [], []),
    "sed": ("sed", [], []),
    "nq": ("nq", [], []),
    "sh": ("source", [], _CONSISTENT),
    "dh": ("destination", [], _CONSISTENT),
    "mh": ("source", [], _CONSISTENT),
    "lblc": ("lblc", [], []),
    "lblcr": ("lblc", [], []),
    "fo": ("fo", [], []),
    "ovf": ("ovf", [], []),
    "twos": ("random(2)", [], []),
}


def lvs_algorithm(name: str) -> tuple[str, list[str], list[str]]:
    """(algorithm, args, hash_type) for ``make_balancer``; ValueError for an unknown name."""
    try:
        algorithm, args, hash_type = LVS_ALGORITHMS[name.lower()]
    except KeyError:
        known = " ".join(sorted(LVS_ALGORITHMS))
        raise ValueError(f"unknown LVS scheduler '{name}' (known: {known})") from None
    return algorithm, list(args), list(hash_type)
