"""Who is watching (issue 17, presence): the open pages and the `/ws` listeners, counted live; every page's header
says how many, and `/status` says it split by kind."""
from __future__ import annotations

import asyncio

import pytest
from nicegui.testing import User

from taskdemo.presence import Presence, Viewers
from taskdemo.stream import Broadcaster

from .test_app import app_user  # noqa: F401  (a fixture: the whole app, as `taskdemo.app.run` serves it)


def test_a_tab_counts_while_connected_and_its_name_is_its_own_until_it_is_gone():
    presence = Presence()
    seen: list[Viewers] = []
    presence.changed.subscribe(seen.append)
    names = {presence.name_tab() for _ in range(200)}
    assert len(names) == 200 and all(len(name) == 3 for name in names), 'short, and no two alike'
    first, second = sorted(names)[:2]
    presence.connected(first)
    presence.connected(first)  # a second connect of the same tab (a reconnect) is still one tab
    presence.connected(second)
    assert presence.viewers == Viewers(pages=2, streams=0) and len(seen) == 2
    presence.disconnected(first)  # a network drop: not watching, but the name stays its own
    assert presence.viewers.pages == 1 and first not in {presence.name_tab() for _ in range(3_000)}
    presence.gone(second)
    assert presence.viewers.pages == 0 and [viewers.pages for viewers in seen] == [1, 2, 1, 0]


async def test_api_streams_count_as_they_come_and_go(sim):
    broadcaster = Broadcaster(sim, interval=60)
    presence = Presence(lambda: len(broadcaster.subscribers))
    broadcaster.on_count = presence.streams_changed
    seen: list[Viewers] = []
    presence.changed.subscribe(seen.append)
    one, _ = broadcaster.subscribe('full')
    two, _ = broadcaster.subscribe('changes')
    presence.connected(presence.name_tab())
    assert presence.viewers.as_dict() == {'pages': 1, 'streams': 2, 'total': 3}
    broadcaster.unsubscribe(one)
    broadcaster.unsubscribe(two)
    assert [viewers.total for viewers in seen] == [1, 2, 3, 2, 1]


def test_with_every_short_name_taken_a_tab_gets_a_longer_one():
    presence = Presence()
    names = [presence.name_tab() for _ in range(4_096 + 10)]  # more tabs than three hex digits can name
    assert len(set(names)) == len(names) and {len(name) for name in names} >= {3, 4}


@pytest.mark.parametrize(('pages', 'streams', 'words'), [
    (1, 0, '1 watching: 1 board tab'),
    (3, 1, '4 watching: 3 board tabs, 1 API stream'),
    (0, 2, '2 watching: 0 board tabs, 2 API streams'),
])
def test_the_count_in_words(pages, streams, words):
    assert Viewers(pages, streams).words() == words


async def test_the_header_counts_every_open_tab_live_and_names_this_one(user: User, another_user):
    await user.open('/')
    await user.should_see('1 watching', marker='viewers')
    detail = user.find(marker='viewers-detail').elements.pop()  # for a screen reader, after the count
    assert detail.text.startswith(': 1 board tab; you are tab ')
    second = another_user()
    await second.open('/')
    await second.should_see('2 watching', marker='viewers')
    await user.should_see('2 watching', marker='viewers')  # the first tab hears of the second at once
    names = {u.find(marker='viewers-detail').elements.pop().text.rsplit(' ', 1)[1] for u in (user, second)}
    assert len(names) == 2, 'each tab has a name of its own'
    second.client.handle_disconnect(next(iter(second.client._socket_to_document_id)))  # noqa: SLF001 (a drop)
    await user.should_see('1 watching', marker='viewers')


async def test_status_says_who_is_watching_by_kind(app_user: User):  # noqa: F811
    body = (await app_user.http_client.get('/status')).json()
    assert body['viewers'] == {'pages': 0, 'streams': 0, 'total': 0}, 'a page only fetched is nobody'
    await app_user.open('/')
    await asyncio.sleep(0)
    body = (await app_user.http_client.get('/status')).json()
    assert body['viewers'] == {'pages': 1, 'streams': 0, 'total': 1} and body['streams'] == 0
