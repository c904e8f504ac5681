"""``userlist`` sections at run time: Basic credentials checked against crypt(3)
hashes or insecure (plain) passwords.

crypt(3) comes from libcrypt through ctypes (Python's ``crypt`` module is gone
from 3.13). The library is loaded while compiling, before a worker chroots. A
hash is deliberately slow (SHA-512 crypt: thousands of rounds), so the verdict
for a (user, password) pair is remembered in a small table keyed by a digest,
never by the password itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import hmac
import threading
from collections.abc import Callable

from lb.acl.errors import RuleError
from lb.config.model import Userlist

_VERDICTS_MAX = 4096

_crypt_fn: Callable[[bytes, bytes], bytes | None] | None = None
_crypt_lock = threading.Lock()


def crypt_function() -> Callable[[bytes, bytes], bytes | None]:
    """crypt(3) from the system library; RuleError when there is none."""
    global _crypt_fn
    if _crypt_fn is not None:
        return _crypt_fn
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    try:
        lib = ctypes.CDLL(name)
        raw = lib.crypt
    except (OSError, AttributeError):
        raise RuleError(
            "crypt(3) is not available on this system (libcrypt): "
            "hashed 'password' entries cannot be checked"
        ) from None
    raw.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    raw.restype = ctypes.c_char_p

    def crypt(password: bytes, setting: bytes) -> bytes | None:
        with _crypt_lock:  # crypt() returns a static buffer
            out = raw(password, setting)
        # libxcrypt answers "*0"/"*1" (never a valid hash) when the setting is bad
        return None if out is None or out.startswith(b"*") else bytes(out)

    _crypt_fn = crypt
    return crypt


class CompiledUserlist:
    __slots__ = ("_crypt", "_verdicts", "groups", "groups_of", "hashed", "name", "plain")

    def __init__(self, userlist: Userlist) -> None:
        self.name = userlist.name
        self.plain: dict[bytes, bytes] = {}
        self.hashed: dict[bytes, bytes] = {}
        self.groups_of: dict[bytes, frozenset[str]] = {}
        self.groups = frozenset(g.name for g in userlist.groups)
        members: dict[str, set[str]] = {}
        for g in userlist.groups:
            for user in g.users:
                members.setdefault(user, set()).add(g.name)
        for u in userlist.users:
            name = u.name.encode()
            if u.insecure_password is not None:
                self.plain[name] = u.insecure_password.encode()
            elif u.password is not None:
                self.hashed[name] = u.password.encode()
            self.groups_of[name] = frozenset(members.get(u.name, set()) | set(u.groups))
        self._crypt = crypt_function() if self.hashed else None
        self._verdicts: dict[bytes, bool] = {}

    def check(self, credentials: tuple[bytes, bytes] | None) -> bool:
        if credentials is None:
            return False
        user, password = credentials
        plain = self.plain.get(user)
        if plain is not None:
            return hmac.compare_digest(plain, password)
        stored = self.hashed.get(user)
        if stored is None or self._crypt is None:
            return False
        key = hashlib.sha256(user + b"\0" + password).digest()
        verdict = self._verdicts.get(key)
        if verdict is None:
            out = self._crypt(password, stored)
            verdict = out is not None and hmac.compare_digest(out, stored)
            if len(self._verdicts) >= _VERDICTS_MAX:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    def user_in_groups(self, groups: frozenset[str]) -> Callable[[bytes], bool]:
        """For ``http_auth_group``: whether a (checked) user belongs to one of ``groups``."""
        allowed = frozenset(u for u, g in self.groups_of.items() if g & groups)
        return allowed.__contains__
