"""IP_FREEBIND on the listening sockets of keepalived virtual servers: a VIP that VRRP holds
on the peer for now can be bound here before it arrives. Binding sends no packet."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

from lb.config.model import Bind, Source
from lb.master.listeners import socket_for

SRC = Source("keepalived.conf", 1)
# documentation addresses (RFC 5737, RFC 3849): never configured on a test host
ABSENT = {socket.AF_INET: "192.0.2.77", socket.AF_INET6: "2001:db8::77"}


def _nonlocal_bind_allowed(family: int) -> bool:
    v = "ipv6" if family == socket.AF_INET6 else "ipv4"
    try:
        return Path(f"/proc/sys/net/{v}/ip_nonlocal_bind").read_text().strip() != "0"
    except OSError:
        return False


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_freebind_binds_an_address_this_host_does_not_hold(family: int) -> None:
    if family == socket.AF_INET6 and not socket.has_ipv6:
        pytest.skip("no IPv6")
    host = ABSENT[family]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    if not _nonlocal_bind_allowed(family):
        # the plain bind fails: this is what freebind is for
        with pytest.raises(OSError) as info:
            socket_for(Bind(host=host, port=port, source=SRC)).close()
        assert info.value.errno == errno.EADDRNOTAVAIL
    try:
        sock = socket_for(Bind(host=host, port=port, source=SRC, freebind=True))
    except OSError as exc:
        if family == socket.AF_INET6 and exc.errno == errno.EAFNOSUPPORT:
            pytest.skip("IPv6 disabled")
        raise
    with sock:
        assert sock.getsockname()[:2] == (host, port)


def test_freebind_is_part_of_the_socket_identity() -> None:
    plain = Bind(host="192.0.2.77", port=80, source=SRC)
    free = Bind(host="192.0.2.77", port=80, source=SRC, freebind=True)
    assert plain.key() != free.key()
    assert plain.key() == "192.0.2.77|80|0|0"  # unchanged for every HAProxy bind
