"""One vrrp_instance at work: the pure state machine, its socket, its addresses,
what it tracks, and what it tells the world when it changes state."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import subprocess
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from lb import log
from lb.config.model import GlobalDefs, VirtualAddress, VrrpInstance
from lb.vrrp.announce import send_gratuitous_arp, send_unsolicited_na
from lb.vrrp.io import VrrpChannel
from lb.vrrp.packet import Advert, DropReason, PacketError, check_advert, decode, encode
from lb.vrrp.scripts import (
    NotifyQueue,
    ScriptTracker,
    effective_priority,
    send_mail_alert,
    tracking_effect,
)
from lb.vrrp.state import Machine, Params, SendAdvert, State, Transition
from lb.vrrp.vips import VipManager

TRACK_POLL = 0.5  # s between looks at tracked interfaces and at lb's own data plane
TIMER_LEAD = 0.0015  # s a VRRP timer wakes early, then sleeps the rest (see _on_timer)
AUTH_PASS = 1


@dataclass
class Context:
    """What every instance of one configuration shares."""

    defs: GlobalDefs
    vips: VipManager
    scripts: dict[str, ScriptTracker]
    notify: NotifyQueue
    data_plane_ok: Callable[[], bool] | None = None
    on_transition: Callable[[InstanceRunner, Transition], None] | None = None
    # vrrp_sync_group: the fault reasons of the other members of this instance's group
    group_faults: Callable[[InstanceRunner], list[str]] | None = None


def interface_up(ifname: str) -> bool:
    """Administratively up and with carrier (sysfs of the current network namespace)."""
    try:
        with open(f"/sys/class/net/{ifname}/operstate") as f:
            state = f.read().strip()
        with open(f"/sys/class/net/{ifname}/flags") as f:
            flags = int(f.read().strip(), 16)
    except OSError:
        return False
    return bool(flags & 0x1) and state not in ("down", "lowerlayerdown", "notpresent")


def _address_family(vip: VirtualAddress) -> int:
    return socket.AF_INET6 if ":" in vip.address else socket.AF_INET


def _bare(address: str) -> str:
    return str(ipaddress.ip_interface(address).ip)


class InstanceRunner:
    def __init__(self, cfg: VrrpInstance, ctx: Context) -> None:
        self.cfg = cfg
        self.ctx = ctx
        self.name = cfg.name
        vips = cfg.virtual_ipaddress
        self.family = _address_family(vips[0]) if vips else socket.AF_INET
        self.version = cfg.version or (3 if self.family == socket.AF_INET6 else 2)
        self.advert_int_cs = max(1, round(cfg.advert_int / 10))
        if self.version == 2:
            self.advert_int_cs = max(100, self.advert_int_cs // 100 * 100)  # v2: whole seconds
        self.auth_type = AUTH_PASS if cfg.auth_type == "PASS" and self.version == 2 else 0
        self.auth_data = (cfg.auth_pass or "").encode()[:8].ljust(8, b"\0")
        self.addresses = tuple(_bare(v.address) for v in vips if _address_family(v) == self.family)
        self.channel = VrrpChannel(
            cfg.interface,
            self.family,
            unicast_src=cfg.unicast_src_ip,
            unicast_peers=cfg.unicast_peer,
            vips=ctx.vips,
        )
        self.machine = Machine(
            Params(
                vrid=cfg.virtual_router_id,
                version=self.version,
                priority=cfg.priority,
                advert_int=self.advert_int_cs / 100.0,
                primary_ip=self.channel.primary_address,
                preempt=not cfg.nopreempt,
                preempt_delay=cfg.preempt_delay / 1000.0,
                initial_state=cfg.state,
            )
        )
        self.loop = asyncio.get_running_loop()
        self.drops: Counter[str] = Counter()
        self.adverts_sent = 0
        self.adverts_received = 0
        self.became_master = 0
        self.history: deque[tuple[float, str, str, str]] = deque(maxlen=20)
        self.fault_reasons: list[str] = []  # everything that holds this instance in FAULT
        self.own_faults: list[str] = []  # the part that is this instance's own (not its group's)
        self._timer: asyncio.TimerHandle | None = None
        self._garp_handles: list[asyncio.TimerHandle] = []
        self._poll: asyncio.TimerHandle | None = None
        self._stopped = False

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        self.loop.add_reader(self.channel.fileno(), self._on_readable)
        self._apply(self.machine.start(self.loop.time()))
        self.retrack()
        self._poll = self.loop.call_later(TRACK_POLL, self._on_poll)
        log.notice(
            f"VRRP instance {self.name}: vrid {self.cfg.virtual_router_id} on "
            f"{self.cfg.interface}, v{self.version}, priority {self.cfg.priority}, "
            f"starting in {self.machine.state}"
        )

    def shutdown(self) -> None:
        """Leave cleanly: priority 0 if master (the backups take over after Skew_Time), VIPs go."""
        if self._stopped:
            return
        self._stopped = True
        for handle in (self._timer, self._poll, *self._garp_handles):
            if handle is not None:
                handle.cancel()
        self._apply(self.machine.shutdown(self.loop.time()), stopping=True)
        self._remove_vips()
        self.loop.remove_reader(self.channel.fileno())
        self.channel.close()
        if self.cfg.notify_stop:
            _fire_and_forget(self.cfg.notify_stop)

    # ------------------------------------------------------------------ events

    def _on_readable(self) -> None:
        now = self.loop.time()
        while True:
            try:
                received = self.channel.recv()
            except OSError as exc:
                log.warning(f"VRRP instance {self.name}: receive failed: {exc}")
                return
            if received is None:
                break
            try:
                advert = decode(received.payload, src=received.src, dst=received.dst)
            except PacketError as exc:
                self.drops[str(exc.reason)] += 1
                continue
            reason = check_advert(
                advert,
                ttl=received.ttl,
                vrid=self.cfg.virtual_router_id,
                version=self.version,
                auth_type=self.auth_type,
                auth_pass=self.auth_data,
                advert_int_cs=self.advert_int_cs,
                addresses=self.addresses,
            )
            if reason is not None:
                if reason != DropReason.WRONG_VRID:  # another instance's traffic is no error
                    self.drops[str(reason)] += 1
                continue
            self.adverts_received += 1
            self._apply(
                self.machine.on_advert(
                    now, advert.priority, received.src, advert.advert_int_cs / 100.0
                )
            )
        self._reschedule()

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self.machine.next_deadline()
        if deadline is not None:
            # Woken TIMER_LEAD early (the selector rounds its timeout up to whole
            # milliseconds): wait out the rest precisely, so a takeover is not late.
            early = deadline - self.loop.time()
            if 0 < early <= TIMER_LEAD:
                time.sleep(early)
        self._apply(self.machine.on_timer(self.loop.time()))
        self._reschedule()

    def _reschedule(self) -> None:
        if self._stopped:
            return
        deadline = self.machine.next_deadline()
        wake = None if deadline is None else deadline - TIMER_LEAD
        if self._timer is not None:
            if wake is not None and abs(self._timer.when() - wake) < 1e-6:
                return
            self._timer.cancel()
            self._timer = None
        if wake is not None:
            self._timer = self.loop.call_at(wake, self._on_timer)

    def _on_poll(self) -> None:
        self.retrack()
        self._poll = self.loop.call_later(TRACK_POLL, self._on_poll)

    def force(self, state: State, reason: str) -> None:
        """Follow the sync group into MASTER or BACKUP."""
        now = self.loop.time()
        if state == State.MASTER:
            self._apply(self.machine.force_master(now, reason))
        else:
            self._apply(self.machine.force_backup(now, reason))
        self._reschedule()

    # ------------------------------------------------------------------ tracking

    def retrack(self) -> None:
        """Recompute priority and fault from scripts, interfaces and lb's own data plane."""
        if self._stopped:
            return
        delta = 0
        reasons: list[str] = []
        for ts in self.cfg.track_script:
            tracker = self.ctx.scripts[ts.name]
            weight = ts.weight if ts.weight is not None else tracker.script.weight
            change, fault = tracking_effect(tracker.ok, weight)
            delta += change
            if fault:
                reasons.append(f"script {ts.name} failed")
        for ti in self.cfg.track_interface:
            change, fault = tracking_effect(interface_up(ti.name), ti.weight or 0)
            delta += change
            if fault:
                reasons.append(f"interface {ti.name} down")
        if not interface_up(self.cfg.interface):
            reasons.append(f"interface {self.cfg.interface} down")
        if self.ctx.data_plane_ok is not None and not self.ctx.data_plane_ok():
            reasons.append("no lb worker serves")
        self.own_faults = list(reasons)
        if self.ctx.group_faults is not None:
            reasons += self.ctx.group_faults(self)
        now = self.loop.time()
        state = self.machine.state
        self.fault_reasons = reasons
        if reasons and state != State.FAULT:
            self._apply(self.machine.fault(now, "; ".join(reasons)))
        elif not reasons and state == State.FAULT:
            self._apply(self.machine.recover(now))
        priority = effective_priority(self.cfg.priority, delta)
        if priority != self.machine.priority:
            self._apply(self.machine.set_priority(now, priority))
        self._reschedule()

    # ------------------------------------------------------------------ actions

    def _apply(self, actions: list[object], stopping: bool = False) -> None:
        for action in actions:
            if isinstance(action, Transition) and action.new == State.MASTER:
                # The addresses first: clients wait for them, peers for the advert that
                # follows a fraction of a millisecond later.
                self._add_vips()
        for action in actions:
            if isinstance(action, SendAdvert):
                self._send(action.priority)
            elif isinstance(action, Transition):
                self._transition(action, stopping)

    def _send(self, priority: int) -> None:
        advert = Advert(
            version=self.version,
            vrid=self.cfg.virtual_router_id,
            priority=priority,
            advert_int_cs=self.advert_int_cs,
            addresses=self.addresses,
            auth_type=self.auth_type,
            auth_data=self.auth_data if self.auth_type else b"",
        )
        try:
            for dst in self.channel.destinations:
                payload = encode(
                    advert,
                    src=self.channel.primary_address,
                    dst=dst,
                    v3_checksum_as_v2=self.cfg.v3_checksum_as_v2,
                )
                self.channel.send(payload, dst)
            self.adverts_sent += 1
        except OSError as exc:
            log.warning(f"VRRP instance {self.name}: cannot send advert: {exc}")

    def _transition(self, t: Transition, stopping: bool) -> None:
        log.notice(f"VRRP instance {self.name}: {t.old} -> {t.new} ({t.reason})")
        self.history.append((time.time(), str(t.old), str(t.new), t.reason))
        if t.new == State.MASTER:
            self.became_master += 1  # the addresses are already up (see _apply)
            self._announce_burst()
            self._schedule_announcements()
        elif t.old in (State.MASTER, State.INIT):
            # Leaving INIT too, as keepalived does ("removing VIPs" at start): a daemon that was
            # killed with -9 left its addresses behind, and a backup must not answer for them.
            self._remove_vips()
        if stopping:
            return
        target = {
            State.MASTER: self.cfg.notify_master,
            State.BACKUP: self.cfg.notify_backup,
            State.FAULT: self.cfg.notify_fault,
        }.get(t.new)
        if target:
            self.ctx.notify.put(target)
        if self.cfg.notify and t.new in (State.MASTER, State.BACKUP, State.FAULT):
            self.ctx.notify.put(
                self.cfg.notify, "INSTANCE", self.name, str(t.new), str(self.machine.priority)
            )
        if self.cfg.smtp_alert and t.new in (State.MASTER, State.BACKUP, State.FAULT):
            subject = (
                f"[{self.ctx.defs.router_id or socket.gethostname()}] VRRP Instance "
                f"{self.name} - Entering {t.new} state"
            )
            self.loop.run_in_executor(
                None,
                send_mail_alert,
                self.ctx.defs,
                subject,
                f"=> VRRP Instance is now {t.new} ({t.reason}) <=\n",
            )
        if self.ctx.on_transition is not None:
            self.ctx.on_transition(self, t)

    # ------------------------------------------------------------------ addresses

    def _all_vips(self) -> list[VirtualAddress]:
        return [*self.cfg.virtual_ipaddress, *self.cfg.virtual_ipaddress_excluded]

    def _add_vips(self) -> None:
        for vip in self._all_vips():
            try:
                self.ctx.vips.add(
                    vip.dev or self.cfg.interface,
                    vip.address,
                    label=vip.label,
                    scope=vip.scope,
                    brd=vip.brd,
                )
            except (OSError, ValueError) as exc:
                log.alert(f"VRRP instance {self.name}: cannot add {vip.address}: {exc}")

    def _remove_vips(self) -> None:
        for handle in self._garp_handles:
            handle.cancel()
        self._garp_handles.clear()
        for vip in self._all_vips():
            try:
                self.ctx.vips.remove(vip.dev or self.cfg.interface, vip.address)
            except (OSError, ValueError) as exc:
                log.warning(f"VRRP instance {self.name}: cannot remove {vip.address}: {exc}")

    def _announce_burst(self) -> None:
        """garp_master_repeat gratuitous ARPs / unsolicited NAs for every address."""
        if self.machine.state != State.MASTER:
            return
        for vip in self._all_vips():
            ifname = vip.dev or self.cfg.interface
            address = _bare(vip.address)
            for _ in range(max(1, self.cfg.garp_master_repeat)):
                try:
                    if ":" in address:
                        send_unsolicited_na(ifname, address)
                    else:
                        send_gratuitous_arp(ifname, address)
                except OSError as exc:
                    log.warning(f"VRRP instance {self.name}: announce {address} failed: {exc}")
                    break

    def _schedule_announcements(self) -> None:
        delay = self.cfg.garp_master_delay / 1000.0
        if delay > 0:
            self._garp_handles.append(self.loop.call_later(delay, self._announce_burst))
        refresh = self.cfg.garp_master_refresh / 1000.0
        if refresh > 0:
            self._garp_handles.append(self.loop.call_later(refresh, self._refresh))

    def _refresh(self) -> None:
        if self.machine.state == State.MASTER:
            self._announce_burst()
            refresh = self.cfg.garp_master_refresh / 1000.0
            self._garp_handles.append(self.loop.call_later(refresh, self._refresh))

    # ------------------------------------------------------------------ show

    def describe(self) -> list[str]:
        m = self.machine
        lines = [
            f"instance {self.name}",
            f"  state: {m.state}",
            f"  interface: {self.cfg.interface}",
            f"  vrid: {self.cfg.virtual_router_id}",
            f"  version: {self.version}",
            f"  priority: {m.priority} (configured {self.cfg.priority})",
            f"  advert_int: {self.advert_int_cs / 100:g}s",
            f"  master: {m.master_ip or '-'}",
            f"  addresses: {' '.join(v.address for v in self._all_vips()) or '-'}",
            f"  adverts_sent: {self.adverts_sent}",
            f"  adverts_received: {self.adverts_received}",
            f"  became_master: {self.became_master}",
            f"  fault: {'; '.join(self.fault_reasons) or '-'}",
            f"  drops: {' '.join(f'{k}={v}' for k, v in sorted(self.drops.items())) or '-'}",
        ]
        for when, old, new, reason in self.history:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when))
            lines.append(f"  transition: {stamp} {old} -> {new} ({reason})")
        return lines


def _fire_and_forget(command: str) -> None:
    import shlex

    try:
        subprocess.Popen(
            shlex.split(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=os.environ.copy(),
        )
    except OSError as exc:
        log.warning(f"notify_stop {command!r}: {exc}")
