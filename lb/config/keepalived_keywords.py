"""What lb knows of keepalived's configuration language, as data.

Each block kind has a table: keyword → ``KaKeyword``. ``modelled`` says the
parser fills the model from it; ``status`` says whether lb acts on it. VRRP
(global_defs, vrrp_script, vrrp_instance, vrrp_sync_group) is supported;
keepalived's checkers (virtual_server) are not built yet: such a block is
reported once at its first line. Recognised but unmodelled keywords are
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
TOP_LEVEL["virtual_server"] = KaKeyword("virtual_server", True)  # LVS: the checker issue

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

VIRTUAL_SERVER = _table(
    "delay_loop lb_algo lvs_sched lb_kind lvs_method protocol persistence_timeout real_server",
    "persistence_granularity virtualhost sorry_server sorry_server_inhibit sorry_server_lvs_method "
    "ha_suspend quorum hysteresis alpha omega quorum_up quorum_down retry delay_before_retry "
    "connect_timeout ops one_packet_scheduling inhibit_on_failure warmup ip_family "
    "smtp_alert virtualhost_name",
)

REAL_SERVER = _table(
    "weight",
    "inhibit_on_failure notify_up notify_down uthreshold lthreshold connect_timeout retry "
    "delay_before_retry delay_loop alpha omega smtp_alert virtualhost warmup "
    "lvs_method",
)

# Keywords whose value is a '{ … }' block; every other keyword takes none.
BLOCK_KEYWORDS = words(
    "global_defs vrrp_script vrrp_instance vrrp_sync_group virtual_server real_server "
    "notification_email authentication virtual_ipaddress virtual_ipaddress_excluded "
    "track_interface track_script unicast_peer group"
)

# Check blocks of a real_server: kept whole as KeepalivedBlock for the checker issue.
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
