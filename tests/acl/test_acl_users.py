"""userlist sections: parsing, crypt(3) hashes, insecure passwords, http_auth and
http_auth_group, and the auth challenge."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from lb.acl import StaticRuntime
from lb.acl.users import CompiledUserlist, crypt_function
from tests.acl.conftest import BASE, frontend, load_text, messages, txn

# made with `openssl passwd -6 -salt saltsalt pw`, `-5 -salt abc pw`, `-1 -salt xyz secret`
SHA512 = "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/"  # noqa: E501
SHA256 = "$5$abc$/LKlXd6vuvdFX3oWbf2vGk3DgflzzsvOtMZsiOxqqY5"
MD5 = "$1$xyz$Qia9Wq6FxQkYcwNWMk/RM0"

# single quotes: "$name" would be an environment variable, as in HAProxy
USERS = f"""\
userlist L1
    group admins users tiger,scott
    group devs
    user tiger password '{SHA512}'
    user scott insecure-password elgato groups devs
    user lion password '{SHA256}' groups devs
    user puma password '{MD5}'
    user nopass
"""


def basic(user: str, password: str) -> list[tuple[bytes, bytes]]:
    token = base64.b64encode(f"{user}:{password}".encode())
    return [(b"Authorization", b"Basic " + token)]


@pytest.mark.parametrize(
    ("user", "password", "ok"),
    [
        ("tiger", "pw", True),
        ("tiger", "pW", False),
        ("scott", "elgato", True),
        ("scott", "elgato2", False),
        ("lion", "pw", True),
        ("puma", "secret", True),
        ("puma", "Secret", False),
        ("nopass", "", False),
        ("nobody", "pw", False),
        ("tiger", "pw:extra", False),
    ],
)
def test_http_auth(tmp_path: Path, user: str, password: str, ok: bool) -> None:
    rules, _ = frontend(tmp_path, "http-request auth unless { http_auth(L1) }", USERS)
    answer = rules.http_request(txn(headers=basic(user, password)), StaticRuntime())
    assert (answer is None) is ok


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ([], False),
        ([(b"Authorization", b"Bearer abc")], False),
        ([(b"Authorization", b"basic " + base64.b64encode(b"scott:elgato"))], True),
        ([(b"Authorization", b"Basic !!notbase64")], False),
        ([(b"Authorization", b"Basic " + base64.b64encode(b"scott"))], False),
    ],
)
def test_authorization_header_forms(
    tmp_path: Path, headers: list[tuple[bytes, bytes]], ok: bool
) -> None:
    rules, _ = frontend(tmp_path, "http-request auth unless { http_auth(L1) }", USERS)
    assert (rules.http_request(txn(headers=headers), StaticRuntime()) is None) is ok


@pytest.mark.parametrize(
    ("user", "password", "ok"),
    [
        ("tiger", "pw", True),  # in admins through "group admins users …"
        ("scott", "elgato", True),  # in admins and devs
        ("lion", "pw", False),  # devs only
        ("tiger", "bad", False),  # the password still counts
    ],
)
def test_http_auth_group(tmp_path: Path, user: str, password: str, ok: bool) -> None:
    lines = """
        acl admin http_auth_group(L1) admins
        http-request auth realm Admins unless admin
    """
    rules, _ = frontend(tmp_path, lines, USERS)
    answer = rules.http_request(txn(headers=basic(user, password)), StaticRuntime())
    assert (answer is None) is ok
    if answer is not None:
        assert (b"www-authenticate", b'Basic realm="Admins"') in answer.headers


def test_crypt_verdicts_are_remembered(tmp_path: Path) -> None:
    """A hash costs milliseconds: each (user, password) pair is hashed once."""
    result = load_text(tmp_path, USERS)
    assert result.config is not None
    users = CompiledUserlist(result.config.userlists[0])
    calls: list[bytes] = []
    real = users._crypt
    assert real is not None

    def counting(password: bytes, setting: bytes) -> bytes | None:
        calls.append(password)
        return real(password, setting)

    users._crypt = counting
    verdicts = [users.check((b"tiger", p)) for p in (b"pw", b"pw", b"no", b"pw", b"no")]
    assert verdicts == [True, True, False, True, False]
    assert calls == [b"pw", b"no"]
    assert users.check((b"scott", b"elgato")) and calls == [b"pw", b"no"]  # plain: no hash
    assert crypt_function()(b"pw", SHA512.encode()) == SHA512.encode()
    assert crypt_function()(b"pw", b"$9$bad") is None


def test_userlist_model(tmp_path: Path) -> None:
    result = load_text(tmp_path, USERS)
    assert messages(result) == []
    assert result.config is not None
    (ul,) = result.config.userlists
    assert ul.name == "L1"
    assert [(g.name, g.users) for g in ul.groups] == [("admins", ["tiger", "scott"]), ("devs", [])]
    assert [(u.name, u.password is not None, u.insecure_password, u.groups) for u in ul.users] == [
        ("tiger", True, None, []),
        ("scott", False, "elgato", ["devs"]),
        ("lion", True, None, ["devs"]),
        ("puma", True, None, []),
        ("nopass", False, None, []),
    ]
    assert ul.users[0].source.line == 4


@pytest.mark.parametrize(
    ("text", "level", "line", "message"),
    [
        ("userlist L\n  user a groups g1\n", "ALERT", 2, "no group 'g1' for user 'a'"),
        ("userlist L\n  group g users a,b\n  user a\n", "ALERT", 2, "no user 'b' in group 'g'"),
        ("userlist L\n  user a\n  user a\n", "WARNING", 3, "ignoring duplicated user 'a'"),
        ("userlist L\n  group g\n  group g\n", "WARNING", 3, "ignoring duplicated group 'g'"),
        ("userlist L\n  frob x\n", "ALERT", 2, "unknown keyword 'frob' in 'userlist' section"),
        ("userlist L\n  user a secret x\n", "ALERT", 2, "expects 'password', 'insecure-password'"),
        ("userlist\n", "ALERT", 1, "'userlist' expects a name"),
        ("userlist L\nuserlist L\n", "ALERT", 2, "userlist 'L' has the same name"),
    ],
)
def test_userlist_errors(tmp_path: Path, text: str, level: str, line: int, message: str) -> None:
    result = load_text(tmp_path, text)
    found = [(d.level, d.source.line) for d in result.diagnostics if message in d.message]
    assert found == [(level, line)], messages(result)


def test_unknown_group_in_http_auth_group(tmp_path: Path) -> None:
    text = (
        BASE
        + USERS
        + (
            "frontend fe\n    bind :80\n    acl a http_auth_group(L1) admins nope\n"
            "    http-request auth unless a\n    default_backend be\n"
            "backend be\n    server s 127.0.0.1:81\n"
        )
    )
    result = load_text(tmp_path, text)
    alerts = [(d.source.line, d.message) for d in result.alerts()]
    assert alerts == [
        (len(BASE.splitlines()) + 11, "'http_auth_group(L1)': no group 'nope' in the userlist")
    ]
