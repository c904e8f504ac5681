"""Load-balancing algorithms: pure, table-tested.

``make_balancer`` builds any of them behind one shape (``Balancer``: ``pick``
and ``update``) over ``ServerView``s; ``PickKey`` carries what the hashing
ones hash, and ``balancer.key_spec`` says which field that is.
"""

from lb.balance.factory import HashType, make_balancer, parse_hash_type
from lb.balance.lvs import LVS_ALGORITHMS, lvs_algorithm
from lb.balance.tiers import KeySpec, TieredBalancer
from lb.balance.view import Balancer, PickKey, ServerView, selectable

__all__ = [
    "LVS_ALGORITHMS",
    "Balancer",
    "HashType",
    "KeySpec",
    "PickKey",
    "ServerView",
    "TieredBalancer",
    "lvs_algorithm",
    "make_balancer",
    "parse_hash_type",
    "selectable",
]
