"""VRRP in the master: keepalived-compatible virtual-IP failover.

    packet.py    codec: VRRPv2 (RFC 3768, keepalived's PASS auth) and VRRPv3 (RFC 5798/9568)
    state.py     the RFC 5798 §6.4 state machine, pure, driven by an injected clock
    io.py        raw IP-protocol-112 sockets: multicast or unicast adverts, TTL on receive
    vips.py      virtual addresses added and removed with pyroute2, idempotently
    announce.py  gratuitous ARP (AF_PACKET) and unsolicited neighbour advertisements
    scripts.py   vrrp_script runners and tracking weights (keepalived semantics)
    instance.py  one vrrp_instance: machine + socket + VIPs + tracking + notify
    manager.py   every instance and sync group of a configuration, owned by the arbiter

pyroute2 does not run under uvloop, so all of this lives in the master (stock asyncio).
"""
