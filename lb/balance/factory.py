"""``make_balancer``: from the configuration's words to a ready balancer.

``algorithm`` is the word after ``balance`` ("roundrobin", "random(3)",
"hdr(Host)", …) or "lvs:<lb_algo>" for keepalived's schedulers; ``args`` the
words after it; ``hash_type`` the words after ``hash-type``. Anything unknown
or not supported raises ValueError with a message fit for the operator.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lb.balance.dynamic_rr import RoundRobin
from lb.balance.first import FirstAvailable
from lb.balance.hashed import HashBalancer
from lb.balance.hashes import HASH_FUNCTIONS, HashFunction, fold_address, make_hasher
from lb.balance.keys import (
    KeyOf,
    destination_key,
    header_key,
    source_key,
    uri_key,
    url_param_key,
)
from lb.balance.leastconn import LeastConn
from lb.balance.locality import LocalityLeastConn
from lb.balance.lvs import lvs_algorithm
from lb.balance.random_choice import DEFAULT_DRAWS, PowerOfChoices
from lb.balance.static_rr import StaticRoundRobin
from lb.balance.tiers import AlgorithmFactory, KeySpec, TieredBalancer
from lb.balance.view import ServerView

_NAME = re.compile(r"([a-z_-]+)(?:\((.*)\))?", re.IGNORECASE)

NOT_SUPPORTED = {"rdp-cookie", "hash"}


@dataclass(frozen=True, slots=True)
class HashType:
    consistent: bool = False
    function: str = "sdbm"
    avalanche: bool = False


def parse_hash_type(words: Sequence[str]) -> HashType:
    """``hash-type <method> [<function>] [avalanche]``; no words: map-based sdbm.

    ``consistent`` without a function is sdbm with avalanche, HAProxy's
    default since avalanche became a modifier (1.5): sdbm alone spreads short
    keys badly on a ring. Naming a function drops it unless "avalanche" follows.
    """
    if not words:
        return HashType()
    method, *rest = words
    if method not in ("map-based", "consistent"):
        raise ValueError(f"hash-type: unknown method '{method}' (map-based or consistent)")
    consistent = method == "consistent"
    if not rest:
        return HashType(consistent, "sdbm", consistent)
    function = rest[0]
    modifier = rest[1:]
    if function == "avalanche":
        function, modifier = "sdbm", rest
    if function not in HASH_FUNCTIONS:
        known = ", ".join(HASH_FUNCTIONS)
        raise ValueError(f"hash-type: unknown or unsupported function '{function}' ({known})")
    if modifier not in ([], ["avalanche"]):
        raise ValueError(f"hash-type: unexpected '{' '.join(modifier)}' (only 'avalanche')")
    return HashType(consistent, function, bool(modifier))


def _no_args(name: str, args: Sequence[str]) -> None:
    if args:
        raise ValueError(f"'balance {name}' takes no argument, got '{args[0]}'")


def _positive(word: str, value: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"balance uri: '{word}' needs a positive integer, got '{value}'")
    return int(value)


def _uri_key(args: Sequence[str]) -> KeyOf:
    length: int | None = None
    depth: int | None = None
    whole = path_only = False
    words = iter(args)
    for word in words:
        if word in ("len", "depth"):
            value = next(words, "")
            if word == "len":
                length = _positive(word, value)
            else:
                depth = _positive(word, value)
        elif word == "whole":
            whole = True
        elif word == "path-only":
            path_only = True
        else:
            raise ValueError(
                f"balance uri: unknown option '{word}' (len <n>, depth <n>, whole, path-only)"
            )
    return uri_key(length=length, depth=depth, whole=whole, path_only=path_only)


def _hashed(
    key_of: KeyOf, hash_type: Sequence[str], base: HashFunction | None = None
) -> AlgorithmFactory:
    kind = parse_hash_type(hash_type)
    hasher = make_hasher(kind.function, kind.avalanche, base=base)
    return lambda servers: HashBalancer(
        servers, key_of=key_of, hasher=hasher, consistent=kind.consistent
    )


def make_balancer(
    algorithm: str,
    args: list[str],
    hash_type: list[str],
    servers: Sequence[ServerView],
    *,
    allbackups: bool = False,
    rng: random.Random | None = None,
) -> TieredBalancer:
    """The balancer for ``balance <algorithm> <args…>`` over ``servers``."""
    if algorithm.lower().startswith("lvs:"):
        if args:
            raise ValueError(f"LVS scheduler '{algorithm[4:]}' takes no argument")
        algorithm, args, hash_type = lvs_algorithm(algorithm[4:])
    match = _NAME.fullmatch(algorithm)
    if match is None:
        raise ValueError(f"unknown balance algorithm '{algorithm}'")
    name, inner = match.group(1).lower(), match.group(2)
    if name in NOT_SUPPORTED:
        raise ValueError(f"balance {name} is not supported yet")
    if inner is not None and name not in ("random", "hdr"):
        raise ValueError(f"'balance {name}' takes no parenthesised argument")

    factory: AlgorithmFactory
    spec = KeySpec()
    if name in ("roundrobin", "rr"):
        weighted = name == "roundrobin"
        _no_args(name, args)
        factory = lambda s: RoundRobin(s, weighted=weighted)  # noqa: E731
    elif name == "static-rr":
        _no_args(name, args)
        factory = StaticRoundRobin
    elif name in ("leastconn", "lc", "sed", "nq"):
        _no_args(name, args)
        cost = "wlc" if name == "leastconn" else name
        factory = lambda s: LeastConn(s, cost=cost)  # noqa: E731
    elif name in ("first", "fo", "ovf"):
        _no_args(name, args)
        factory = lambda s: FirstAvailable(s, mode=name)  # noqa: E731
    elif name == "random":
        _no_args(name, args)
        draws = DEFAULT_DRAWS
        if inner is not None:
            if not inner.strip().isdigit() or int(inner) < 1:
                raise ValueError(f"random(<draws>) needs a positive integer, got '{inner}'")
            draws = int(inner)
        chooser_rng = rng if rng is not None else random.Random()
        factory = lambda s: PowerOfChoices(s, draws=draws, rng=chooser_rng)  # noqa: E731
    elif name == "lblc":
        _no_args(name, args)
        factory = LocalityLeastConn
        spec = KeySpec("destination")
    elif name == "source":
        _no_args(name, args)
        # HAProxy folds the address into 32 bits and never runs the hash-type function
        # on it (only avalanche, when configured): same client, same server as HAProxy.
        factory = _hashed(source_key, hash_type, base=fold_address)
        spec = KeySpec(name)
    elif name == "destination":
        _no_args(name, args)
        factory = _hashed(destination_key, hash_type)
        spec = KeySpec(name)
    elif name == "uri":
        factory = _hashed(_uri_key(args), hash_type)
        spec = KeySpec("uri")
    elif name == "url_param":
        if not args:
            raise ValueError("balance url_param needs a parameter name")
        if len(args) > 1:
            raise ValueError(f"balance url_param: '{args[1]}' is not supported yet")
        factory = _hashed(url_param_key(args[0]), hash_type)
        spec = KeySpec("param", args[0])
    elif name == "hdr":
        if not inner:
            raise ValueError("balance hdr needs a header name: hdr(<name>)")
        if args not in ([], ["use_domain_only"]):
            raise ValueError(f"balance hdr: unexpected '{' '.join(args)}' (use_domain_only)")
        factory = _hashed(header_key(use_domain_only=bool(args)), hash_type)
        spec = KeySpec("header", inner.strip())
    else:
        raise ValueError(f"unknown balance algorithm '{algorithm}'")
    return TieredBalancer(algorithm, factory, servers, allbackups=allbackups, key_spec=spec)
