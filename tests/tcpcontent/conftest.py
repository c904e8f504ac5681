"""The TLS tests' certificates (a.test, b.test) for the SNI passthrough tests."""

from tests.tls.conftest import certs

__all__ = ["certs"]
