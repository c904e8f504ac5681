"""``%[expr]`` in a log-format: the few sample fetches lb knows without the ACL engine.

Anything else (another fetch, a converter after a comma) is refused when the format is
compiled, naming the expression, rather than printing something wrong at run time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lb.accesslog.escape import encode_header, encode_uri
from lb.accesslog.record import LogRecord
from lb.accesslog.variables import Builder, Context, Flags, Renderer, string_renderer

_CAPTURE = re.compile(r"capture\.(req|res)\.hdr\((\d+)\)")

_IPS: dict[str, Callable[[LogRecord], str]] = {
    "src": lambda r: r.client_ip,
    "dst": lambda r: r.frontend_ip,
}
_PORTS: dict[str, Callable[[LogRecord], int]] = {
    "src_port": lambda r: r.client_port,
    "dst_port": lambda r: r.frontend_port,
}
_NAMES: dict[str, Callable[[LogRecord], str | None]] = {
    "fe_name": lambda r: r.frontend_name,
    "be_name": lambda r: r.backend_name or r.frontend_name,
    "srv_name": lambda r: None if r.server_name.startswith("<") else r.server_name,
    "capture.req.method": lambda r: None if r.method is None else encode_uri(r.method),
    "capture.req.uri": lambda r: None if r.method is None else encode_uri(r.uri),
    "capture.req.ver": lambda r: None if r.method is None else encode_uri(r.version),
    "unique-id": lambda r: r.unique_id,
}

SUPPORTED = (*_IPS, *_PORTS, *_NAMES, "capture.req.hdr(N)", "capture.res.hdr(N)")


class SampleError(ValueError):
    pass


def _capture(side: str, index: int) -> Callable[[LogRecord], str | None]:
    def get(rec: LogRecord) -> str | None:
        caps = rec.req_captures if side == "req" else rec.res_captures
        if caps is None or index >= len(caps):
            return None
        v = caps[index]
        return None if v is None else encode_header(v)

    return get


def sample_builder(expr: str) -> Builder:
    """The builder for ``%[expr]``, or SampleError saying it is not supported yet."""
    text = expr.strip()
    if text in _IPS:
        ip = _IPS[text]
        return lambda f, c: string_renderer(lambda r: None if ip(r) in ("", "-") else ip(r), f)
    if text in _PORTS:
        port = _PORTS[text]

        def build_port(f: Flags, c: Context) -> Renderer:
            return lambda r: "-" if (p := port(r)) < 0 else str(p)

        return build_port
    if text in _NAMES:
        name = _NAMES[text]
        return lambda f, c: string_renderer(name, f)
    m = _CAPTURE.fullmatch(text)
    if m:
        get = _capture(m.group(1), int(m.group(2)))
        return lambda f, c: string_renderer(get, f)
    raise SampleError(
        f"sample expression '%[{expr}]' is not supported yet in log-format "
        f"(supported: {', '.join(SUPPORTED)}; no converters)"
    )
