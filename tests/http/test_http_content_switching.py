"""Content switching and HTTP rules through a real proxy: HAProxy and lb, the same config.

Each case is one request; what is compared is what matters to the user: the status,
which backend got the request (or none did), the headers that backend received, and the
headers the client got back. Every case runs against Debian's HAProxy too (the
``proxy_kind`` fixture), so the expectations are HAProxy's behaviour, not lb's opinion.
"""

from __future__ import annotations

import pytest

from tests.support.http_clients import get
from tests.support.http_servers import header_values

FRONTEND = [
    "acl url_static path_beg -i /static /image /js",
    "acl url_static path_end -i .html .jpg .gif .png .css .js",
    "acl host_api hdr(host) -i api.example.com",
    "acl blocked path_beg /admin",
    "acl from_local src 127.0.0.0/8",
    "http-request deny if blocked",
    "http-request redirect prefix https://example.com code 301 if { path_beg /old/ }",
    "http-request return status 200 content-type text/plain string pong if { path /ping }",
    "http-request set-header X-Routed yes",
    "http-request add-header X-Local 1 if from_local",
    "http-request del-header X-Secret",
    "http-request set-path /v2%[path] if { path_beg /v1/ } host_api",
    "use_backend static if url_static",
    "use_backend api if host_api",
]
BACKENDS = [
    "server d1 127.0.0.1:{dynamic}",  # backend "be" (the default): the dynamic server
    "",
    "backend static",
    "    server st1 127.0.0.1:{static}",
    "",
    "backend api",
    "    http-response set-header X-Api yes",
    "    http-response del-header X-Drop",
    "    server a1 127.0.0.1:{api}",
]

# path, extra request headers → status, backend that got it ("" = none), request headers
# the backend must see (None = absent), response headers the client must see
CASES = [
    ("/static/app.js", [], 200, "static", {"X-Routed": "yes", "X-Local": "1"}, {}),
    ("/index.html", [], 200, "static", {}, {}),
    ("/IMG/PHOTO.JPG", [], 200, "static", {}, {}),  # path_end -i: the seed's *.JPG
    ("/img/photo.jpg", [], 200, "static", {}, {}),
    ("/image/x", [], 200, "static", {}, {}),
    ("/IMAGE/x", [], 200, "static", {}, {}),  # path_beg -i
    ("/index.php", [], 200, "dynamic", {"X-Routed": "yes"}, {}),
    ("/index.php?f=a.css", [], 200, "dynamic", {}, {}),  # path stops at '?'
    ("/", [("X-Secret", "s3cr3t")], 200, "dynamic", {"X-Secret": None}, {}),
    ("/", [("Host", "API.example.com")], 200, "api", {}, {"X-Api": "yes"}),
    ("/x?hdr=X-Drop:%201", [("Host", "api.example.com")], 200, "api", {}, {"X-Drop": None}),
    ("/admin/panel", [], 403, "", {}, {}),
    ("/old/page", [], 301, "", {}, {"Location": "https://example.com/old/page"}),
    ("/ping", [], 200, "", {}, {"Content-Type": "text/plain"}),
]


@pytest.fixture
def switching(start_proxy, http_backend):  # type: ignore[no-untyped-def]
    dynamic, static, api = http_backend("dynamic"), http_backend("static"), http_backend("api")
    ports = {"dynamic": dynamic.port, "static": static.port, "api": api.port}
    backend_lines = [line.format(**ports) for line in BACKENDS]
    proxy = start_proxy([], frontend_lines=FRONTEND, backend_lines=backend_lines)
    return proxy, {"dynamic": dynamic, "static": static, "api": api}


@pytest.mark.parametrize(("path", "headers", "status", "where", "seen", "answered"), CASES)
def test_routing_and_rules(switching, path, headers, status, where, seen, answered) -> None:  # type: ignore[no-untyped-def]
    proxy, backends = switching
    sent = headers if any(k.lower() == "host" for k, _ in headers) else [("Host", "www"), *headers]
    r = get(proxy.port, path, sent)
    assert r.status == status, (proxy.kind, r.status, r.body[:200])
    got = {name: b.requests() for name, b in backends.items()}
    if not where:
        assert all(not reqs for reqs in got.values()), got  # nothing reached a server
    else:
        assert [name for name, reqs in got.items() if reqs] == [where]
        (ev,) = got[where]
        for name, value in seen.items():
            values = header_values(ev, name)
            assert values == ([] if value is None else [value]), (name, ev["headers"])
    for name, value in answered.items():
        assert r.header(name) == value, (name, r.headers)


def test_set_path_rewrites_what_the_server_sees(switching) -> None:  # type: ignore[no-untyped-def]
    proxy, backends = switching
    r = get(proxy.port, "/v1/users?id=3", [("Host", "api.example.com")])
    assert r.status == 200
    (ev,) = backends["api"].requests()
    assert ev["target"] == "/v2/v1/users?id=3"
