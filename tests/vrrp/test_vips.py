"""VipManager inside a namespace: idempotent add/remove, labels, scopes, IPv6 without DAD.

The agent calls VipManager from inside a running asyncio loop, as the master does: pyroute2's
synchronous API fails there unless VipManager keeps it on a thread of its own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.netns import Agent, AgentError, Host, Lan

# Fixtures, imported under their own names so that pytest finds them here.
from tests.support.netns import lan as lan


def vips(agent: Agent, method: str, *args: Any, **kwargs: Any) -> Any:
    return agent.call("vips", method=method, args=list(args), kwargs=kwargs)


def entry(host: Host, address: str) -> dict[str, Any] | None:
    ip = address.split("/")[0]
    return next((a for a in host.addr_info() if a["local"] == ip), None)


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("192.168.22.249/24", "192.168.22.249/24"),
        ("192.168.22.250", "192.168.22.250/32"),
        ("fd00:22::249/64", "fd00:22::249/64"),
        ("fd00:22::250", "fd00:22::250/128"),
    ],
)
def test_add_and_remove_are_idempotent(lan: Lan, address: str, shown: str) -> None:
    h = lan.hosts[0]
    ag = h.agent()
    before = h.addresses()
    assert vips(ag, "present", "eth1", address) is False
    assert vips(ag, "add", "eth1", address) is True
    assert vips(ag, "add", "eth1", address) is False
    assert shown in h.addresses()
    assert h.addresses().count(shown) == 1
    assert vips(ag, "present", "eth1", address) is True
    assert shown in vips(ag, "addresses", "eth1")
    assert vips(ag, "remove", "eth1", address) is True
    assert vips(ag, "remove", "eth1", address) is False
    assert h.addresses() == before


def test_vip_answers_on_the_lan(lan: Lan) -> None:
    a, b = lan.hosts
    ag = a.agent()
    assert vips(ag, "add", "eth1", "192.168.22.249/24") is True
    assert vips(ag, "add", "eth1", "fd00:22::249/64") is True
    b.ping("192.168.22.249")
    b.ping("fd00:22::249")  # usable at once: no DAD


def test_same_ipv4_under_another_prefix_is_a_different_address(lan: Lan) -> None:
    h = lan.hosts[0]
    ag = h.agent()
    assert vips(ag, "present", "eth1", f"{h.ip4}/24") is True
    assert vips(ag, "present", "eth1", h.ip4) is False  # /32 is a distinct kernel entry
    assert vips(ag, "add", "eth1", h.ip4) is True
    assert vips(ag, "remove", "eth1", h.ip4) is True
    assert f"{h.ip4}/24" in h.addresses()  # the host's own address was not touched


def test_label_scope_and_broadcast(lan: Lan) -> None:
    h = lan.hosts[0]
    ag = h.agent()
    assert vips(ag, "add", "eth1", "192.168.22.249/24", label="eth1:vip", brd="+") is True
    e = entry(h, "192.168.22.249")
    assert e is not None
    assert (e["label"], e["broadcast"], e["scope"]) == ("eth1:vip", "192.168.22.255", "global")
    assert vips(ag, "add", "eth1", "10.9.9.9/32", scope="host") is True
    assert entry(h, "10.9.9.9")["scope"] == "host"  # type: ignore[index]
    assert vips(ag, "add", "eth1", "10.9.9.10/24", scope="link", brd="10.9.9.255") is True
    e = entry(h, "10.9.9.10")
    assert e is not None and (e["scope"], e["broadcast"]) == ("link", "10.9.9.255")
    # A label is IPv4-only in the kernel: ignored for IPv6, as keepalived does.
    assert vips(ag, "add", "eth1", "fd00:22::249/64", label="eth1:six") is True
    assert vips(ag, "remove", "eth1", "192.168.22.249/24") is True
    assert entry(h, "192.168.22.249") is None


def test_ipv6_vip_skips_dad(lan: Lan) -> None:
    h = lan.hosts[0]
    # The LAN turns DAD off; turn it back on so that "no tentative flag" means something.
    h.run("sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/eth1/accept_dad")
    h.run("ip", "addr", "add", "fd00:22::301/64", "dev", "eth1")  # control: DAD runs
    assert entry(h, "fd00:22::301").get("tentative") is True  # type: ignore[union-attr]
    ag = h.agent()
    assert vips(ag, "add", "eth1", "fd00:22::249/64") is True
    e = entry(h, "fd00:22::249")
    assert e is not None and not e.get("tentative") and e.get("nodad") is True


def test_queries(lan: Lan) -> None:
    h = lan.hosts[0]
    ag = h.agent()
    link = json.loads(h.run("ip", "-j", "link", "show", "dev", "eth1").stdout)[0]
    assert vips(ag, "ifindex", "eth1") == link["ifindex"]
    assert vips(ag, "mac", "eth1") == h.mac
    assert vips(ag, "primary", "eth1", 4) == h.ip4
    assert vips(ag, "primary", "eth1", 6) == h.link_local()
    # VIPs added later (a secondary in the same subnet, a host-scoped one listed first by the
    # kernel) do not become the primary address.
    vips(ag, "add", "eth1", "192.168.22.249/24")
    vips(ag, "add", "eth1", "10.1.1.1/32", scope="host")
    assert vips(ag, "primary", "eth1", 4) == h.ip4
    assert vips(ag, "primary", "lo", 6) is None  # ::1 is not link-local


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "kind", "words"),
    [
        ("add", ["nosuch0", "192.168.22.249/24"], {}, "UnknownInterface", ["nosuch0", "249"]),
        ("remove", ["nosuch0", "192.168.22.249"], {}, "UnknownInterface", ["nosuch0", "249"]),
        ("present", ["nosuch0", "fd00::1"], {}, "UnknownInterface", ["nosuch0", "fd00::1"]),
        ("add", ["eth1", "192.168.22.300/24"], {}, "ValueError", ["eth1", "192.168.22.300"]),
        ("add", ["eth1", "192.168.22.9/33"], {}, "ValueError", ["eth1", "/33"]),
        ("add", ["eth1", "vip"], {}, "ValueError", ["eth1", "vip"]),
        ("remove", ["eth1", "fd00::/129"], {}, "ValueError", ["eth1", "fd00::/129"]),
        ("add", ["eth1", "10.0.0.1"], {"scope": "galaxy"}, "ValueError", ["eth1", "galaxy"]),
        ("add", ["eth1", "10.0.0.1/24"], {"brd": "x"}, "ValueError", ["eth1", "10.0.0.1"]),
        ("add", ["eth1", "10.0.0.1"], {"label": "x" * 16}, "ValueError", ["eth1", "10.0.0.1"]),
        ("ifindex", ["nosuch0"], {}, "UnknownInterface", ["nosuch0"]),
    ],
)
def test_clear_errors(
    lan: Lan, method: str, args: list[str], kwargs: dict[str, str], kind: str, words: list[str]
) -> None:
    ag = lan.hosts[0].agent()
    with pytest.raises(AgentError) as e:
        vips(ag, method, *args, **kwargs)
    assert e.value.kind == kind
    for w in words:
        assert w in e.value.message
    if kind == "UnknownInterface":
        assert e.value.errno == 19  # ENODEV: an OSError
