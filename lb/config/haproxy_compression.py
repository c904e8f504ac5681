"""The ``compression`` keyword of a proxy: ``algo``, ``type``, ``offload`` (HAProxy 2.6).

Lines add up, as in HAProxy: ``compression algo gzip`` then ``compression algo br`` is
``algo gzip br``. A proxy starts from its defaults section's algorithms and types (never its
``offload``, which HAProxy ignores in a defaults section with a warning). The words HAProxy
2.8 added for request compression are not supported yet; ``algo-res`` and ``type-res``, its
new spellings of ``algo`` and ``type``, are taken as those.

Handlers take the same arguments as the others of ``haproxy``; like ``haproxy_stats`` this
module does not import the parser (which imports it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast, get_args

from lb.config.model import Compression, CompressionAlgo

if TYPE_CHECKING:
    from lb.config.haproxy import HaproxyParser, ProxyDraft
    from lb.config.model import Source

ALGOS: tuple[str, ...] = get_args(CompressionAlgo)
_SPELLINGS = {"algo": "algo", "algo-res": "algo", "type": "type", "type-res": "type"}
# HAProxy 2.8+ (request compression, direction) and 3.2+ (minimum sizes)
_LATER = ("algo-req", "type-req", "direction", "minsize-req", "minsize-res")


def inherit(base: Compression | None) -> Compression | None:
    """What a proxy takes from its defaults section: algorithms and types, not offload."""
    if base is None:
        return None
    return Compression(algos=list(base.algos), types=list(base.types))


def compression(
    parser: HaproxyParser, draft: ProxyDraft, prefix: str, args: list[str], src: Source
) -> None:
    word = args[0] if args else ""
    if word in _LATER:
        parser.report.not_yet(src, f"compression {word}", "request compression is HAProxy 2.8+")
        return
    what = _SPELLINGS.get(word)
    if word == "offload":
        if len(args) > 1:
            parser.report.alert(src, f"'compression offload' takes no argument, got '{args[1]}'")
            return
        if draft.section == "defaults":
            parser.report.warning(src, "'compression offload' ignored in 'defaults' section")
            return
        _settings(draft).offload = True
        return
    if what is None:
        parser.report.alert(src, "'compression' expects 'algo', 'type' or 'offload'")
        return
    values = args[1:]
    if not values:
        expected = "<algorithm>" if what == "algo" else "<mime type>"
        parser.report.alert(src, f"'compression {word}' expects {expected}")
        return
    if what == "algo":
        unknown = next((a for a in values if a not in ALGOS), None)
        if unknown is not None:
            parser.report.alert(
                src,
                f"'compression {word}': '{unknown}' is not a supported algorithm"
                f" (one of {', '.join(ALGOS)})",
            )
            return
        _settings(draft).algos.extend(cast(list[CompressionAlgo], values))
    else:
        _settings(draft).types.extend(v.lower() for v in values)


def _settings(draft: ProxyDraft) -> Compression:
    http = draft.proxy.http
    if http.compression is None:
        http.compression = Compression()
    return http.compression
