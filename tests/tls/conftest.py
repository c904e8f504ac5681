"""Certificates for the TLS tests, made with the openssl CLI: a CA and two servers.

``a.pem`` serves a.test; ``b.pem`` serves b.test and *.b.test. Each PEM holds the
certificate and its key (HAProxy's crt format); ``ca.crt`` verifies both.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.peers import missing

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Certs:
    dir: Path
    ca: Path  # the CA certificate, for clients
    a: Path  # a.test
    b: Path  # b.test, *.b.test
    selfsigned: Path  # self.test, signed by itself (no CA verifies it)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _server(d: Path, name: str, sans: str) -> Path:
    _openssl("req", *EC, "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={name}.test", cwd=d)  # fmt: skip
    (d / f"{name}.ext").write_text(f"subjectAltName={sans}\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
             "-out", f"{name}.crt", cwd=d)  # fmt: skip
    pem = d / f"{name}.pem"
    pem.write_text((d / f"{name}.crt").read_text() + (d / f"{name}.key").read_text())
    return pem


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    if not Path(OPENSSL).exists():
        missing("the openssl command is not installed")
    d = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", *EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=lb test CA", cwd=d)  # fmt: skip
    a = _server(d, "a", "DNS:a.test")
    b = _server(d, "b", "DNS:b.test,DNS:*.b.test")
    _openssl("req", "-x509", *EC, "-keyout", "self.key", "-out", "self.crt", "-days", "2",
             "-subj", "/CN=self.test", "-addext", "subjectAltName=DNS:self.test",
             cwd=d)  # fmt: skip
    selfsigned = d / "self.pem"
    selfsigned.write_text((d / "self.crt").read_text() + (d / "self.key").read_text())
    return Certs(d, d / "ca.crt", a, b, selfsigned)
