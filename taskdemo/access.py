"""Who may control runs: everyone, or, when a control token is set, whoever presents it; and never another web site.

A browser sends a request wherever a page tells it to, even with `mode: 'no-cors'`: CORS hides the answer from the
page, not the effect on the board. So a request that changes something is refused when the browser says it comes
from a page of another origin (`cross_site_refusal`). The browser says so in `Origin` (every POST from a page carries
it), or, from older browsers, only in `Referer`. A request with neither header is no page's (curl, a script): it goes
on, and the control token, when one is set, decides.
"""
from __future__ import annotations

import hmac
from collections.abc import Collection
from typing import NamedTuple
from urllib.parse import urlsplit

DEFAULT_PORTS = {'http': 80, 'https': 443}
ANY_ORIGIN = '*'  # `--cors-origin '*'`: every site may call the API, and so drive the board


def token_matches(given: str | None, expected: str) -> bool:
    """Compare in constant time, so the answer's timing tells nothing about the token."""
    return hmac.compare_digest((given or '').encode(), expected.encode())


class Origin(NamedTuple):
    """A web origin with its port spelled out: `http://localhost` and `http://localhost:80` are one origin."""

    scheme: str
    host: str
    port: int


def cross_site_refusal(*, origin: str | None, referer: str | None, host: str | None,
                       allowed_origins: Collection[str]) -> str | None:
    """Why a request that changes something must be refused as cross-site, or None when it may go on.

    It goes on without `Origin` and `Referer`; from this board's own origin (the host and port the request's `Host`
    header names; the scheme is not compared, so the board behind a TLS proxy that keeps `Host` is still its own
    origin); or from an allowed origin. `Origin` wins over `Referer`; a Referer counts by its origin, not its path.
    Refused: any other origin, `Origin: null` (a sandboxed frame, a file: page, a redirect across sites) and a header
    that names no http(s) origin at all.
    """
    header, claimed = ('origin', origin) if origin is not None else ('referer', referer)
    if claimed is None or ANY_ORIGIN in allowed_origins:
        return None
    source = parse_origin(claimed)
    if source is not None and (source in {parse_origin(allowed) for allowed in allowed_origins}
                               or _is_host(source, host)):
        return None
    shown = claimed if len(claimed) <= 200 else claimed[:200] + '...'
    allowed = ', '.join(allowed_origins) or 'none is set'
    return (f'Cross-site request refused: {header} {shown} is neither this board ({host or "no Host header"}) '
            f'nor an allowed --cors-origin ({allowed}).')


def parse_origin(text: str) -> Origin | None:
    """The origin of an http(s) URL (its path, query and user name dropped), or None when `text` names none."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range; a broken IPv6 address
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return Origin(scheme, parts.hostname.lower(), DEFAULT_PORTS[scheme] if port is None else port)


def _is_host(source: Origin, host: str | None) -> bool:
    """Is `source` the host and port that the `Host` header names? Without a port there, the default port of the
    source's own scheme."""
    return bool(host) and parse_origin(f'{source.scheme}://{host}') == source
