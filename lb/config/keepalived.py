"""The keepalived-syntax parser: block tree → ``Keepalived`` model, then cross-checks.

VRRP is supported (lb/vrrp), and ``virtual_server IP PORT`` with NAT and TCP
(lb.config.keepalived_vs makes it a proxy). The model is filled in full anyway;
what lb cannot honour (``lb_kind DR``, ``protocol UDP``, ``fwmark``, …) is
reported as "not supported yet" at its line.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from lb.config import keepalived_keywords as kk
from lb.config.keepalived_lexer import KeepalivedTokenizer, Node, build_tree
from lb.config.model import (
    GlobalDefs,
    Keepalived,
    KeepalivedBlock,
    RealServer,
    Source,
    TrackInterface,
    TrackScript,
    VirtualAddress,
    VirtualServer,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
)
from lb.config.report import Reporter
from lb.config.units import parse_int, parse_seconds

MAX_BLOCK_DEPTH = 32
_TRACK_WEIGHT = (-254, 254)  # keepalived's bounds for track_script / track_interface weights


class _Bad(Exception):
    """A value was reported as wrong; the statement is skipped."""


class KeepalivedParser:
    def __init__(self, reporter: Reporter) -> None:
        self.report = reporter
        self.model = Keepalived()
        self.tokenizer = KeepalivedTokenizer(reporter)

    @property
    def files(self) -> list[str]:
        return self.tokenizer.files

    def feed(self, path: str, text: str) -> None:
        tokens = self.tokenizer.tokenize_text(path, text)
        for node in build_tree(tokens, self.report):
            self._top(node)

    # ------------------------------------------------------------------ helpers

    def _lookup(self, table_name: str, node: Node) -> kk.KaKeyword | None:
        """The keyword's entry; alerts when unknown, reports unmodelled ones as not yet."""
        entry = kk.BLOCK_TABLES[table_name].get(node.keyword)
        if entry is None:
            where = "at top level" if table_name == "top level" else f"in '{table_name}' block"
            self.report.alert(node.source, f"unknown keyword '{node.keyword}' {where}")
            return None
        if not entry.modelled:
            self.report.not_yet(node.source, node.keyword)
            return None
        return entry

    def _value(self, node: Node) -> str:
        if len(node.args) != 1:
            got = "none" if not node.args else f"{len(node.args)}"
            self.report.alert(node.source, f"'{node.keyword}' expects one value, got {got}")
            raise _Bad
        return node.args[0]

    def _text(self, node: Node) -> str:
        if not node.args:
            self.report.alert(node.source, f"'{node.keyword}' expects a value")
            raise _Bad
        return " ".join(node.args)

    def _int(self, node: Node, lo: int, hi: int, word: str | None = None) -> int:
        try:
            return parse_int(
                self._value(node) if word is None else word, lo, hi, f"'{node.keyword}'"
            )
        except ValueError as e:
            self.report.alert(node.source, str(e))
            raise _Bad from None

    def _seconds(self, node: Node) -> int:
        try:
            return parse_seconds(self._value(node), f"'{node.keyword}'")
        except ValueError as e:
            self.report.alert(node.source, str(e))
            raise _Bad from None

    def _flag(self, node: Node) -> bool:
        if not node.args:
            return True
        word = self._value(node).lower()
        if word in ("true", "yes", "on"):
            return True
        if word in ("false", "no", "off"):
            return False
        self.report.alert(node.source, f"'{node.keyword}' expects true or false, got '{word}'")
        raise _Bad

    def _ip(self, node: Node, word: str) -> str:
        try:
            return str(ipaddress.ip_address(word))
        except ValueError:
            self.report.alert(node.source, f"'{node.keyword}': invalid IP address '{word}'")
            raise _Bad from None

    def _block(self, node: Node) -> list[Node]:
        if node.block is None:
            self.report.alert(node.source, f"'{node.keyword}' expects a '{{ … }}' block")
            raise _Bad
        return node.block

    def _no_block(self, node: Node) -> None:
        if node.block is not None:
            self.report.alert(node.source, f"'{node.keyword}' does not take a '{{ … }}' block")
            raise _Bad

    def _each(
        self, table: str, nodes: list[Node], setters: dict[str, Callable[[Node], None]]
    ) -> None:
        for child in nodes:
            if self._lookup(table, child) is None:
                continue
            if child.keyword not in kk.BLOCK_KEYWORDS and child.block is not None:
                self.report.alert(
                    child.source, f"'{child.keyword}' does not take a '{{ … }}' block"
                )
                continue
            try:
                setters[child.keyword](child)
            except _Bad:
                pass

    # ------------------------------------------------------------------ top level

    def _top(self, node: Node) -> None:
        entry = self._lookup("top level", node)
        if entry is None:
            return
        try:
            if node.keyword == "global_defs":
                self._global_defs(node)
                return
            if entry.status is not kk.Status.SUPPORTED:
                self.report.not_yet(node.source, node.keyword)
            handler: dict[str, Callable[[Node], None]] = {
                "vrrp_script": self._vrrp_script,
                "vrrp_instance": self._vrrp_instance,
                "vrrp_sync_group": self._vrrp_sync_group,
                "virtual_server": self._virtual_server,
            }
            handler[node.keyword](node)
        except _Bad:
            pass

    def _name(self, node: Node) -> str:
        if len(node.args) != 1:
            self.report.alert(node.source, f"'{node.keyword}' expects one name")
            raise _Bad
        return node.args[0]

    # ------------------------------------------------------------------ global_defs

    def _global_defs(self, node: Node) -> None:
        if node.args:
            self.report.alert(
                node.source, f"unexpected argument '{node.args[0]}' after 'global_defs'"
            )
        g = self.model.global_defs
        for child in self._block(node):
            if self._lookup("global_defs", child) is None:
                continue
            try:
                self._global_def(g, child)
            except _Bad:
                pass

    def _global_def(self, g: GlobalDefs, node: Node) -> None:
        key = node.keyword
        if key == "notification_email":
            for entry in self._block(node):
                g.notification_email.extend([entry.keyword, *entry.args])
            return
        self._no_block(node)
        if key == "router_id":
            g.router_id = self._value(node)
        elif key == "notification_email_from":
            g.notification_email_from = self._value(node)
        elif key == "smtp_server":
            if not 1 <= len(node.args) <= 2:
                self.report.alert(
                    node.source, "'smtp_server' expects an address and an optional port"
                )
                raise _Bad
            g.smtp_server = node.args[0]
            if len(node.args) == 2:
                g.smtp_server_port = self._int(node, 1, 65535, node.args[1])
        elif key == "smtp_connect_timeout":
            g.smtp_connect_timeout = self._seconds(node)
        elif key == "enable_script_security":
            g.enable_script_security = self._flag(node)
        elif key == "script_user":
            if not 1 <= len(node.args) <= 2:
                self.report.alert(node.source, "'script_user' expects a user and an optional group")
                raise _Bad
            g.script_user = node.args[0]
            g.script_group = node.args[1] if len(node.args) == 2 else None

    # ------------------------------------------------------------------ vrrp_script

    def _vrrp_script(self, node: Node) -> None:
        script = VrrpScript(name=self._name(node), source=node.source)
        setters: dict[str, Callable[[Node], None]] = {
            "script": lambda n: _set(script, "script", self._text(n)),
            "interval": lambda n: _set(script, "interval", self._positive_seconds(n)),
            "timeout": lambda n: _set(script, "timeout", self._positive_seconds(n)),
            "weight": lambda n: self._script_weight(script, n),
            "rise": lambda n: _set(script, "rise", self._int(n, 1, 2**31 - 1)),
            "fall": lambda n: _set(script, "fall", self._int(n, 1, 2**31 - 1)),
            "user": lambda n: self._script_user(script, n),
        }
        self._each("vrrp_script", self._block(node), setters)
        if not script.script:
            self.report.alert(node.source, f"vrrp_script '{script.name}' has no 'script'")
        self.model.vrrp_scripts.append(script)

    def _positive_seconds(self, node: Node) -> int:
        value = self._seconds(node)
        if value <= 0:
            self.report.alert(node.source, f"'{node.keyword}' must be greater than 0")
            raise _Bad
        return value

    def _script_weight(self, script: VrrpScript, node: Node) -> None:
        # "weight N [reverse]": reverse is a later keepalived addition.
        if len(node.args) == 2 and node.args[1] == "reverse":
            self.report.not_yet(node.source, "reverse", "vrrp_script weight option")
            node = Node(node.keyword, node.args[:1], node.source)
        script.weight = self._int(node, *_TRACK_WEIGHT)

    def _script_user(self, script: VrrpScript, node: Node) -> None:
        if not 1 <= len(node.args) <= 2:
            self.report.alert(node.source, "'user' expects a user and an optional group")
            raise _Bad
        script.user = node.args[0]
        script.group = node.args[1] if len(node.args) == 2 else None

    # ------------------------------------------------------------------ vrrp_instance

    def _vrrp_instance(self, node: Node) -> None:
        inst = VrrpInstance(name=self._name(node), source=node.source)
        setters: dict[str, Callable[[Node], None]] = {
            "state": lambda n: self._state(inst, n),
            "interface": lambda n: _set(inst, "interface", self._value(n)),
            "virtual_router_id": lambda n: _set(inst, "virtual_router_id", self._int(n, 1, 255)),
            "priority": lambda n: _set(inst, "priority", self._int(n, 1, 255)),
            "advert_int": lambda n: _set(inst, "advert_int", self._positive_seconds(n)),
            "version": lambda n: _set(inst, "version", self._int(n, 2, 3)),
            "authentication": lambda n: self._authentication(inst, n),
            "virtual_ipaddress": lambda n: self._vips(inst.virtual_ipaddress, n),
            "virtual_ipaddress_excluded": lambda n: self._vips(inst.virtual_ipaddress_excluded, n),
            "track_interface": lambda n: self._tracks(inst.track_interface, TrackInterface, n),
            "track_script": lambda n: self._tracks(inst.track_script, TrackScript, n),
            "nopreempt": lambda n: _set(inst, "nopreempt", self._flag(n)),
            "preempt_delay": lambda n: _set(inst, "preempt_delay", self._seconds(n)),
            "garp_master_delay": lambda n: _set(inst, "garp_master_delay", self._seconds(n)),
            "garp_master_repeat": lambda n: _set(
                inst, "garp_master_repeat", self._int(n, 1, 2**31 - 1)
            ),
            "garp_master_refresh": lambda n: _set(inst, "garp_master_refresh", self._seconds(n)),
            "unicast_src_ip": lambda n: _set(inst, "unicast_src_ip", self._ip(n, self._value(n))),
            "unicast_peer": lambda n: self._unicast_peers(inst, n),
            "use_vmac": lambda n: self._use_vmac(inst, n),
            "old_unicast_checksum": lambda n: self._old_unicast_checksum(inst, n),
            "notify_master": lambda n: _set(inst, "notify_master", self._text(n)),
            "notify_backup": lambda n: _set(inst, "notify_backup", self._text(n)),
            "notify_fault": lambda n: _set(inst, "notify_fault", self._text(n)),
            "notify_stop": lambda n: _set(inst, "notify_stop", self._text(n)),
            "notify": lambda n: _set(inst, "notify", self._text(n)),
            "smtp_alert": lambda n: _set(inst, "smtp_alert", self._flag(n)),
        }
        self._each("vrrp_instance", self._block(node), setters)
        if not inst.virtual_router_id:
            self.report.alert(
                node.source, f"vrrp_instance '{inst.name}' has no 'virtual_router_id'"
            )
        self.model.vrrp_instances.append(inst)

    def _state(self, inst: VrrpInstance, node: Node) -> None:
        value = self._value(node)
        if value not in ("MASTER", "BACKUP"):
            self.report.alert(node.source, f"'state' must be MASTER or BACKUP, got '{value}'")
            raise _Bad
        inst.state = value  # type: ignore[assignment]

    def _authentication(self, inst: VrrpInstance, node: Node) -> None:
        def auth_type(n: Node) -> None:
            value = self._value(n)
            if value not in ("PASS", "AH"):
                self.report.alert(n.source, f"'auth_type' must be PASS or AH, got '{value}'")
                raise _Bad
            if value == "AH":
                self.report.not_yet(n.source, "auth_type AH", "IPsec AH authentication")
            inst.auth_type = value  # type: ignore[assignment]

        def auth_pass(n: Node) -> None:
            value = self._value(n)
            if len(value) > 8:
                # keepalived keeps the first 8 characters: the VRRPv2 field is 8 bytes.
                self.report.warning(n.source, "'auth_pass' is longer than 8 characters; truncated")
                value = value[:8]
            inst.auth_pass = value

        self._each(
            "authentication", self._block(node), {"auth_type": auth_type, "auth_pass": auth_pass}
        )

    def _vips(self, target: list[VirtualAddress], node: Node) -> None:
        for line in self._block(node):
            try:
                target.append(self._vip(line))
            except _Bad:
                pass

    def _vip(self, line: Node) -> VirtualAddress:
        try:
            iface = ipaddress.ip_interface(line.keyword)
        except ValueError:
            self.report.alert(line.source, f"virtual_ipaddress: invalid address '{line.keyword}'")
            raise _Bad from None
        vip = VirtualAddress(address=str(iface), source=line.source)
        args = line.args
        i = 0
        while i < len(args):
            opt = args[i]
            if opt not in kk.VIRTUAL_IPADDRESS_OPTIONS:
                self.report.alert(line.source, f"virtual_ipaddress: unknown option '{opt}'")
                raise _Bad
            nargs = kk.VIRTUAL_IPADDRESS_OPTION_ARGS.get(opt, 0)
            if i + nargs >= len(args) and nargs:
                self.report.alert(line.source, f"virtual_ipaddress: '{opt}' expects a value")
                raise _Bad
            value = args[i + 1] if nargs else ""
            i += 1 + nargs
            if not kk.VIRTUAL_IPADDRESS_OPTIONS[opt]:
                self.report.not_yet(line.source, opt, "virtual_ipaddress option")
            elif opt in ("brd", "broadcast"):
                vip.brd = value
            else:
                setattr(vip, opt, value)
        return vip

    def _tracks(
        self, target: list[Any], cls: type[TrackScript] | type[TrackInterface], node: Node
    ) -> None:
        for line in self._block(node):
            weight: int | None = None
            args = list(line.args)
            if args[-1:] == ["reverse"]:
                self.report.not_yet(line.source, "reverse", f"{node.keyword} weight option")
                args.pop()
            if args:
                if len(args) != 2 or args[0] != "weight":
                    self.report.alert(line.source, f"'{node.keyword}': expected 'NAME [weight N]'")
                    continue
                try:
                    weight = self._int(line, *_TRACK_WEIGHT, word=args[1])
                except _Bad:
                    continue
            target.append(cls(name=line.keyword, source=line.source, weight=weight))

    def _unicast_peers(self, inst: VrrpInstance, node: Node) -> None:
        for line in self._block(node):
            try:
                inst.unicast_peer.append(self._ip(line, line.keyword))
            except _Bad:
                continue
            if line.args:
                self.report.not_yet(line.source, line.args[0], "unicast_peer option")

    def _old_unicast_checksum(self, inst: VrrpInstance, node: Node) -> None:
        if node.args == ["never"]:
            # "never" turns off keepalived's detection of old checksums; lb accepts both
            # forms whatever this says, so it cannot honour it
            self.report.not_yet(node.source, "old_unicast_checksum never")
            return
        if node.args:
            self.report.alert(node.source, "'old_unicast_checksum' takes only 'never'")
            raise _Bad
        inst.v3_checksum_as_v2 = True

    def _use_vmac(self, inst: VrrpInstance, node: Node) -> None:
        if len(node.args) > 1:
            self.report.alert(node.source, "'use_vmac' takes at most one interface name")
            raise _Bad
        inst.use_vmac = True
        self.report.not_yet(node.source, "use_vmac")

    # ------------------------------------------------------------------ vrrp_sync_group

    def _vrrp_sync_group(self, node: Node) -> None:
        group = VrrpSyncGroup(name=self._name(node), source=node.source)

        def members(n: Node) -> None:
            for line in self._block(n):
                group.group.extend([line.keyword, *line.args])

        setters: dict[str, Callable[[Node], None]] = {
            "group": members,
            "notify_master": lambda n: _set(group, "notify_master", self._text(n)),
            "notify_backup": lambda n: _set(group, "notify_backup", self._text(n)),
            "notify_fault": lambda n: _set(group, "notify_fault", self._text(n)),
            "notify": lambda n: _set(group, "notify", self._text(n)),
            "smtp_alert": lambda n: _set(group, "smtp_alert", self._flag(n)),
        }
        self._each("vrrp_sync_group", self._block(node), setters)
        self.model.vrrp_sync_groups.append(group)

    # ------------------------------------------------------------------ virtual_server

    def _virtual_server(self, node: Node) -> None:
        args = node.args
        if len(args) != 2:
            self.report.alert(
                node.source, "'virtual_server' expects 'IP PORT', 'fwmark N' or 'group NAME'"
            )
            raise _Bad
        if args[0] in ("fwmark", "group"):
            if args[0] == "fwmark":
                self._int(node, 1, 2**32 - 1, args[1])
            # a proxy needs an address and a port to listen on: marks and groups have none
            self.report.not_yet(node.source, f"virtual_server {args[0]}")
            vs = VirtualServer(host=f"{args[0]} {args[1]}", port=0, source=node.source)
        else:
            vs = VirtualServer(
                host=self._ip(node, args[0]),
                port=self._int(node, 0, 65535, args[1]),
                source=node.source,
            )
            if vs.port == 0:  # LVS: every port of a persistent service
                self.report.not_yet(node.source, "virtual_server port 0")

        def choice(
            attr: str, allowed: tuple[str, ...], supported: tuple[str, ...]
        ) -> Callable[[Node], None]:
            def set_choice(n: Node) -> None:
                # "lvs_method TUN type gue port 6080 …": the method is the first word
                value = n.args[0] if n.args and n.args[0] == "TUN" else self._value(n)
                if value not in allowed:
                    self.report.alert(
                        n.source,
                        f"'{n.keyword}' must be one of {', '.join(allowed)}, got '{value}'",
                    )
                    raise _Bad
                if value not in supported:
                    self.report.not_yet(n.source, f"{n.keyword} {value}")
                setattr(vs, attr, value)

            return set_choice

        algos, kinds = kk.LVS_SCHEDULERS, kk.LVS_METHODS
        setters: dict[str, Callable[[Node], None]] = {
            "delay_loop": lambda n: _set(vs, "delay_loop", self._positive_seconds(n)),
            "lb_algo": choice("lb_algo", algos, algos),
            "lvs_sched": choice("lb_algo", algos, algos),
            "lb_kind": choice("lb_kind", kinds, ("NAT",)),
            "lvs_method": choice("lb_kind", kinds, ("NAT",)),
            "protocol": choice("protocol", ("TCP", "UDP", "SCTP"), ("TCP",)),
            "persistence_timeout": lambda n: self._persistence(vs, n),
            "inhibit_on_failure": lambda n: _set(vs, "inhibit_on_failure", self._flag(n)),
            "real_server": lambda n: vs.real_servers.append(self._real_server(n)),
        }
        for key in kk.CHECK_DEFAULTS:
            setters[key] = lambda n: vs.check_defaults.append(self._raw_block(n, 0))
        self._each("virtual_server", self._block(node), setters)
        self.model.virtual_servers.append(vs)

    def _persistence(self, vs: VirtualServer, node: Node) -> None:
        # "persistence_timeout" alone: keepalived's 6 minutes
        vs.persistence_timeout = self._seconds(node) if node.args else 360_000

    def _real_server(self, node: Node) -> RealServer:
        if not 1 <= len(node.args) <= 2:
            self.report.alert(node.source, "'real_server' expects 'IP [PORT]'")
            raise _Bad
        rs = RealServer(
            host=self._ip(node, node.args[0]),
            port=self._int(node, 0, 65535, node.args[1]) if len(node.args) == 2 else 0,
            source=node.source,
        )
        setters: dict[str, Callable[[Node], None]] = {
            "weight": lambda n: _set(rs, "weight", self._int(n, 0, 65535)),
            "inhibit_on_failure": lambda n: _set(rs, "inhibit_on_failure", self._flag(n)),
            "notify_up": lambda n: _set(rs, "notify_up", self._notify(n)),
            "notify_down": lambda n: _set(rs, "notify_down", self._notify(n)),
        }
        for key in (*kk.CHECK_DEFAULTS, "delay_loop"):
            setters[key] = lambda n: rs.check_defaults.append(self._raw_block(n, 0))
        others: list[Node] = []
        for child in self._block(node):
            if child.keyword not in kk.CHECK_BLOCKS:
                others.append(child)
            elif child.block is None:
                self.report.alert(child.source, f"'{child.keyword}' expects a '{{ … }}' block")
            else:
                rs.checks.append(self._raw_block(child, 0))
        self._each("real_server", others, setters)
        return rs

    def _notify(self, node: Node) -> list[str]:
        # COMMAND [USER [GROUP]]; the command is one word, usually quoted
        if not 1 <= len(node.args) <= 3:
            self.report.alert(node.source, f"'{node.keyword}' expects 'COMMAND [USER [GROUP]]'")
            raise _Bad
        return list(node.args)

    def _raw_block(self, node: Node, depth: int) -> KeepalivedBlock:
        block = KeepalivedBlock(keyword=node.keyword, source=node.source, args=list(node.args))
        if depth >= MAX_BLOCK_DEPTH:
            self.report.alert(node.source, "blocks nested too deeply")
            return block
        block.children = [self._raw_block(c, depth + 1) for c in node.block or []]
        return block

    # ------------------------------------------------------------------ cross-checks

    def finish(self) -> Keepalived:
        validate_keepalived(self.model, self.report)
        return self.model


def _set(obj: object, attr: str, value: object) -> None:
    setattr(obj, attr, value)


def validate_keepalived(model: Keepalived, report: Reporter) -> None:
    scripts = {s.name for s in model.vrrp_scripts}
    seen_names: dict[str, Source] = {}
    for script in model.vrrp_scripts:
        if script.name in seen_names:
            report.alert(
                script.source,
                f"vrrp_script '{script.name}' already declared at {seen_names[script.name]}",
            )
        seen_names[script.name] = script.source

    seen_instances: dict[str, Source] = {}
    seen_vrids: dict[tuple[str, int, int], VrrpInstance] = {}
    for inst in model.vrrp_instances:
        if inst.name in seen_instances:
            report.alert(
                inst.source,
                f"vrrp_instance '{inst.name}' already declared at {seen_instances[inst.name]}",
            )
        seen_instances[inst.name] = inst.source
        for track in inst.track_script:
            if track.name not in scripts:
                report.alert(
                    track.source, f"track_script '{track.name}': no vrrp_script of that name"
                )
        family = _family(inst)
        key = (inst.interface, inst.virtual_router_id, family)
        other = seen_vrids.get(key)
        if inst.virtual_router_id and other is not None:
            report.alert(
                inst.source,
                f"vrrp_instance '{inst.name}' uses virtual_router_id {inst.virtual_router_id} on "
                f"'{inst.interface}', already used by '{other.name}' ({other.source})",
            )
        seen_vrids.setdefault(key, inst)

    for group in model.vrrp_sync_groups:
        for member in group.group:
            if member not in seen_instances:
                report.alert(
                    group.source, f"vrrp_sync_group '{group.name}': no vrrp_instance '{member}'"
                )

    seen_services: dict[tuple[str, int, str], Source] = {}
    for vs in model.virtual_servers:
        service = (vs.host, vs.port, vs.protocol)
        if service in seen_services:
            report.alert(
                vs.source,
                f"virtual_server {vs.host} {vs.port} ({vs.protocol}) already declared at "
                f"{seen_services[service]}",
            )
        seen_services.setdefault(service, vs.source)
        seen_reals: dict[tuple[str, int], Source] = {}
        for rs in vs.real_servers:
            real = (rs.host, rs.port or vs.port)
            if real in seen_reals:
                report.alert(
                    rs.source,
                    f"real_server {real[0]} {real[1]} already declared at {seen_reals[real]}",
                )
            seen_reals.setdefault(real, rs.source)


def _family(inst: VrrpInstance) -> int:
    for vip in inst.virtual_ipaddress:
        return ipaddress.ip_interface(vip.address).version
    return 4
