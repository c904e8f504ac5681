"""What lb knows of keepalived's configuration language, as data.

Each block kind has a table: keyword → ``KaKeyword``. ``modelled`` says the
parser fills the model from it; ``status`` says whether lb acts on it. VRRP
(global_defs, vrrp_script, vrrp_instance, vrrp_sync_group) is supported, and so
is ``virtual_server IP PORT`` with NAT and TCP: lb proxies it (docs/keepalived.md).
Values lb cannot honour (``lb_kind DR``, ``protocol UDP``, ``fwmark``, …) are
reported by the parser at their line. Recognised but unmodelled keywords are
reported one by one, and unknown keywords are errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from lb.config.keywords import Status, words


@dataclass(frozen=True, slots=True)
class KaKeyword:
    name: str
    modelled: bool
    status: Status = Status.NOT_YET
    note: str = ""


def _table(modelled: str, recognised: str = "", *, supported: bool = False) -> dict[str, KaKeyword]:
    status = Status.SUPPORTED if supported else Status.NOT_YET
    table = {name: KaKeyword(name, True, status) for name in modelled.split()}
    for name in recognised.split():
        assert name not in table, name
        table[name] = KaKeyword(name, False)
    return table


# Top-level blocks and statements. The modelled blocks are reported as a whole.
TOP_LEVEL = _table(
    "global_defs vrrp_script vrrp_instance vrrp_sync_group",
    "virtual_server_group static_ipaddress static_routes static_rules vrrp_track_process "
    "track_file vrrp_track_file garp_group bfd_instance linkbeat_use_polling net_namespace "
    "net_namespace_ipvs instance use_pid_dir",
    supported=True,
)
TOP_LEVEL["virtual_server"] = KaKeyword(
    "virtual_server",
    True,
    Status.SUPPORTED,
    "`IP PORT`: a mode-tcp proxy; `fwmark N` and `group NAME` are not supported yet",
)

# Keywords that make a file keepalived syntax when they come first.
FIRST_WORDS = frozenset({*TOP_LEVEL, "include"})

GLOBAL_DEFS = _table(
    "router_id notification_email notification_email_from smtp_server smtp_connect_timeout "
    "enable_script_security script_user",
    "smtp_helo_name smtp_alert smtp_alert_vrrp smtp_alert_checker no_email_faults lvs_id "
    "vrrp_mcast_group4 vrrp_mcast_group6 vrrp_garp_master_delay vrrp_garp_master_repeat "
    "vrrp_garp_master_refresh vrrp_garp_master_refresh_repeat vrrp_garp_lower_prio_delay "
    "vrrp_garp_lower_prio_repeat vrrp_garp_interval vrrp_gna_interval "
    "vrrp_lower_prio_no_advert vrrp_higher_prio_send_advert vrrp_version vrrp_iptables "
    "vrrp_ipsets vrrp_check_unicast_src vrrp_skip_check_adv_addr vrrp_strict vrrp_priority "
    "checker_priority bfd_priority vrrp_no_swap checker_no_swap bfd_no_swap vrrp_rt_priority "
    "checker_rt_priority bfd_rt_priority vrrp_rlimit_rtime checker_rlimit_rtime "
    "bfd_rlimit_rtime snmp_socket enable_traps enable_snmp_vrrp enable_snmp_keepalived "
    "enable_snmp_checker enable_snmp_rfc enable_snmp_rfcv2 enable_snmp_rfcv3 enable_dbus "
    "enable_dbus_read_only dbus_service_name dynamic_interfaces process_names "
    "process_name vrrp_process_name checker_process_name bfd_process_name lvs_timeouts "
    "lvs_flush lvs_flush_on_stop lvs_sync_daemon vrrp_startup_delay max_auto_priority "
    "min_auto_priority_delay default_interface notify_fifo notify_fifo_script "
    "vrrp_notify_fifo vrrp_notify_fifo_script lvs_notify_fifo lvs_notify_fifo_script "
    "script_rlimit vrrp_netlink_cmd_rcv_bufs vrrp_netlink_monitor_rcv_bufs "
    "lvs_netlink_cmd_rcv_bufs lvs_netlink_monitor_rcv_bufs vrrp_min_garp vrrp_rx_bufs_policy "
    "vrrp_rx_bufs_multiplier vrrp_garp_extra_if vrrp_down_timer_adverts vrrp_dont_flush "
    "vrrp_owner_ignore_vmac checker_log_all_failures umask random_seed reload_check_config "
    "reload_time_file reload_repeat reload_file config_save_dir data_use_instance "
    "tmp_config_directory log_unknown_vrids",
    supported=True,
)

VRRP_SCRIPT = _table(
    "script interval timeout weight rise fall user",
    "init_fail",
    supported=True,
)

VRRP_INSTANCE = _table(
    "state interface virtual_router_id priority advert_int version authentication "
    "virtual_ipaddress virtual_ipaddress_excluded track_interface track_script nopreempt "
    "preempt_delay garp_master_delay garp_master_repeat garp_master_refresh unicast_src_ip "
    "unicast_peer use_vmac old_unicast_checksum notify_master notify_backup notify_fault "
    "notify_stop notify smtp_alert",
    "mcast_src_ip dont_track_primary track_process track_file track_bfd virtual_routes "
    "virtual_rules accept no_accept strict_mode vmac_xmit_base native_ipv6 debug "
    "garp_master_refresh_repeat garp_lower_prio_delay garp_lower_prio_repeat "
    "lower_prio_no_advert higher_prio_send_advert kernel_rx_buf_size unicast_ttl "
    "unicast_fault_no_peer notify_master_rx_lower_pri notify_deleted skip_check_adv_addr "
    "check_unicast_src linkbeat_use_polling down_timer_adverts no_accept_unicast "
    "use_ipvlan preempt lvs_sync_daemon_interface",
    supported=True,
)

AUTHENTICATION = _table("auth_type auth_pass", supported=True)

VRRP_INSTANCE["use_vmac"] = KaKeyword("use_vmac", True, note="a macvlan with the VRRP MAC")

VRRP_SYNC_GROUP = _table(
    "group notify_master notify_backup notify_fault notify smtp_alert",
    "notify_stop global_tracking sync_group_tracking_weight track_interface track_script "
    "track_process track_file track_bfd",
    supported=True,
)

# Checker settings that a virtual_server gives its real servers, and a real_server its
# checkers (keepalived: "the virtual server setting is the default for real servers, and
# the real server setting is the default for checkers").
CHECK_DEFAULTS = words("connect_timeout retry delay_before_retry alpha virtualhost")

VIRTUAL_SERVER = _table(
    "delay_loop lb_algo lvs_sched lb_kind lvs_method protocol real_server inhibit_on_failure "
    + " ".join(sorted(CHECK_DEFAULTS)),
    "persistence_granularity persistence_engine sorry_server sorry_server_inhibit "
    "sorry_server_lvs_method ha_suspend quorum hysteresis omega quorum_up quorum_down ops "
    "one_packet_scheduling warmup ip_family smtp_alert virtualhost_name snmp_name flag-1 "
    "flag-2 flag-3 sh-port sh-fallback mh-port mh-fallback",
    supported=True,
)
VIRTUAL_SERVER["lb_kind"] = KaKeyword(
    "lb_kind", True, Status.SUPPORTED, "NAT (lb proxies: see docs/keepalived.md); DR, TUN not yet"
)
VIRTUAL_SERVER["lvs_method"] = KaKeyword("lvs_method", True, Status.SUPPORTED, "as lb_kind")
VIRTUAL_SERVER["protocol"] = KaKeyword(
    "protocol", True, Status.SUPPORTED, "TCP; UDP and SCTP are not supported yet"
)
VIRTUAL_SERVER["lb_algo"] = KaKeyword(
    "lb_algo", True, Status.SUPPORTED, "`balance lvs:NAME` (lb/balance/lvs.py)"
)
VIRTUAL_SERVER["lvs_sched"] = KaKeyword("lvs_sched", True, Status.SUPPORTED, "as lb_algo")
VIRTUAL_SERVER["inhibit_on_failure"] = KaKeyword(
    "inhibit_on_failure",
    True,
    Status.SUPPORTED,
    "lb keeps a failed server listed (DOWN): no new connection, established ones go on",
)
VIRTUAL_SERVER["persistence_timeout"] = KaKeyword(
    "persistence_timeout",
    True,
    Status.SUPPORTED,
    "a stick table on the client address (stick on src) that expires after it",
)

REAL_SERVER = _table(
    "weight inhibit_on_failure delay_loop notify_up notify_down "
    + " ".join(sorted(CHECK_DEFAULTS)),
    "uthreshold lthreshold omega smtp_alert warmup lvs_method snmp_name",
    supported=True,
)
REAL_SERVER["weight"] = KaKeyword(
    "weight", True, Status.SUPPORTED, "0..256 (lb's range): a larger one is not supported yet"
)
REAL_SERVER["notify_up"] = KaKeyword(
    "notify_up", True, Status.SUPPORTED, "`COMMAND [USER [GROUP]]`, run without a shell"
)
REAL_SERVER["notify_down"] = KaKeyword("notify_down", True, Status.SUPPORTED, "as notify_up")

# The options of each checker lb runs (lb.master.health.keepalived reads them).
# MISC_CHECK takes the common options from alpha on, and no connection options.
_CHECKER_COMMON = "connect_timeout retry nb_get_retry delay_before_retry delay_loop alpha"
_CHECKER_COMMON_NOT_YET = "warmup log_all_failures"
_CONNECTION = "connect_ip connect_port"
_CONNECTION_NOT_YET = "bindto bind_if bind_port fwmark"
_CONNECTED = _table(
    f"{_CONNECTION} {_CHECKER_COMMON}",
    f"{_CONNECTION_NOT_YET} {_CHECKER_COMMON_NOT_YET}",
    supported=True,
)
CHECKERS: dict[str, dict[str, KaKeyword]] = {
    "TCP_CHECK": _CONNECTED,
    "PING_CHECK": _CONNECTED,
    "HTTP_GET": _table(
        f"{_CONNECTION} {_CHECKER_COMMON} url http_protocol virtualhost",
        f"{_CONNECTION_NOT_YET} {_CHECKER_COMMON_NOT_YET} fast_recovery",
        supported=True,
    ),
    "MISC_CHECK": _table(
        f"{_CHECKER_COMMON} misc_path misc_timeout user",
        f"{_CHECKER_COMMON_NOT_YET} misc_dynamic",
        supported=True,
    ),
}
# HTTP_GET's url { … } block
CHECK_URL = _table(
    "path digest status_code virtualhost regex regex_no_match",
    "regex_options regex_stack regex_min_offset regex_max_offset tls_compliant",
    supported=True,
)

# Keywords whose value is a '{ … }' block; every other keyword takes none.
BLOCK_KEYWORDS = words(
    "global_defs vrrp_script vrrp_instance vrrp_sync_group virtual_server real_server "
    "notification_email authentication virtual_ipaddress virtual_ipaddress_excluded "
    "track_interface track_script unicast_peer group"
)

# Check blocks of a real_server, kept whole as KeepalivedBlock; those not in CHECKERS
# are not supported yet.
CHECK_BLOCKS = words(
    "TCP_CHECK HTTP_GET SSL_GET MISC_CHECK SMTP_CHECK DNS_CHECK UDP_CHECK PING_CHECK "
    "FILE_CHECK BFD_CHECK"
)

VIRTUAL_IPADDRESS_OPTIONS = {
    "dev": True,
    "label": True,
    "scope": True,
    "brd": True,
    "broadcast": True,
    "peer": False,
    "home": False,
    "-nodad": False,
    "nodad": False,
    "optimistic": False,
    "noprefixroute": False,
    "autojoin": False,
    "no_track": False,
    "track_group": False,
    "preferred_lft": False,
}
# How many words each virtual_ipaddress option consumes after itself.
VIRTUAL_IPADDRESS_OPTION_ARGS = {
    "dev": 1,
    "label": 1,
    "scope": 1,
    "brd": 1,
    "broadcast": 1,
    "peer": 1,
    "track_group": 1,
    "preferred_lft": 1,
}

BLOCK_TABLES: dict[str, dict[str, KaKeyword]] = {
    "top level": TOP_LEVEL,
    "global_defs": GLOBAL_DEFS,
    "vrrp_script": VRRP_SCRIPT,
    "vrrp_instance": VRRP_INSTANCE,
    "authentication": AUTHENTICATION,
    "vrrp_sync_group": VRRP_SYNC_GROUP,
    "virtual_server": VIRTUAL_SERVER,
    "real_server": REAL_SERVER,
}

# IPVS schedulers (lb_algo / lvs_sched) and forwarding methods (lb_kind / lvs_method).
LVS_SCHEDULERS = tuple(sorted(words("rr wrr lc wlc lblc lblcr sh mh dh fo ovf sed nq twos")))
LVS_METHODS = ("NAT", "DR", "TUN")
