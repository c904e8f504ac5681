"""The configuration model: what the parsers produce and what workers receive.

Everything here is a msgspec Struct so that the master can hand the whole
validated configuration to a fresh worker interpreter as one msgpack blob.
Durations are integers in milliseconds, sizes integers in bytes. ``None``
means "not set": the consumer applies HAProxy's default.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct, field


class Source(Struct, frozen=True):
    """Where a keyword came from, for messages: ``file:line``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


# --------------------------------------------------------------------------- HAProxy side


class Bind(Struct):
    """One address of a ``bind`` line (a line may list several, comma-separated)."""

    host: str  # "" = every address (":80"); "0.0.0.0", "::", "127.0.0.1", "::1", …
    port: int
    source: Source
    v4v6: bool = False  # "::" also accepts IPv4 (bind option v4v6)
    v6only: bool = False  # bind option v6only
    name: str = ""  # bind option name
    backlog: int | None = None  # bind option backlog
    # IP_FREEBIND: bind before the address is configured here (a keepalived virtual_server
    # on a VIP that VRRP moves between hosts)
    freebind: bool = False
    accept_proxy: bool = False  # bind option accept-proxy: a PROXY protocol header first
    # TLS termination (bind option ssl; mode http only): lb/worker/tls.py
    ssl: bool = False
    crt_files: list[str] = []  # absolute PEM paths (crt FILE|DIR expanded); the first is default
    alpn: list[str] = []  # bind option alpn, e.g. ["http/1.1"]
    ssl_min_ver: str = ""  # "TLSv1.2" / "TLSv1.3"; "" = TLSv1.2
    ciphers: str = ""  # OpenSSL cipher list for TLSv1.2 and below; "" = OpenSSL's default

    def key(self) -> str:
        """Identity of the listening socket: same key across reloads = same socket."""
        key = f"{self.host}|{self.port}|{int(self.v4v6)}|{int(self.v6only)}"
        return key + "|freebind" if self.freebind else key


class Server(Struct):
    name: str
    host: str
    port: int
    source: Source
    weight: int = 1  # 0..256
    maxconn: int = 0  # 0 = no limit
    backup: bool = False
    disabled: bool = False
    maxqueue: int = 0  # most requests queued for this server; 0 = no limit
    # health checks (lb/master/health): HAProxy's defaults
    check: bool = False
    inter: int = 2000  # ms between checks
    fastinter: int | None = None  # ms, while going up or down (None: inter)
    downinter: int | None = None  # ms, while fully down (None: inter)
    rise: int = 2
    fall: int = 3
    slowstart: int = 0  # ms of weight ramp after coming back up; 0 = none
    id: int | None = None  # persistent id; None = the next free one
    check_port: int | None = None  # "port": checks go there instead of the service port
    check_addr: str | None = None  # "addr": checks go there instead of the server address
    cookie: str | None = None  # value of the persistence cookie naming this server
    # PROXY protocol header first on each connection to the server (v2 wins over v1)
    send_proxy: bool = False
    send_proxy_v2: bool = False
    # TLS to the server (server option ssl): lb/worker/tls_client.py
    ssl: bool = False
    verify: str = ""  # "none" / "required"; "" until the loader applies ssl-server-verify
    ca_file: str = ""  # absolute path; CAs that verify the server's chain
    crt: str = ""  # absolute path; client certificate and key presented to the server
    sni: str = ""  # sample expression whose value is sent as SNI ("" = no SNI)
    alpn: list[str] = []
    ciphers: str = ""  # OpenSSL cipher list for TLSv1.2
    ssl_min_ver: str = ""  # "TLSv1.2" / "TLSv1.3"; "" = TLSv1.2
    check_ssl: bool | None = None  # None: checks use TLS when ssl is set and port/addr are not
    check_sni: str = ""  # SNI of TLS checks (a plain string)


class HttpCheckExpect(Struct):
    """``http-check expect [!] status|rstatus|string|rstring PATTERN``."""

    match: Literal["status", "rstatus", "string", "rstring"]
    pattern: str
    negate: bool = False


class HttpCheck(Struct):
    """The HTTP health check request and its expectations.

    ``option httpchk`` sets ``enabled`` and the request line; ``http-check send``
    may set the same parts and adds headers and a body. Without ``expect`` rules
    a 2xx or 3xx status passes.
    """

    enabled: bool = False
    method: str = "OPTIONS"
    uri: str = "/"
    version: str = "HTTP/1.0"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    expects: list[HttpCheckExpect] = field(default_factory=list)  # all must pass


class CookiePersistence(Struct):
    """``cookie NAME [insert|rewrite|prefix] [indirect] [nocache] [httponly] [secure] …``.

    Without insert, rewrite or prefix the cookie is "passive": the servers set
    it themselves (to their ``cookie`` value) and lb only reads it.
    """

    name: str
    mode: Literal["passive", "insert", "rewrite", "prefix"] = "passive"
    indirect: bool = False
    nocache: bool = False
    postonly: bool = False
    preserve: bool = False
    httponly: bool = False
    secure: bool = False
    domains: list[str] = field(default_factory=list)
    maxidle: int | None = None  # ms
    maxlife: int | None = None  # ms
    attrs: list[str] = field(default_factory=list)  # "attr VALUE": extra Set-Cookie attributes


class Timeouts(Struct):
    connect: int | None = None
    client: int | None = None
    server: int | None = None
    tunnel: int | None = None
    queue: int | None = None
    check: int | None = None
    http_request: int | None = None
    http_keep_alive: int | None = None
    client_fin: int | None = None
    server_fin: int | None = None
    tarpit: int | None = None  # how long http-request tarpit holds a client


class UseBackend(Struct):
    backend: str  # a name, or a log-format string ("be_%[req.hdr(host),lower]")
    source: Source
    # The condition as written ("if"/"unless" + words), compiled by lb.acl.
    condition: list[str] = field(default_factory=list)


class UseServer(Struct):
    """``use-server NAME if|unless COND``."""

    server: str  # a name, or a log-format string
    source: Source
    condition: list[str] = field(default_factory=list)


class AclLine(Struct):
    """``acl NAME CRITERION [flags] [operator] VALUE…``, as words; lb.acl compiles it."""

    name: str
    words: list[str]  # the criterion and everything after it
    source: Source


class RuleLine(Struct):
    """One ``http-request``, ``http-response`` or ``redirect`` line: the words after the
    keyword (action, its arguments, then any "if"/"unless" condition)."""

    words: list[str]
    source: Source


class LogTarget(Struct):
    """One ``log`` line: where traffic logs go and in what shape."""

    address: str  # "127.0.0.1:514", "[::1]:514", "/dev/log" (unix datagram), "stdout", "stderr"
    facility: str  # "local2", "daemon", …
    source: Source
    level: str | None = None  # max level sent ("debug", "info", …); None = all
    min_level: str | None = None
    # "local": HAProxy's default without a "format" word (rfc3164 with no host name)
    format: Literal["local", "rfc3164", "rfc5424", "raw", "short", "iso", "timed", "priority"] = (
        "local"
    )
    length: int = 1024  # "len N": longest line sent


class Capture(Struct):
    """``capture request|response header NAME len N``."""

    header: str
    length: int
    source: Source


class ForwardFor(Struct):
    """``option forwardfor [except NET] [header NAME] [if-none]``."""

    header: str = "X-Forwarded-For"
    except_net: str | None = None  # "127.0.0.0/8"
    if_none: bool = False


HttpConnectionMode = Literal["keep-alive", "server-close", "close"]

CompressionAlgo = Literal["identity", "gzip", "deflate", "raw-deflate", "br"]


class Compression(Struct):
    """``compression algo|type|offload`` of one proxy (lines add up, as in HAProxy)."""

    algos: list[CompressionAlgo] = field(default_factory=list)  # in configuration order
    types: list[str] = field(default_factory=list)  # MIME type prefixes, lower case
    offload: bool = False


class HttpOptions(Struct):
    """What mode http does with connections, headers and logs in one proxy."""

    connection_mode: HttpConnectionMode = (
        "keep-alive"  # option http-keep-alive|http-server-close|httpclose
    )
    reuse: Literal["safe", "never", "always", "aggressive"] = "safe"  # http-reuse
    forwardfor: ForwardFor | None = None
    abortonclose: bool = False
    compression: Compression | None = None  # None: no "compression" line
    errorfiles: dict[int, str] = field(
        default_factory=dict
    )  # status → file path (read by the master)
    request_captures: list[Capture] = field(default_factory=list)
    response_captures: list[Capture] = field(default_factory=list)


class LogOptions(Struct):
    """Traffic logging of one proxy."""

    targets: list[LogTarget] = field(default_factory=list)  # after "log global" expansion
    httplog: bool = False  # option httplog
    tcplog: bool = False  # option tcplog
    dontlognull: bool = False
    logasap: bool = False
    log_format: str | None = None  # log-format (overrides httplog/tcplog)


class StatsAuth(Struct):
    """``stats auth USER:PASSWORD`` (the password in clear, as HAProxy takes it)."""

    user: str
    password: str


class StatsSettings(Struct):
    """The ``stats`` keywords of one proxy (lb.stats.http serves the page)."""

    source: Source
    uri: str = "/haproxy?stats"  # a prefix of the request target, as in HAProxy
    realm: str | None = None
    auth: list[StatsAuth] = field(default_factory=list)
    refresh: int | None = None  # ms
    admin: list[list[str]] = field(default_factory=list)  # "if"/"unless" + condition words
    hide_version: bool = False
    show_node: str | None = None  # "" = the global node name (or the host name)
    show_desc: str | None = None  # "" = the global description
    scope: list[str] = field(default_factory=list)  # proxies shown; "." = this one; [] = all


class StickStore(Struct):
    """One data type a stick table stores: ``gpc0``, ``http_req_rate(10s)``…"""

    name: str
    period: int = 0  # ms, for the rates


class StickTable(Struct):
    """``stick-table type … size … [expire …] [nopurge] [store …]`` (lb.sticktable)."""

    type: Literal["ip", "ipv6", "integer", "string"]
    size: int
    source: Source
    length: int = 0  # string keys: bytes kept (0: HAProxy's 32)
    expire: int = 0  # ms; 0 = entries never expire
    nopurge: bool = False
    store: list[StickStore] = field(default_factory=list)

    def signature(self) -> str:
        """What must match for a reload to keep the table's entries."""
        stored = ",".join(sorted(f"{s.name}:{s.period}" for s in self.store))
        return f"{self.type}|{self.length}|{self.size}|{stored}"


class StickRule(Struct):
    """``stick on|match|store-request PATTERN [table T] [if|unless COND]``."""

    kind: Literal["on", "match", "store-request"]
    words: list[str]  # the pattern, then any "table T", then any condition
    source: Source


ProxyKind = Literal["frontend", "backend", "listen"]


class Proxy(Struct):
    """A frontend, backend or listen section, with its defaults section already applied."""

    name: str
    kind: ProxyKind
    source: Source
    mode: Literal["tcp", "http"] = "tcp"
    disabled: bool = False
    # frontend side
    binds: list[Bind] = field(default_factory=list)
    maxconn: int | None = None  # None = unset (frontends then follow global maxconn)
    default_backend: str | None = None
    use_backends: list[UseBackend] = field(default_factory=list)
    # content rules, in file order (lb.acl compiles them)
    acls: list[AclLine] = field(default_factory=list)
    http_request: list[RuleLine] = field(default_factory=list)
    http_response: list[RuleLine] = field(default_factory=list)
    redirects: list[RuleLine] = field(default_factory=list)
    use_servers: list[UseServer] = field(default_factory=list)
    # stick tables (lb.sticktable): this proxy's table, its connection rules, persistence
    stick_table: StickTable | None = None
    tcp_request_connection: list[RuleLine] = field(default_factory=list)
    # tcp-request inspect-delay (ms; None = unset) and tcp-request content rules
    tcp_inspect_delay: int | None = None
    tcp_request_content: list[RuleLine] = field(default_factory=list)
    stick_rules: list[StickRule] = field(default_factory=list)
    # backend side
    servers: list[Server] = field(default_factory=list)
    balance: str = "roundrobin"
    balance_args: list[str] = field(default_factory=list)  # words after the algorithm
    hash_type: list[str] = field(default_factory=list)  # words after hash-type
    allbackups: bool = False  # option allbackups
    http_check: HttpCheck = field(default_factory=HttpCheck)
    cookie: CookiePersistence | None = None
    retries: int = 3
    redispatch: bool = False  # option redispatch
    # both
    timeouts: Timeouts = field(default_factory=Timeouts)
    description: str | None = None
    http: HttpOptions = field(default_factory=HttpOptions)
    logs: LogOptions = field(default_factory=LogOptions)
    stats: StatsSettings | None = None  # the stats page, when any "stats" keyword enables it
    # The keepalived virtual_server this proxy stands for (lb.config.keepalived_vs): its
    # real servers are checked by their own check blocks, not by HAProxy's check options.
    virtual_server: VirtualServer | None = None

    @property
    def has_frontend(self) -> bool:
        return self.kind in ("frontend", "listen")

    @property
    def has_backend(self) -> bool:
        return self.kind in ("backend", "listen")


class UserlistUser(Struct):
    """``user NAME [password HASH | insecure-password PASS] [groups G1,G2…]``."""

    name: str
    source: Source
    password: str | None = None  # a crypt(3) hash
    insecure_password: str | None = None
    groups: list[str] = field(default_factory=list)


class UserlistGroup(Struct):
    """``group NAME [users U1,U2…]``."""

    name: str
    source: Source
    users: list[str] = field(default_factory=list)


class Userlist(Struct):
    name: str
    source: Source
    users: list[UserlistUser] = field(default_factory=list)
    groups: list[UserlistGroup] = field(default_factory=list)


class StatsSocket(Struct):
    path: str
    source: Source
    mode: int | None = None  # file mode, e.g. 0o600
    level: Literal["user", "operator", "admin"] = "admin"
    uid: int | None = None
    gid: int | None = None


class Global(Struct):
    daemon: bool = False
    pidfile: str | None = None
    user: str | None = None
    group: str | None = None
    uid: int | None = None
    gid: int | None = None
    chroot: str | None = None
    maxconn: int | None = None
    ulimit_n: int | None = None
    nbthread: int | None = None  # in lb: the number of worker processes
    hard_stop_after: int | None = None  # ms
    node: str | None = None
    description: str | None = None
    stats_sockets: list[StatsSocket] = field(default_factory=list)
    logs: list[LogTarget] = field(default_factory=list)  # global "log" lines
    tune_bufsize: int = 16384  # tune.bufsize: the longest request or response head
    tune_http_maxhdr: int = 101  # tune.http.maxhdr: most header lines in a head
    ssl_server_verify: str = "required"  # ssl-server-verify: servers' default 'verify'


# --------------------------------------------------------------------------- keepalived side
# Parsed faithfully now; behaviour arrives with the VRRP and health-check issues.


class VrrpScript(Struct):
    name: str
    source: Source
    script: str = ""
    interval: int = 1000  # ms
    timeout: int | None = None  # ms
    weight: int = 0
    rise: int = 1
    fall: int = 1
    user: str | None = None
    group: str | None = None


class VirtualAddress(Struct):
    """One line of virtual_ipaddress: ``ADDR[/PREFIX] [dev IF] [label L] [scope S] …``."""

    address: str  # "192.168.22.249/24" (prefix kept as written, /32 or /128 if absent)
    source: Source
    dev: str | None = None
    label: str | None = None
    scope: str | None = None
    brd: str | None = None


class TrackScript(Struct):
    name: str
    source: Source
    weight: int | None = None  # overrides the script's weight when set


class TrackInterface(Struct):
    name: str
    source: Source
    weight: int | None = None


class VrrpInstance(Struct):
    name: str
    source: Source
    state: Literal["MASTER", "BACKUP"] = "BACKUP"
    interface: str = ""
    virtual_router_id: int = 0
    priority: int = 100
    advert_int: int = 1000  # ms
    version: int | None = None  # vrrp_version
    auth_type: Literal["PASS", "AH"] | None = None
    auth_pass: str | None = None
    virtual_ipaddress: list[VirtualAddress] = field(default_factory=list)
    virtual_ipaddress_excluded: list[VirtualAddress] = field(default_factory=list)
    track_interface: list[TrackInterface] = field(default_factory=list)
    track_script: list[TrackScript] = field(default_factory=list)
    nopreempt: bool = False
    preempt_delay: int = 0  # ms
    garp_master_delay: int = 5000  # ms
    garp_master_repeat: int = 5
    garp_master_refresh: int = 0  # ms, 0 = off
    unicast_src_ip: str | None = None
    unicast_peer: list[str] = field(default_factory=list)
    use_vmac: bool = False
    # old_unicast_checksum: send VRRPv3-over-IPv4 checksums without the pseudo-header, as
    # keepalived before 1.3.6 (and some routers) did; both forms are always accepted
    v3_checksum_as_v2: bool = False
    notify_master: str | None = None
    notify_backup: str | None = None
    notify_fault: str | None = None
    notify_stop: str | None = None
    notify: str | None = None
    smtp_alert: bool = False


class VrrpSyncGroup(Struct):
    name: str
    source: Source
    group: list[str] = field(default_factory=list)
    notify_master: str | None = None
    notify_backup: str | None = None
    notify_fault: str | None = None
    notify: str | None = None
    smtp_alert: bool = False


class RealServer(Struct):
    host: str
    port: int  # 0: the virtual server's port
    source: Source
    weight: int = 1
    inhibit_on_failure: bool = False
    # The raw check blocks (TCP_CHECK, HTTP_GET, MISC_CHECK, …), turned into check
    # specs by lb.master.health.keepalived.
    checks: list[KeepalivedBlock] = field(default_factory=list)
    # Checker defaults set on the real server (connect_timeout, retry, delay_before_retry,
    # delay_loop, alpha, virtualhost): its checkers inherit them, as keepalived's do.
    check_defaults: list[KeepalivedBlock] = field(default_factory=list)
    # notify_up / notify_down as written: COMMAND [USER [GROUP]] (run without a shell)
    notify_up: list[str] = field(default_factory=list)
    notify_down: list[str] = field(default_factory=list)


class KeepalivedBlock(Struct):
    """A generic keepalived ``keyword args { … }`` block, kept as parsed."""

    keyword: str
    source: Source
    args: list[str] = field(default_factory=list)
    children: list[KeepalivedBlock] = field(default_factory=list)


class VirtualServer(Struct):
    host: str  # address, or "fwmark N" / "group NAME" as written
    port: int
    source: Source
    lb_algo: str = "wlc"  # keepalived's default scheduler (IPVS_DEF_SCHED)
    lb_kind: str = "NAT"
    protocol: str = "TCP"
    delay_loop: int = 60000  # ms
    persistence_timeout: int | None = None
    inhibit_on_failure: bool = False
    real_servers: list[RealServer] = field(default_factory=list)
    # Checker defaults set on the virtual server, inherited by its real servers' checkers.
    check_defaults: list[KeepalivedBlock] = field(default_factory=list)


class GlobalDefs(Struct):
    router_id: str | None = None
    notification_email: list[str] = field(default_factory=list)
    notification_email_from: str | None = None
    smtp_server: str | None = None
    smtp_server_port: int | None = None  # "smtp_server IP [PORT]"
    smtp_connect_timeout: int | None = None  # ms
    enable_script_security: bool = False
    script_user: str | None = None
    script_group: str | None = None  # "script_user USER [GROUP]"


class Keepalived(Struct):
    global_defs: GlobalDefs = field(default_factory=GlobalDefs)
    vrrp_scripts: list[VrrpScript] = field(default_factory=list)
    vrrp_instances: list[VrrpInstance] = field(default_factory=list)
    vrrp_sync_groups: list[VrrpSyncGroup] = field(default_factory=list)
    virtual_servers: list[VirtualServer] = field(default_factory=list)


# --------------------------------------------------------------------------- the whole


class Config(Struct):
    files: list[str] = field(default_factory=list)
    global_: Global = field(default_factory=Global, name="global")
    proxies: list[Proxy] = field(default_factory=list)  # file order
    keepalived: Keepalived | None = None
    userlists: list[Userlist] = field(default_factory=list)

    def frontends(self) -> list[Proxy]:
        return [p for p in self.proxies if p.has_frontend and not p.disabled]

    def backend(self, name: str) -> Proxy | None:
        for p in self.proxies:
            if p.has_backend and p.name == name:
                return p
        return None
