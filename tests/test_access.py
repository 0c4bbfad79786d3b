"""Who may control runs: the Origin rule, case by case (how the app applies it: tests/robust/test_cross_site.py)."""
from __future__ import annotations

import pytest

from taskdemo.access import cross_site_refusal, parse_origin

BOARD = '127.0.0.1:8080'
ALLOWED = ('http://localhost:3000',)

GOES_ON = {  # (origin, referer, host, allowed origins)
    'neither header: curl, a script': (None, None, BOARD, ALLOWED),
    'the board itself': ('http://127.0.0.1:8080', None, BOARD, ALLOWED),
    'the board, default port written out': ('http://localhost:80', None, 'localhost', ALLOWED),
    'the board, default port in Host only': ('http://localhost', None, 'localhost:80', ALLOWED),
    'the board behind a TLS proxy that keeps Host': ('https://board.example.org', None, 'board.example.org', ()),
    'the board, host names in another case': ('http://LOCALHOST:8080', None, 'localhost:8080', ()),
    'the board on IPv6': ('http://[::1]:8080', None, '[::1]:8080', ()),
    'an allowed origin': ('http://localhost:3000', None, BOARD, ALLOWED),
    'an allowed origin, spelled otherwise': ('HTTP://LocalHost:3000', None, BOARD, ('http://localhost:3000/',)),
    'every origin allowed with *': ('http://evil.test', None, BOARD, ('*',)),
    'a Referer of the board, with a path': (None, 'http://127.0.0.1:8080/docs?x=1#y', BOARD, ALLOWED),
    'a Referer of an allowed origin': (None, 'http://localhost:3000/page', BOARD, ALLOWED),
    'Origin wins over Referer': ('http://127.0.0.1:8080', 'http://evil.test/', BOARD, ALLOWED),
}
REFUSED = {
    'another site': ('http://evil.test', None, BOARD, ALLOWED),
    'another port of this machine': ('http://127.0.0.1:8081', None, BOARD, ALLOWED),
    'another scheme\'s default port': ('https://127.0.0.1', None, '127.0.0.1:80', ALLOWED),
    'the board\'s host name as a prefix': ('http://127.0.0.1.evil.test:8080', None, BOARD, ALLOWED),
    'the board as a user name': ('http://127.0.0.1:8080@evil.test', None, BOARD, ALLOWED),
    'Origin: null': ('null', None, BOARD, ALLOWED),
    'an empty Origin': ('', None, BOARD, ALLOWED),
    'not http(s)': ('file://', None, BOARD, ALLOWED),
    'Origin of another site wins over a Referer of the board': ('http://evil.test', f'http://{BOARD}/', BOARD, ()),
    'a Referer of another site': (None, 'http://evil.test/page?board=1', BOARD, ALLOWED),
    'a Referer that is not a URL': (None, 'not a url', BOARD, ALLOWED),
    'a Referer with a broken port': (None, 'http://127.0.0.1:80x/', BOARD, ALLOWED),
    'no Host header, not allowed': ('http://127.0.0.1:8080', None, None, ALLOWED),
    'no origin is allowed': ('http://localhost:3000', None, BOARD, ()),
}


@pytest.mark.parametrize('case', GOES_ON)
def test_a_request_from_the_board_an_allowed_origin_or_no_page_goes_on(case: str) -> None:
    origin, referer, host, allowed = GOES_ON[case]
    assert cross_site_refusal(origin=origin, referer=referer, host=host, allowed_origins=allowed) is None


@pytest.mark.parametrize('case', REFUSED)
def test_a_request_from_any_other_page_is_refused(case: str) -> None:
    origin, referer, host, allowed = REFUSED[case]
    detail = cross_site_refusal(origin=origin, referer=referer, host=host, allowed_origins=allowed)
    assert detail is not None and detail.startswith('Cross-site request refused: ')
    header, value = ('origin', origin) if origin is not None else ('referer', referer)
    assert f'{header} {value} is neither this board ({host or "no Host header"})' in detail
    assert f'nor an allowed --cors-origin ({", ".join(allowed) or "none is set"})' in detail


def test_the_refusal_says_what_came_and_what_is_allowed() -> None:
    detail = cross_site_refusal(origin='http://evil.test', referer=None, host=BOARD,
                                allowed_origins=('http://localhost:3000', 'https://ops.example.org'))
    assert detail == ('Cross-site request refused: origin http://evil.test is neither this board (127.0.0.1:8080) '
                      'nor an allowed --cors-origin (http://localhost:3000, https://ops.example.org).')
    long = cross_site_refusal(origin='http://' + 'a' * 5000, referer=None, host=BOARD, allowed_origins=())
    assert long is not None and len(long) < 400  # a huge header is not echoed whole


def test_an_origin_is_its_scheme_host_and_port() -> None:
    assert parse_origin('https://Example.org/path?q#f') == ('https', 'example.org', 443)
    assert parse_origin('http://example.org:8080') == ('http', 'example.org', 8080)
    assert parse_origin('http://[::1]:3000/') == ('http', '::1', 3000)
    for text in ('null', '', 'example.org', '//example.org', 'ftp://example.org', 'http://example.org:99999',
                 'http://[::1', 'javascript:alert(1)'):
        assert parse_origin(text) is None, text
