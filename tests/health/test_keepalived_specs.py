"""keepalived's real_server checkers, parsed by the config loader, as check specs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lb.config import load_files
from lb.config.model import Keepalived
from lb.master.health.httpcheck import KeepalivedUrl
from lb.master.health.keepalived import SpecError, keepalived_plans
from lb.master.health.schedule import Timing
from lb.master.health.spec import HttpProbe, IcmpProbe, MiscProbe, Target, TcpProbe

CONF = """\
virtual_server 10.10.10.2 80 {
    delay_loop 6
    lb_algo wlc
    real_server 192.168.200.6 80 {
        weight 3
        HTTP_GET {
            url {
                path /status
                digest 9b3a0c85a887a256d6939da88aabd8cd
                status_code 200 300-399
            }
            url {
                path /
            }
            connect_timeout 3
            retry 2
            delay_before_retry 2
        }
    }
    real_server 192.168.200.7 80 {
        TCP_CHECK {
            connect_port 8080
            connect_timeout 1.5
        }
        PING_CHECK {
        }
    }
    real_server 192.168.200.8 80 {
        MISC_CHECK {
            misc_path "/usr/local/bin/check.sh --port 80"
            misc_timeout 4
        }
    }
    real_server 192.168.200.9 80 {
        weight 0
    }
}
"""


def model(tmp_path: Path, text: str) -> Keepalived:
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    result = load_files([str(path)], environ={}, unsupported="warn")
    assert result.config is not None and result.config.keepalived is not None
    return result.config.keepalived


def accounts(user: str | None, group: str | None) -> tuple[int | None, int | None]:
    return (None, None) if user is None else (1000, 1000)


def test_checkers_become_specs(tmp_path: Path) -> None:
    http, tcp, misc, unchecked = keepalived_plans(model(tmp_path, CONF), accounts)
    assert (http.backend, http.server, http.weight) == ("10.10.10.2:80", "192.168.200.6:80", 3)
    v4 = socket.AF_INET
    spec = http.check
    assert spec is not None
    # rise 1, fall retry+1, every delay_loop, delay_before_retry while going down
    assert (spec.rise, spec.fall, spec.start_full) == (1, 3, True)
    assert spec.timing == Timing(6000, 2000, 6000, timeout_connect=3000, timeout_check=3000)
    first, second = spec.probes
    assert isinstance(first, HttpProbe) and first.target == Target(v4, "192.168.200.6", 80)
    assert first.url == KeepalivedUrl(
        "/status",
        status_codes=((200, 200), (300, 399)),
        digest="9b3a0c85a887a256d6939da88aabd8cd",
        virtualhost="192.168.200.6:80",
    )
    assert first.request.startswith(b"GET /status HTTP/1.0\r\nHost: 192.168.200.6:80\r\n")
    assert isinstance(second, HttpProbe) and second.url == KeepalivedUrl(
        "/", virtualhost="192.168.200.6:80"
    )

    assert tcp.check is not None
    assert tcp.check.probes == (
        TcpProbe(Target(v4, "192.168.200.7", 8080)),
        IcmpProbe(Target(v4, "192.168.200.7", 80)),
    )
    assert tcp.check.timing.connect_timeout_ms() == 1500 and tcp.check.fall == 2

    assert misc.check is not None and misc.check.fall == 1  # MISC_CHECK: retry 0
    assert misc.check.probes == (
        MiscProbe(("/usr/local/bin/check.sh", "--port", "80"), 4000, None, None),
    )
    assert unchecked.check is None and unchecked.weight == 0


@pytest.mark.parametrize(
    ("block", "fragment"),
    [
        ("SSL_GET {\n url {\n path /\n }\n }", "'SSL_GET' is not supported yet"),
        ("HTTP_GET {\n connect_timeout 3\n }", "needs at least one 'url'"),
        ("HTTP_GET {\n url {\n digest abc\n }\n }", "needs a 'path'"),
        ("HTTP_GET {\n url {\n path /\n digest xyz\n }\n }", "32 hex digits"),
        ("HTTP_GET {\n url {\n path /\n status_code 299-200\n }\n }", "is empty"),
        ("MISC_CHECK {\n misc_timeout 3\n }", "needs a 'misc_path'"),
        ("MISC_CHECK {\n misc_path /bin/true\n misc_dynamic\n }", "'misc_dynamic' is not"),
        ("TCP_CHECK {\n connect_ip nowhere\n }", "expects an IP address"),
        ("TCP_CHECK {\n retry many\n }", "invalid retry 'many'"),
    ],
)
def test_bad_checkers(tmp_path: Path, block: str, fragment: str) -> None:
    text = f"virtual_server 10.0.0.1 80 {{\n real_server 10.0.0.2 80 {{\n {block}\n }}\n}}\n"
    with pytest.raises(SpecError) as info:
        keepalived_plans(model(tmp_path, text), accounts)
    assert fragment in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "keepalived.conf") + ":")


def test_misc_check_user(tmp_path: Path) -> None:
    text = (
        "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n"
        " MISC_CHECK {\n misc_path /bin/true\n user nobody\n }\n }\n}\n"
    )
    (plan,) = keepalived_plans(model(tmp_path, text), accounts)
    assert plan.check is not None
    assert plan.check.probes[0] == MiscProbe(("/bin/true",), 60_000, 1000, 1000)
