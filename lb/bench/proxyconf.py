"""Configuration files for the proxies under comparison (pure: parameters in, text out).

lb and HAProxy read the same HAProxy-syntax text; HAProxy gets ``nbthread 1`` and lb ``-n``
workers on its command line, so each runs on one core by default. nginx gets the closest
equivalent it has: one worker, HTTP/1.1 upstream keep-alive, buffers large enough that a
100 kB response never goes to a temporary file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Ports:
    listen: int
    backend: int
    host: str = "127.0.0.1"


def haproxy_http(p: Ports, *, maxconn: int, haproxy: bool) -> str:
    """lb/HAProxy in mode http: keep-alive both sides, pooled server connections."""
    first = "    nbthread 1\n" if haproxy else ""
    return f"""global
{first}    maxconn {maxconn}

defaults
    mode http
    option http-keep-alive
    maxconn {maxconn}
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 120s

frontend fe
    bind {p.host}:{p.listen}
    default_backend be

backend be
    server s1 {p.host}:{p.backend}
"""


def haproxy_tcp(p: Ports, *, maxconn: int, haproxy: bool) -> str:
    """lb/HAProxy in mode tcp; HAProxy with ``option splice-auto`` (its own splice)."""
    first = "    nbthread 1\n" if haproxy else ""
    splice = "    option splice-auto\n" if haproxy else ""
    return f"""global
{first}    maxconn {maxconn}

defaults
    mode tcp
{splice}    maxconn {maxconn}
    timeout connect 5s
    timeout client 120s
    timeout server 120s

frontend fe
    bind {p.host}:{p.listen}
    default_backend be

backend be
    server s1 {p.host}:{p.backend}
"""


def nginx_main(workdir: str, connections: int, body: str, load: str = "", fd_limit: int = 0) -> str:
    """nginx.conf around ``body`` (an ``http {…}`` or ``stream {…}`` block); its worker asks
    for two descriptors per connection, within fd_limit when one is given."""
    files = connections * 2 + 256
    if fd_limit:
        files = min(files, fd_limit)
    return f"""{load}
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {files};
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections {connections * 2 + 512}; }}
{body}
"""


_TEMP_PATHS = """    client_body_temp_path {w}/tmp;
    proxy_temp_path {w}/tmp;
    fastcgi_temp_path {w}/tmp;
    uwsgi_temp_path {w}/tmp;
    scgi_temp_path {w}/tmp;"""


def nginx_http(p: Ports, workdir: str) -> str:
    temp = _TEMP_PATHS.format(w=workdir)
    return f"""http {{
    access_log off;
{temp}
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    upstream be {{
        server {p.host}:{p.backend};
        keepalive 64;
    }}
    server {{
        listen {p.host}:{p.listen} backlog=4096;
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffer_size 16k;
            proxy_buffers 32 16k;
            proxy_max_temp_file_size 0;
        }}
    }}
}}"""


def nginx_tcp(p: Ports) -> str:
    return f"""stream {{
    upstream be {{
        server {p.host}:{p.backend};
    }}
    server {{
        listen {p.host}:{p.listen} backlog=4096;
        proxy_pass be;
        proxy_buffer_size 256k;
    }}
}}"""


# ------------------------------------------------------------------------ the seed's config

_SECTION = re.compile(r"^\s*(global|defaults|frontend|backend|listen|userlist|peers|resolvers)\b")
_GLOBAL_DROP = re.compile(
    r"^\s*(chroot|pidfile|user|group|uid|gid|daemon|stats\s+socket|nbproc|nbthread|master-worker)\b"
)
_LOG_ADDR = re.compile(r"^(\s*log\s+)(\S+)(.*)$")
_BIND = re.compile(r"^\s*bind\s")
_SERVER = re.compile(r"^(\s*server\s+\S+\s+)(\S+)(.*)$")


def _sections(text: str) -> list[tuple[str, str, list[str]]]:
    """(kind, name, lines) for each section; lines before the first section are dropped."""
    out: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            words = line.split("#", 1)[0].split()
            out.append((m.group(1), words[1] if len(words) > 1 else "", [line]))
        elif out:
            out[-1][2].append(line)
    return out


def _is_stats_listener(lines: list[str]) -> bool:
    return any(re.match(r"^\s*stats\s+enable\b", ln) for ln in lines)


def seed_frontend(text: str) -> str:
    """The frontend the load goes to: the first that routes to a backend."""
    routes = re.compile(r"^\s*(default_backend|use_backend)\b")
    for kind, name, lines in _sections(text):
        if kind not in ("frontend", "listen") or _is_stats_listener(lines):
            continue
        if any(routes.match(ln) for ln in lines):
            return name
    raise ValueError("no frontend with default_backend or use_backend")


def seed_for_bench(
    text: str, *, listen: int, backend: str, log: str, haproxy: bool, host: str = "127.0.0.1"
) -> str:
    """The seed's HAProxy file moved onto loopback for a benchmark.

    What changes, and only that: process settings that do not fit a benchmark run (chroot,
    user, daemon, pidfile, stats socket, nbthread) go; HAProxy gets ``nbthread 1``; the
    routing frontend binds ``host:listen`` only; every server points at ``backend``
    (``HOST:PORT``, keeping its options); ``log ADDR`` lines log to ``log``; the stats
    listener goes (it is not on the measured path). ACLs, use_backend, balance, options
    and timeouts stay as they are.
    """
    front = seed_frontend(text)
    out: list[str] = []
    for kind, name, lines in _sections(text):
        if kind == "listen" and _is_stats_listener(lines):
            continue
        bound = False
        for line in lines:
            if kind == "global" and _GLOBAL_DROP.match(line):
                continue
            if _BIND.match(line):
                if kind in ("frontend", "listen") and name == front and not bound:
                    out.append(f"    bind {host}:{listen}")
                    bound = True
                continue
            m = _LOG_ADDR.match(line)
            if m and m.group(2) not in ("global",):
                line = f"{m.group(1)}{log}{m.group(3)}"
            m = _SERVER.match(line)
            if m:
                line = f"{m.group(1)}{backend}{m.group(3)}"
            out.append(line)
        if kind == "global" and haproxy:
            out.append("    nbthread 1")
    return "\n".join(out) + "\n"


def nginx_seed(p: Ports, workdir: str, log: str) -> str:
    """nginx doing what the seed's frontend does: the same ACL routing (path prefixes and
    suffixes, case-insensitive), source-hash consistent balancing for the dynamic servers,
    a connection per request on both sides (httpclose, http-server-close), per-server
    connection limits, X-Forwarded-For, and a log line per request to the same syslog."""
    temp = _TEMP_PATHS.format(w=workdir)
    server = f"{p.host}:{p.backend}"
    return f"""http {{
    access_log syslog:server={log},facility=local2 combined;
{temp}
    keepalive_timeout 0;
    upstream static_servers {{
        server {server} max_conns=5000;
    }}
    upstream dynamic_servers {{
        hash $remote_addr consistent;
        server {server} max_conns=500;
    }}
    server {{
        listen {p.host}:{p.listen} backlog=4096;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header Host $http_host;
        location ~* ^/(static|image|js) {{ proxy_pass http://static_servers; }}
        location ~* \\.(html|jpg|gif|png|css|js)$ {{ proxy_pass http://static_servers; }}
        location / {{ proxy_pass http://dynamic_servers; }}
    }}
}}"""
