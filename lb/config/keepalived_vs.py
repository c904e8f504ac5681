"""keepalived's ``virtual_server IP PORT`` as a mode-tcp ``listen`` proxy. Pure.

LVS forwards packets in the kernel; lb proxies connections. With ``lb_kind
NAT`` and ``protocol TCP`` the client-facing behaviour is the same, and one
``virtual_server`` becomes one proxy:

- ``virtual_server IP PORT`` → ``listen vs_IP_PORT`` bound on IP:PORT with
  IP_FREEBIND, since the address may be a VIP that VRRP holds on the peer for now;
- ``lb_algo`` / ``lvs_sched X`` → ``balance lvs:X``: lb.balance.lvs gives X its
  LVS meaning;
- ``real_server IP PORT`` + ``weight`` → ``server IP:PORT weight W`` (no port:
  the virtual server's);
- check blocks → run by the master (lb.master.health.keepalived);
- ``persistence_timeout T`` → ``stick-table type ip size 100k expire T`` + ``stick on
  src``: a client goes back to its real server while it keeps coming within T (LVS
  persistence, one table for every worker; ``persistence_granularity`` is not there yet);
- ``inhibit_on_failure`` → nothing to do: a failed server stays listed, DOWN,
  takes no new connection, and its established ones go on, which is what LVS
  does with weight 0.

The one difference an operator sees: the real servers get connections from
lb's address, not the client's (LVS NAT rewrites only the destination).

Virtual servers the parser reported as not supported (``lb_kind DR|TUN``,
``protocol UDP|SCTP``, ``fwmark``, ``group``, port 0) make no proxy: with
``--unsupported warn`` lb runs without them.
"""

from __future__ import annotations

from lb.config.model import (
    Bind,
    Keepalived,
    Proxy,
    RealServer,
    Server,
    StickRule,
    StickTable,
    Timeouts,
    VirtualServer,
)
from lb.config.report import Reporter

# ipvsadm's default "tcp" timeout: LVS forgets an idle established connection after 15 min.
LVS_TCP_IDLE_MS = 900_000
# LVS has no connect timeout (the client's SYN goes straight through); a proxy needs one,
# and 5 s is keepalived's own connect_timeout default for its checks.
CONNECT_TIMEOUT_MS = 5_000
MAX_WEIGHT = 256  # lb's (HAProxy's) weights; LVS takes larger ones
# persistence_timeout's table: LVS's has no size; lb's must have one (entries past it are
# purged least recently used first)
PERSISTENCE_ENTRIES = 100 * 1024


def proxy_name(vs: VirtualServer) -> str:
    return f"vs_{vs.host}_{vs.port}"


def real_port(vs: VirtualServer, rs: RealServer) -> int:
    return rs.port or vs.port


def server_name(vs: VirtualServer, rs: RealServer) -> str:
    port = real_port(vs, rs)
    return f"[{rs.host}]:{port}" if ":" in rs.host else f"{rs.host}:{port}"


def proxiable(vs: VirtualServer) -> bool:
    """Whether lb can serve ``vs`` as a proxy (the parser reported every other case)."""
    return (
        not vs.host.startswith(("fwmark ", "group "))
        and vs.port != 0
        and vs.lb_kind == "NAT"
        and vs.protocol == "TCP"
    )


def virtual_server_proxy(vs: VirtualServer, report: Reporter) -> Proxy:
    servers = []
    for rs in vs.real_servers:
        weight = rs.weight
        if weight > MAX_WEIGHT:
            report.not_yet(rs.source, f"weight {weight}", f"lb's weights are 0..{MAX_WEIGHT}")
            weight = MAX_WEIGHT
        servers.append(
            Server(
                name=server_name(vs, rs),
                host=rs.host,
                port=real_port(vs, rs),
                source=rs.source,
                weight=weight,
                check=bool(rs.checks),
            )
        )
    return Proxy(
        name=proxy_name(vs),
        kind="listen",
        source=vs.source,
        mode="tcp",
        binds=[Bind(host=vs.host, port=vs.port, source=vs.source, freebind=True)],
        servers=servers,
        balance=f"lvs:{vs.lb_algo}",
        timeouts=Timeouts(
            connect=CONNECT_TIMEOUT_MS, client=LVS_TCP_IDLE_MS, server=LVS_TCP_IDLE_MS
        ),
        # a connection its real server refuses goes to another one: a proxy can, LVS cannot
        redispatch=True,
        description=f"keepalived virtual_server {vs.host} {vs.port}",
        virtual_server=vs,
        **_persistence(vs),
    )


def _persistence(vs: VirtualServer) -> dict[str, object]:
    """LVS persistence as a stick table on the client's address (none without it)."""
    if not vs.persistence_timeout:
        return {}
    table = StickTable(
        type="ipv6" if ":" in vs.host else "ip",
        size=PERSISTENCE_ENTRIES,
        source=vs.source,
        expire=vs.persistence_timeout,
    )
    return {"stick_table": table, "stick_rules": [StickRule("on", ["src"], vs.source)]}


def virtual_server_proxies(
    model: Keepalived, existing: list[Proxy], report: Reporter
) -> list[Proxy]:
    """The proxies for ``model``'s virtual servers, checked against the HAProxy-side ones."""
    names = {p.name: p for p in existing}
    bound = {(b.host, b.port): p for p in existing if p.has_frontend for b in p.binds}
    out: list[Proxy] = []
    for vs in model.virtual_servers:
        if not proxiable(vs):
            continue
        proxy = virtual_server_proxy(vs, report)
        other = names.get(proxy.name)
        if other is not None:
            report.alert(
                vs.source,
                f"virtual_server {vs.host} {vs.port} becomes proxy '{proxy.name}', "
                f"a name already taken by {other.kind} '{other.name}' at {other.source}",
            )
            continue
        other = bound.get((vs.host, vs.port))
        if other is not None:
            # both would bind with SO_REUSEPORT and silently share the connections
            report.alert(
                vs.source,
                f"virtual_server {vs.host} {vs.port}: {other.kind} '{other.name}' "
                f"({other.source}) already binds {vs.host}:{vs.port}",
            )
            continue
        names[proxy.name] = proxy
        bound[(vs.host, vs.port)] = proxy
        out.append(proxy)
    return out
