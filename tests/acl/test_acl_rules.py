"""Rules end to end through ``compile_proxy``: http-request, redirect, use_backend,
use-server, http-response, and the bytes of lb's own answers (HAProxy 2.6's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb.acl import Answer, StaticRuntime
from tests.acl.conftest import frontend, load_text, txn

FORBIDDEN = (
    b"HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\n"
    b"content-type: text/html\r\n\r\n<html><body><h1>403 Forbidden</h1>\n"
    b"Request forbidden by administrative rules.\n</body></html>\n"
)


def answer_of(lines: str, tmp_path: Path, rt: StaticRuntime, **fields: object) -> Answer | None:
    rules, _ = frontend(tmp_path, lines)
    return rules.http_request(txn(**fields), rt)  # type: ignore[arg-type]


# (rule lines, request fields, the response bytes for a keep-alive HTTP/1.1 client)
ANSWERS: list[tuple[str, dict[str, object], bytes]] = [
    ("http-request deny", {}, FORBIDDEN),
    (
        "http-request deny deny_status 429",
        {},
        b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 117\r\ncache-control: no-cache\r\n"
        b"content-type: text/html\r\n\r\n<html><body><h1>429 Too Many Requests</h1>\n"
        b"You have sent too many requests in a given amount of time.\n</body></html>\n",
    ),
    ("http-request deny status 418", {}, b"HTTP/1.1 418 I'm a teapot\r\ncontent-length: 0\r\n\r\n"),
    (
        "http-request deny deny_status 403 hdr X-A b",
        {},
        b"HTTP/1.1 403 Forbidden\r\nx-a: b\r\ncontent-length: 0\r\n\r\n",
    ),
    (
        "http-request deny content-type text/plain string nope",
        {},
        b"HTTP/1.1 403 Forbidden\r\ncontent-length: 4\r\ncontent-type: text/plain\r\n\r\nnope",
    ),
    (
        "http-request auth",
        {},
        b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 112\r\ncache-control: no-cache\r\n"
        b'content-type: text/html\r\nwww-authenticate: Basic realm="fe"\r\n\r\n'
        b"<html><body><h1>401 Unauthorized</h1>\n"
        b"You need a valid user and password to access this content.\n</body></html>\n",
    ),
    ("http-request return", {}, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
    ("http-request return status 204", {}, b"HTTP/1.1 204 No Content\r\n\r\n"),
    (
        "http-request return status 302",
        {},
        b"HTTP/1.1 302 Moved Temporarily\r\ncontent-length: 0\r\n\r\n",
    ),
    (
        'http-request return status 404 content-type text/plain string hello hdr X-A "%[path]"',
        {"url": b"/ret2"},
        b"HTTP/1.1 404 Not Found\r\nx-a: /ret2\r\ncontent-length: 5\r\n"
        b"content-type: text/plain\r\n\r\nhello",
    ),
    (
        'http-request return content-type text/plain lf-string "p=%[path]"',
        {"url": b"/ret3"},
        b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\ncontent-type: text/plain\r\n\r\np=/ret3",
    ),
    (  # an empty payload drops the content-type
        'http-request return content-type text/plain lf-string "%[query]"',
        {},
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    ),
    (
        "http-request return status 503 default-errorfiles",
        {},
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\n"
        b"content-type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\n"
        b"No server is available to handle this request.\n</body></html>\n",
    ),
    (
        "http-request redirect location /new",
        {},
        b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /new\r\n"
        b"cache-control: no-cache\r\n\r\n",
    ),
    (
        "http-request redirect prefix https://x.example code 301",
        {"url": b"/r2/x?q=1"},
        b"HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\n"
        b"location: https://x.example/r2/x?q=1\r\n\r\n",
    ),
    (
        "http-request redirect scheme https",
        {"url": b"/r3/x?q=1", "headers": [(b"Host", b"h.example:8080")]},
        b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: https://h.example:8080/r3/x?q=1\r\n"
        b"cache-control: no-cache\r\n\r\n",
    ),
    (
        "http-request redirect scheme https drop-query",
        {"url": b"/j?x=1"},
        b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: https:///j\r\n"
        b"cache-control: no-cache\r\n\r\n",
    ),
    (
        "http-request redirect location /new code 303 drop-query",
        {"url": b"/r4?z"},
        b"HTTP/1.1 303 See Other\r\ncontent-length: 0\r\nlocation: /new\r\n"
        b"cache-control: no-cache\r\n\r\n",
    ),
    (
        "http-request redirect prefix /p append-slash",
        {"url": b"/r5?q"},
        b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /p/r5?q/\r\n"
        b"cache-control: no-cache\r\n\r\n",
    ),
    (
        "http-request redirect prefix / drop-query append-slash code 308",
        {"url": b"/article/x?q"},
        b"HTTP/1.1 308 Permanent Redirect\r\ncontent-length: 0\r\nlocation: /article/x/\r\n\r\n",
    ),
    (
        "http-request redirect location /c set-cookie A=1 code 307",
        {},
        b"HTTP/1.1 307 Temporary Redirect\r\ncontent-length: 0\r\nlocation: /c\r\n"
        b"cache-control: no-cache\r\nset-cookie: A=1; path=/;\r\n\r\n",
    ),
    (
        "http-request redirect location /x clear-cookie FOO=",
        {},
        b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /x\r\ncache-control: no-cache\r\n"
        b"set-cookie: FOO=; path=/; Max-Age=0;\r\n\r\n",
    ),
    (
        "http-request redirect location https://%[req.hdr(host)]%[path]?from=%[src]",
        {"url": b"/a?b", "headers": [(b"Host", b"h")]},
        b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: https://h/a?from=192.0.2.7\r\n"
        b"cache-control: no-cache\r\n\r\n",
    ),
]


@pytest.mark.parametrize(("lines", "fields", "expected"), ANSWERS)
def test_answer(
    tmp_path: Path, rt: StaticRuntime, lines: str, fields: dict[str, object], expected: bytes
) -> None:
    answer = answer_of(lines, tmp_path, rt, **fields)
    assert answer is not None
    assert answer.render("1.1") == expected


def test_render_connection_header() -> None:
    a = Answer(200, [(b"content-length", b"0")])
    assert a.render("1.1", keep_alive=False).endswith(b"connection: close\r\n\r\n")
    assert a.render("1.0").endswith(b"connection: keep-alive\r\n\r\n")
    assert a.render("1.0").startswith(b"HTTP/1.1 200 OK\r\n")  # HAProxy answers in 1.1


def test_tarpit(tmp_path: Path, rt: StaticRuntime) -> None:
    answer = answer_of("http-request tarpit deny_status 503", tmp_path, rt)
    assert answer is not None
    assert (answer.status, answer.tarpit, answer.close, answer.errorfile) == (503, True, True, True)
    assert answer.render().startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert answer.render().endswith(b"connection: close\r\n\r\n" + answer.body)


def test_auth_realm_and_errorfile_flag(tmp_path: Path, rt: StaticRuntime) -> None:
    answer = answer_of('http-request auth realm "My Realm"', tmp_path, rt)
    assert answer is not None
    assert (b"www-authenticate", b'Basic realm="My Realm"') in answer.headers
    assert answer.errorfile  # an "errorfile 401" of the proxy would replace it


def test_return_file_and_lf_file(tmp_path: Path, rt: StaticRuntime) -> None:
    (tmp_path / "body.txt").write_text("static\n")
    (tmp_path / "body.lf").write_text("path=%[path]")
    lines = (
        f"http-request return content-type text/plain file {tmp_path}/body.txt if {{ path /f }}\n"
        f"http-request return content-type text/plain lf-file {tmp_path}/body.lf"
    )
    rules, _ = frontend(tmp_path, lines)
    assert rules.http_request(txn(b"/f"), rt).body == b"static\n"  # type: ignore[union-attr]
    assert rules.http_request(txn(b"/g"), rt).body == b"path=/g"  # type: ignore[union-attr]


def test_return_errorfile_is_sent_whole(tmp_path: Path, rt: StaticRuntime) -> None:
    raw = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    (tmp_path / "200.http").write_bytes(raw)
    answer = answer_of(f"http-request return errorfile {tmp_path}/200.http", tmp_path, rt)
    assert answer is not None and answer.render() == raw


def test_allow_stops_http_request_rules_but_not_redirects(
    tmp_path: Path, rt: StaticRuntime
) -> None:
    lines = """
        http-request allow if { path /ok }
        http-request deny
        redirect location /moved if { path /ok } { hdr(x) -m found }
    """
    rules, _ = frontend(tmp_path, lines)
    assert rules.http_request(txn(b"/ok"), rt) is None
    assert rules.http_request(txn(b"/no"), rt).status == 403  # type: ignore[union-attr]
    moved = rules.http_request(txn(b"/ok", [(b"X", b"1")]), rt)
    assert moved is not None and (b"location", b"/moved") in moved.headers


def test_http_request_rules_run_before_redirect_rules(tmp_path: Path, rt: StaticRuntime) -> None:
    # the redirect line comes first in the file, the http-request rule still wins
    lines = """
        redirect prefix https://x.example
        http-request deny
    """
    rules, _ = frontend(tmp_path, lines)
    assert rules.http_request(txn(), rt).status == 403  # type: ignore[union-attr]


def test_redirect_keyword_takes_its_target_literally(tmp_path: Path, rt: StaticRuntime) -> None:
    rules, _ = frontend(tmp_path, "redirect location /%[path]")
    answer = rules.http_request(txn(b"/x"), rt)
    assert answer is not None and (b"location", b"/%[path]") in answer.headers


def test_ignore_empty(tmp_path: Path, rt: StaticRuntime) -> None:
    (tmp_path / "r.map").write_text("/old /new\n")
    lines = f"""
        http-request redirect location %[path,map({tmp_path}/r.map)] code 301 ignore-empty
        http-request return status 200
    """
    rules, _ = frontend(tmp_path, lines)
    moved = rules.http_request(txn(b"/old"), rt)
    assert moved is not None and moved.status == 301
    assert rules.http_request(txn(b"/other"), rt).status == 200  # type: ignore[union-attr]


# --------------------------------------------------------------------------- rewrites

H = [
    (b"Host", b"h"),
    (b"X-A", b"1"),
    (b"x-a", b"2"),
    (b"X-Forwarded-For", b"192.168.10.1, 192.168.13.24, 10.0.0.37"),
]

# (rule lines, url, headers, method → url, headers, method after the rules)
REWRITES: list[tuple[str, bytes, list[tuple[bytes, bytes]], bytes, list[tuple[bytes, bytes]]]] = [
    ("http-request set-header X-A new", b"/", H[:3], b"/", [(b"Host", b"h"), (b"X-A", b"new")]),
    ("http-request add-header X-A %[path]", b"/p", H[:2], b"/p", [*H[:2], (b"X-A", b"/p")]),
    ("http-request del-header x-a", b"/", H[:3], b"/", H[:1]),
    ("http-request del-header X- -m beg", b"/", H, b"/", H[:1]),
    ("http-request del-header -for -m end", b"/", H, b"/", H[:3]),
    ("http-request del-header orwar -m sub", b"/", H, b"/", H[:3]),
    ("http-request del-header ^x-.$ -m reg", b"/", H, b"/", [H[0], H[3]]),
    (
        "http-request replace-header Host ^(.*)$ www.\\1",
        b"/",
        H[:1],
        b"/",
        [(b"Host", b"www.h")],
    ),
    (  # the whole value is replaced, not just what the regex found
        "http-request replace-header User-Agent curl foo",
        b"/",
        [(b"User-Agent", b"curl/7.47.0")],
        b"/",
        [(b"User-Agent", b"foo")],
    ),
    (
        "http-request replace-value X-Forwarded-For ^192\\.168\\.(.*)$ 172.16.\\1",
        b"/",
        H[3:],
        b"/",
        # as the real HAProxy 2.6 does (its manual shows ", " kept): a replaced value
        # takes the blanks after its comma with it
        [(b"X-Forwarded-For", b"172.16.10.1,172.16.13.24, 10.0.0.37")],
    ),
    ("http-request set-path /new%[path]", b"/a?q=1", [], b"/new/a?q=1", []),
    ("http-request set-path /x", b"http://h/a?q", [], b"http://h/x?q", []),
    ("http-request set-path /x", b"*", [], b"/x", []),
    ("http-request set-pathq /x", b"/a?q", [], b"/x", []),
    ("http-request set-query a=1", b"/p", [], b"/p?a=1", []),
    ("http-request set-query a=1", b"/p?b=2", [], b"/p?a=1", []),
    ("http-request set-query %[query]", b"/p", [], b"/p", []),
    ("http-request set-query %[urlp(nope)]", b"/p?b", [], b"/p?", []),  # '?' stays
    ("http-request set-uri /u?v", b"/p?q", [], b"/u?v", []),
    ("http-request replace-path /foo/(.*) /\\1", b"/foo/bar?q=1", [], b"/bar?q=1", []),
    ("http-request replace-path (.*) /foo\\1", b"/bar?q=1", [], b"/foo/bar?q=1", []),
    ("http-request replace-uri ^http://(.*) https://\\1", b"http://h/a", [], b"https://h/a", []),
    (
        "http-request replace-pathq ([^?]*)(\\?(.*))? \\1/foo\\2",
        b"/bar?q=1",
        [],
        b"/bar/foo?q=1",
        [],
    ),
]


@pytest.mark.parametrize(("lines", "url", "headers", "new_url", "new_headers"), REWRITES)
def test_rewrite(
    tmp_path: Path,
    rt: StaticRuntime,
    lines: str,
    url: bytes,
    headers: list[tuple[bytes, bytes]],
    new_url: bytes,
    new_headers: list[tuple[bytes, bytes]],
) -> None:
    rules, _ = frontend(tmp_path, lines)
    t = txn(url, list(headers))
    assert rules.http_request(t, rt) is None
    assert (t.url, t.headers) == (new_url, new_headers)


def test_set_method_and_later_rules_see_rewrites(tmp_path: Path, rt: StaticRuntime) -> None:
    lines = """
        http-request set-method POST if { path /m }
        http-request set-header X-Seen yes
        http-request set-path /rewritten
        http-request deny if METH_POST { hdr(x-seen) yes } { path /rewritten }
    """
    rules, _ = frontend(tmp_path, lines)
    t = txn(b"/m")
    assert rules.http_request(t, rt).status == 403  # type: ignore[union-attr]
    assert t.method == b"POST"
    assert rules.http_request(txn(b"/other"), rt) is None


def test_variables(tmp_path: Path, rt: StaticRuntime) -> None:
    lines = """
        http-request set-var(txn.host) req.hdr(host),lower
        http-request set-var-fmt(txn.who) %[src]:%[src_port]
        http-request set-var(req.n) int(5)
        http-request unset-var(req.n) if { path /unset }
        http-request set-header X-Host %[var(txn.host)]
        http-request deny if { var(txn.host) -m str bad.example }
        http-request set-header X-N %[var(req.n)]
    """
    rules, _ = frontend(tmp_path, lines)
    t = txn(b"/", [(b"Host", b"WWW.Example")])
    assert rules.http_request(t, rt) is None
    assert t.vars == {"txn.host": b"www.example", "txn.who": b"192.0.2.7:40000", "req.n": 5}
    assert (b"X-Host", b"www.example") in t.headers and (b"X-N", b"5") in t.headers
    assert rules.http_request(txn(b"/", [(b"Host", b"bad.example")]), rt) is not None
    unset = txn(b"/unset")
    rules.http_request(unset, rt)
    assert unset.vars is not None and "req.n" not in unset.vars


# --------------------------------------------------------------------------- routing


def test_use_backend_in_order_then_default(tmp_path: Path, rt: StaticRuntime) -> None:
    lines = """
        acl api path_beg /api
        acl v2 hdr(x-version) 2
        use_backend be2 if api v2
        use_backend be1 if api
        use_backend be2 unless { method GET HEAD }
        default_backend be1
    """
    rules, _ = frontend(tmp_path, lines)
    cases = {
        (b"/api/x", b"2", b"GET"): "be2",
        (b"/api/x", b"1", b"GET"): "be1",
        (b"/x", b"2", b"POST"): "be2",
        (b"/x", b"2", b"GET"): "be1",
    }
    for (path, version, method), backend in cases.items():
        t = txn(path, [(b"X-Version", version)], method)
        assert rules.choose_backend(t, rt) == backend, (path, version, method)


def test_no_match_and_no_default(tmp_path: Path, rt: StaticRuntime) -> None:
    rules, _ = frontend(tmp_path, "use_backend be1 if { path /x }")
    assert rules.choose_backend(txn(b"/y"), rt) is None  # the session answers 503
    assert rules.choose_backend(txn(b"/x"), rt) == "be1"


def test_dynamic_use_backend(tmp_path: Path, rt: StaticRuntime) -> None:
    (tmp_path / "hosts.map").write_text("a.example be1\nb.example be2\nc.example nope\n")
    lines = f"""
        use_backend %[req.hdr(host),lower,map({tmp_path}/hosts.map)] if {{ hdr(host) -m found }}
        use_backend be%[urlp(n)]
        default_backend be1
    """
    rules, _ = frontend(tmp_path, lines)
    assert rules.choose_backend(txn(headers=[(b"Host", b"B.example")]), rt) == "be2"
    # a name that is no backend: default_backend, and no other rule is tried
    assert rules.choose_backend(txn(b"/?n=2", [(b"Host", b"c.example")]), rt) == "be1"
    assert rules.choose_backend(txn(b"/?n=2"), rt) == "be2"
    assert rules.choose_backend(txn(b"/?n=9"), rt) == "be1"


def test_use_server(tmp_path: Path, rt: StaticRuntime) -> None:
    text = (
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
        "    timeout connect 1s\n"
        "backend be1\n"
        "    use-server s2 if { path /two }\n"
        "    use-server s1 if { path /two }\n"  # s2 is down: the next rule is tried
        "    use-server %[urlp(s)] if { urlp(s) -m found }\n"
        "    use-server s2 unless { path /one }\n"
        "    server s1 127.0.0.1:81\n    server s2 127.0.0.1:82\n"
    )
    result = load_text(tmp_path, text)
    assert [str(d) for d in result.diagnostics] == []
    assert result.config is not None
    from lb.acl import compile_proxy

    rules = compile_proxy(result.config.proxies[0], result.config)
    up = StaticRuntime({"be1": ["s1", "s2"]})
    assert rules.use_server(txn(b"/two"), rt) == "s1"
    assert rules.use_server(txn(b"/two"), up) == "s2"
    assert rules.use_server(txn(b"/?s=s1"), rt) == "s1"
    assert rules.use_server(txn(b"/?s=nope"), up) == "s2"
    assert rules.use_server(txn(b"/one"), up) is None


# --------------------------------------------------------------------------- responses


def test_http_response_rules(tmp_path: Path, rt: StaticRuntime) -> None:
    lines = """
        http-response set-header X-Served-By %[fe_name] if { status 200 }
        http-response del-header Server
        http-response replace-header Set-Cookie (.*)=(.*) \\1=\\2;\\ Secure
        http-response add-header Via lb
        http-response set-status 503 reason "Slow Down" if { res.hdr(x-fail) -m found }
        http-response allow if { status 204 }
        http-response deny if { status 500 }
        http-response set-header X-After-Allow 1
    """
    rules, _ = frontend(tmp_path, lines)
    t = txn()
    t.set_response(200, [(b"Server", b"x"), (b"Set-Cookie", b"a=1")])
    assert rules.http_response(t, rt) is None
    assert t.resp_headers == [
        (b"Set-Cookie", b"a=1; Secure"),
        (b"X-Served-By", b"fe"),
        (b"Via", b"lb"),
        (b"X-After-Allow", b"1"),
    ]
    failing = txn()
    failing.set_response(200, [(b"X-Fail", b"1")])
    rules.http_response(failing, rt)
    assert (failing.status, failing.reason) == (503, b"Slow Down")
    allowed = txn()
    allowed.set_response(204, [])
    rules.http_response(allowed, rt)
    assert (b"X-After-Allow", b"1") not in (allowed.resp_headers or [])
    broken = txn()
    broken.set_response(500, [])
    denied = rules.http_response(broken, rt)
    assert denied is not None and denied.status == 502 and denied.errorfile


def test_set_status_default_reason(tmp_path: Path, rt: StaticRuntime) -> None:
    rules, _ = frontend(tmp_path, "http-response set-status 431")
    t = txn()
    t.set_response(200, [])
    rules.http_response(t, rt)
    assert (t.status, t.reason) == (431, b"Request Header Fields Too Large")


def test_empty(tmp_path: Path) -> None:
    plain, _ = frontend(tmp_path, "default_backend be1")
    assert plain.empty and not plain.has_request_rules
    ruled, _ = frontend(tmp_path, "http-request set-header X 1")
    assert not ruled.empty and ruled.has_request_rules and not ruled.has_response_rules


def test_condition_for_another_keyword(tmp_path: Path, rt: StaticRuntime) -> None:
    """``stats admin if …`` and the like: a condition with the proxy's ACLs."""
    from lb.acl import compile_condition_of
    from lb.config.model import Source

    _, config = frontend(tmp_path, "acl local src 192.0.2.0/24")
    fe = next(p for p in config.proxies if p.name == "fe")
    later = Source(fe.acls[0].source.file, fe.acls[0].source.line + 1)
    test = compile_condition_of(fe, config, ["if", "local", "METH_POST"], later)
    assert test is not None
    assert test(txn(method=b"POST"), rt) and not test(txn(), rt)
    assert compile_condition_of(fe, config, [], later) is None
