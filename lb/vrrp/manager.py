"""Every VRRP instance, script and sync group of one configuration, for the arbiter.

The arbiter starts the manager once its workers serve (an instance must not win
an election for traffic nobody can take), reloads it with each new generation,
and shuts it down before it exits: priority 0 adverts, addresses removed.
"""

from __future__ import annotations

import msgspec

from lb import log
from lb.config.model import Keepalived, VrrpInstance
from lb.vrrp.instance import Context, InstanceRunner
from lb.vrrp.scripts import NotifyQueue, ScriptTracker
from lb.vrrp.state import State, Transition
from lb.vrrp.vips import VipManager


def _fingerprint(obj: msgspec.Struct) -> bytes:
    """A Struct's content without its source lines: equal = no change worth a restart."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "source"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return msgspec.json.encode(strip(msgspec.to_builtins(obj)))


class VrrpManager:
    def __init__(self, config: Keepalived, data_plane_ok: object | None = None) -> None:
        self.config = config
        self.data_plane_ok = data_plane_ok
        self.vips: VipManager | None = None
        self.notify: NotifyQueue | None = None
        self.scripts: dict[str, ScriptTracker] = {}
        self.runners: dict[str, InstanceRunner] = {}
        self._fingerprints: dict[str, bytes] = {}
        self._group_of: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return bool(self.runners)

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        self.vips = VipManager()
        self._build(self.config)

    def _build(self, config: Keepalived, kept: dict[str, InstanceRunner] | None = None) -> None:
        """Scripts, notify queue, groups and instances of ``config``; ``kept`` runners are
        reused as they are (a reload that did not change them)."""
        assert self.vips is not None
        self.config = config
        self.notify = NotifyQueue(config.global_defs)
        self.notify.start()
        tracked = {ts.name for inst in config.vrrp_instances for ts in inst.track_script}
        for script in config.vrrp_scripts:
            if script.name in tracked:  # keepalived runs only the scripts someone tracks
                self.scripts[script.name] = ScriptTracker(
                    script, config.global_defs, self._scripts_changed
                )
        self._group_of = {
            member: group.name for group in config.vrrp_sync_groups for member in group.group
        }
        for inst in config.vrrp_instances:
            runner = (kept or {}).get(inst.name)
            if runner is not None:
                runner.ctx = self._context(config)
                self.runners[inst.name] = runner
            else:
                self._start_instance(inst, config)
        for tracker in self.scripts.values():
            tracker.start()

    def _context(self, config: Keepalived) -> Context:
        assert self.vips is not None and self.notify is not None
        return Context(
            defs=config.global_defs,
            vips=self.vips,
            scripts=self.scripts,
            notify=self.notify,
            data_plane_ok=self.data_plane_ok,  # type: ignore[arg-type]
            on_transition=self._on_transition,
            group_faults=self._group_faults,
        )

    def _start_instance(self, inst: VrrpInstance, config: Keepalived) -> None:
        try:
            runner = InstanceRunner(inst, self._context(config))
            runner.start()
        except (OSError, ValueError) as exc:
            log.alert(f"{inst.source}: VRRP instance {inst.name} cannot start: {exc}")
            return
        self.runners[inst.name] = runner
        self._fingerprints[inst.name] = _fingerprint(inst)

    def reload(self, config: Keepalived) -> None:
        """Keep unchanged instances as they are (no election); restart the others."""
        if self.vips is None:
            self.config = config
            self.start()
            return
        wanted = {inst.name: inst for inst in config.vrrp_instances}
        for name in list(self.runners):
            inst = wanted.get(name)
            if inst is None or _fingerprint(inst) != self._fingerprints[name]:
                self.runners.pop(name).shutdown()
                self._fingerprints.pop(name, None)
        for tracker in self.scripts.values():
            tracker.stop()
        self.scripts.clear()
        if self.notify is not None:
            self.notify.stop()
        kept = dict(self.runners)
        self.runners.clear()
        self._build(config, kept)

    def shutdown(self) -> None:
        """Synchronous, for every kind of stop: priority 0, addresses removed, scripts stopped."""
        for runner in self.runners.values():
            try:
                runner.shutdown()
            except Exception as exc:  # one broken instance must not keep the others' VIPs
                log.alert(f"VRRP instance {runner.name}: shutdown failed: {exc!r}")
        self.runners.clear()
        for tracker in self.scripts.values():
            tracker.stop()
        if self.notify is not None:
            self.notify.stop()
        if self.vips is not None:
            self.vips.close()
            self.vips = None

    # ------------------------------------------------------------------ tracking

    def _scripts_changed(self) -> None:
        for runner in self.runners.values():
            runner.retrack()

    def data_plane_changed(self) -> None:
        for runner in self.runners.values():
            runner.retrack()

    def _members(self, runner: InstanceRunner) -> tuple[str | None, list[InstanceRunner]]:
        group = self._group_of.get(runner.name)
        if group is None:
            return None, []
        spec = next(g for g in self.config.vrrp_sync_groups if g.name == group)
        others = [self.runners[m] for m in spec.group if m in self.runners and m != runner.name]
        return group, others

    def _group_faults(self, runner: InstanceRunner) -> list[str]:
        """vrrp_sync_group: one member in FAULT holds the whole group in FAULT."""
        group, others = self._members(runner)
        return [
            f"sync group {group}: {other.name}: {reason}"
            for other in others
            for reason in other.own_faults
        ]

    def _on_transition(self, runner: InstanceRunner, t: Transition) -> None:
        group, others = self._members(runner)
        if group is None:
            return
        if State.FAULT in (t.new, t.old):
            for other in others:
                other.retrack()
        elif t.new == State.MASTER:
            for other in others:  # the group moves together: one master, all masters
                other.force(State.MASTER, f"sync group {group}: {runner.name} is MASTER")
        elif t.new == State.BACKUP and t.old == State.MASTER:
            for other in others:
                other.force(State.BACKUP, f"sync group {group}: {runner.name} is BACKUP")
        spec = next(g for g in self.config.vrrp_sync_groups if g.name == group)
        if self.notify is None or any(m.machine.state != t.new for m in others):
            return  # the group's notify runs once the whole group is in the new state
        target = {
            State.MASTER: spec.notify_master,
            State.BACKUP: spec.notify_backup,
            State.FAULT: spec.notify_fault,
        }.get(t.new)
        if target:
            self.notify.put(target)
        if spec.notify:
            self.notify.put(spec.notify, "GROUP", group, str(t.new))

    # ------------------------------------------------------------------ show

    def show(self) -> str:
        if not self.runners:
            return "no VRRP instance\n\n"
        lines: list[str] = []
        for runner in self.runners.values():
            lines.extend(runner.describe())
            group = self._group_of.get(runner.name)
            if group:
                lines.append(f"  sync_group: {group}")
        return "\n".join(lines) + "\n\n"
