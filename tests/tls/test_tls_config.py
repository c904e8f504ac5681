"""``bind … ssl crt …`` in the configuration: the model, and errors at their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb.config import LoadResult, load_files
from tests.support.lbproc import run_lb
from tests.tls.conftest import Certs

BODY = """\
defaults
    mode {mode}
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:8443 {opts}
    default_backend be
backend be
    server s1 127.0.0.1:81
"""


def load(tmp_path: Path, opts: str, mode: str = "http", unsupported: str = "error") -> LoadResult:
    path = tmp_path / "lb.cfg"
    path.write_text(BODY.format(opts=opts, mode=mode))
    return load_files([str(path)], environ={}, unsupported=unsupported)


def problems(result: LoadResult) -> list[str]:
    return [f"{d.level} {d.source.line}: {d.message}" for d in result.diagnostics]


def test_options_reach_the_model(tmp_path: Path, certs: Certs) -> None:
    opts = f"ssl crt {certs.a} crt {certs.b} alpn http/1.1 ssl-min-ver TLSv1.3 ciphers HIGH"
    result = load(tmp_path, opts)
    assert result.config is not None, problems(result)
    assert not [d for d in result.diagnostics if d.level in ("ALERT", "WARNING")]
    (bind,) = next(p for p in result.config.proxies if p.name == "fe").binds
    assert bind.ssl
    assert bind.crt_files == [str(certs.a), str(certs.b)]
    assert (bind.alpn, bind.ssl_min_ver, bind.ciphers) == (["http/1.1"], "TLSv1.3", "HIGH")


def test_directory_loads_every_pem(tmp_path: Path, certs: Certs) -> None:
    d = tmp_path / "crts"
    d.mkdir()
    (d / "2-b.pem").write_text(certs.b.read_text())
    (d / "1-a.pem").write_text(certs.a.read_text())
    (d / "notes.txt").write_text("not a certificate")
    result = load(tmp_path, f"ssl crt {d}")
    assert result.config is not None, problems(result)
    (bind,) = next(p for p in result.config.proxies if p.name == "fe").binds
    assert bind.crt_files == [str(d / "1-a.pem"), str(d / "2-b.pem")]


def test_relative_crt_is_made_absolute(
    tmp_path: Path, certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(certs.dir)
    result = load(tmp_path, "ssl crt a.pem")
    assert result.config is not None, problems(result)
    assert result.config.proxies[0].binds[0].crt_files == [str(certs.a)]


def _bad_files(tmp_path: Path, certs: Certs) -> dict[str, Path]:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    cert_only = tmp_path / "cert-only.pem"
    cert_only.write_text((certs.dir / "a.crt").read_text())
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir(exist_ok=True)
    return {"garbage": garbage, "cert-only": cert_only,
            "empty-dir": empty_dir, "missing": tmp_path / "missing.pem"}  # fmt: skip


ERRORS = [
    ("missing", "does not exist"),
    ("garbage", "does not hold a usable certificate"),
    ("cert-only", "does not hold a usable certificate"),
    ("empty-dir", "no '*.pem' certificate in directory"),
]


@pytest.mark.parametrize(("which", "fragment"), ERRORS)
def test_bad_certificate_is_an_alert_at_its_line(
    tmp_path: Path, certs: Certs, which: str, fragment: str
) -> None:
    path = _bad_files(tmp_path, certs)[which]
    result = load(tmp_path, f"ssl crt {certs.a} crt {path}")
    assert result.config is None
    alerts = [(d.source.line, d.message) for d in result.alerts()]
    assert any(line == 7 and fragment in m and str(path) in m for line, m in alerts), alerts


@pytest.mark.parametrize(
    ("opts", "fragment"),
    [
        ("ssl", "needs a certificate"),
        ("crt {a}", "needs 'ssl'"),
        ("alpn http/1.1", "needs 'ssl'"),
        ("ssl crt {a} ssl-min-ver TLSv1.0", "TLSv1.2 or TLSv1.3"),
        ("ssl crt {a} ciphers NOTACIPHER", "no usable cipher"),
    ],
)
def test_option_errors(tmp_path: Path, certs: Certs, opts: str, fragment: str) -> None:
    result = load(tmp_path, opts.format(a=certs.a))
    assert result.config is None
    assert any(d.source.line == 7 and fragment in d.message for d in result.alerts()), problems(
        result
    )


@pytest.mark.parametrize(
    ("opts", "mode", "what"),
    [
        ("ssl crt {a} accept-proxy", "http", "ssl"),
        ("ssl crt {a} alpn h2,http/1.1", "http", "alpn h2"),
        ("ssl crt {a} ciphersuites TLS_AES_128_GCM_SHA256", "http", "ciphersuites"),
        ("ssl crt {a} verify required", "http", "verify"),
        ("ssl crt {a} ssl-max-ver TLSv1.2", "http", "ssl-max-ver"),
        ("ssl crt {a} strict-sni", "http", "strict-sni"),
        ("ssl crt-list /x.lst", "http", "crt-list"),
    ],
)
def test_not_supported_yet(tmp_path: Path, certs: Certs, opts: str, mode: str, what: str) -> None:
    for unsupported, level in (("error", "ALERT"), ("warn", "WARNING")):
        result = load(tmp_path, opts.format(a=certs.a), mode, unsupported)
        hits = [
            (d.level, d.source.line)
            for d in result.diagnostics
            if d.message.startswith(f"'{what}' is not supported yet")
        ]
        assert hits == [(level, 7)], problems(result)


def test_lb_check_names_file_and_line(tmp_path: Path, certs: Certs) -> None:
    cfg = tmp_path / "lb.cfg"
    cfg.write_text(BODY.format(opts=f"ssl crt {certs.a} crt /nonexistent/x.pem", mode="http"))
    result = run_lb("-c", "-f", str(cfg))
    assert result.returncode != 0
    assert "[ALERT]" in result.stderr + result.stdout
    assert f"{cfg}:7" in result.stderr + result.stdout, result.stderr
    assert "/nonexistent/x.pem" in result.stderr + result.stdout


# --------------------------------------------------------------------------- server … ssl

SERVER_BODY = """\
global
{glob}
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
backend be
    server s1 127.0.0.1:8443 {opts}
"""


def load_server(tmp_path: Path, opts: str, glob: str = "") -> LoadResult:
    path = tmp_path / "lb.cfg"
    path.write_text(SERVER_BODY.format(opts=opts, glob=f"    {glob}" if glob else ""))
    return load_files([str(path)], environ={}, unsupported="error")


def test_server_options_reach_the_model(tmp_path: Path, certs: Certs) -> None:
    opts = (
        f"ssl verify required ca-file {certs.ca} crt {certs.a} sni req.hdr(host),lower "
        "alpn http/1.1 ciphers HIGH ssl-min-ver TLSv1.3 check check-sni a.test no-check-ssl"
    )
    result = load_server(tmp_path, opts)
    assert result.config is not None, problems(result)
    (server,) = next(p for p in result.config.proxies if p.name == "be").servers
    assert (server.ssl, server.verify, server.ca_file, server.crt) == (
        True, "required", str(certs.ca), str(certs.a),
    )  # fmt: skip
    assert (server.sni, server.alpn, server.ciphers, server.ssl_min_ver) == (
        "req.hdr(host),lower", ["http/1.1"], "HIGH", "TLSv1.3",
    )  # fmt: skip
    assert (server.check_sni, server.check_ssl) == ("a.test", False)


def test_ssl_server_verify_none_is_the_default_for_servers(tmp_path: Path) -> None:
    result = load_server(tmp_path, "ssl", glob="ssl-server-verify none")
    assert result.config is not None, problems(result)
    (server,) = next(p for p in result.config.proxies if p.name == "be").servers
    assert server.verify == "none"


@pytest.mark.parametrize(
    ("opts", "glob", "fragment"),
    [
        # HAProxy 2.6's own words for verify without a CA file
        ("ssl", "", "verify is enabled by default but no CA file specified"),
        ("ssl verify required", "ssl-server-verify none", "no CA file specified"),
        ("ssl verify sometimes", "", "unknown verify method 'sometimes'"),
        ("ssl verify none ca-file /nonexistent/ca.pem", "", "cannot load CA file"),
        ("ssl verify none crt /nonexistent/c.pem", "", "cannot read certificate file"),
        ("ssl verify none ciphers NOTACIPHER", "", "no usable cipher"),
        ("ssl verify none ssl-min-ver TLSv1.0", "", "TLSv1.2 or TLSv1.3"),
        ("ssl verify none sni req.hdr(host),nosuchconv", "", "unknown converter"),
        ("ssl verify none sni str(", "", "invalid expression"),
    ],
)
def test_server_errors_at_their_line(tmp_path: Path, opts: str, glob: str, fragment: str) -> None:
    result = load_server(tmp_path, opts, glob)
    assert result.config is None
    assert any(d.source.line == 9 and fragment in d.message for d in result.alerts()), problems(
        result
    )


@pytest.mark.parametrize(
    ("opts", "what"),
    [
        ("ssl verify none sni src", "sni src"),
        ("ssl verify none alpn h2", "alpn h2"),
        ("ssl verify none verifyhost a.test", "verifyhost"),
        ("ssl verify none ssl-max-ver TLSv1.2", "ssl-max-ver"),
    ],
)
def test_server_not_supported_yet(tmp_path: Path, opts: str, what: str) -> None:
    result = load_server(tmp_path, opts)
    hits = [
        d.source.line
        for d in result.diagnostics
        if d.message.startswith(f"'{what}' is not supported yet")
    ]
    assert hits == [9], problems(result)


def test_lb_check_refuses_verify_without_ca_file(tmp_path: Path) -> None:
    cfg = tmp_path / "lb.cfg"
    cfg.write_text(SERVER_BODY.format(opts="ssl", glob=""))
    result = run_lb("-c", "-f", str(cfg))
    assert result.returncode != 0
    out = result.stderr + result.stdout
    assert f"{cfg}:9" in out and "'server be/s1' : verify is enabled by default" in out, out


@pytest.mark.parametrize(
    ("opts", "uses_tls"),
    [
        ("ssl verify none check", True),  # HAProxy: checks follow the server's ssl
        ("ssl verify none check port 9000", False),  # … unless they go elsewhere
        ("ssl verify none check addr 127.0.0.2", False),
        ("ssl verify none check port 9000 check-ssl", True),
        ("ssl verify none check no-check-ssl", False),
        ("check check-ssl verify none", True),  # TLS checks of a plain-traffic server
        ("check", False),
    ],
)
def test_check_ssl_follows_haproxy(tmp_path: Path, opts: str, uses_tls: bool) -> None:
    from lb.master.health.spec import check_tls

    result = load_server(tmp_path, opts)
    assert result.config is not None, problems(result)
    (server,) = next(p for p in result.config.proxies if p.name == "be").servers
    assert (check_tls(server) is not None) == uses_tls
