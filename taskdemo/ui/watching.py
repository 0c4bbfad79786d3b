"""The header's "4 watching": every open board tab and `/ws` listener, live (presence.py), and the short name of
this tab ("tab 7f3") by which its actions are told apart from another's."""
from __future__ import annotations

from nicegui import Client, ui

from ..presence import Presence, Viewers


class Watching:
    def __init__(self, presence: Presence) -> None:
        self._presence = presence
        self.tab = presence.name_tab()
        client = ui.context.client
        with ui.row().classes('watching items-center gap-1 no-wrap text-sm') as self.root:
            ui.icon('visibility', size='xs').props('aria-hidden=true')
            self.count = ui.label().mark('viewers')
            self.detail = ui.label().classes('sr-only').mark('viewers-detail')  # what the tooltip says, read out
            ui.label(f'· tab {self.tab}').classes('watching-tab').props('aria-hidden=true')
        presence.changed.subscribe(self._show)  # in the page's context: unsubscribed with it
        client.on_connect(lambda: presence.connected(self.tab))
        client.on_disconnect(self._disconnected)
        client.on_delete(lambda: presence.gone(self.tab))
        self._show(presence.viewers)

    def _disconnected(self, client: Client) -> None:
        if not client.has_socket_connection:  # NiceGUI calls this for each socket, also one replaced by a reconnect
            self._presence.disconnected(self.tab)

    def _show(self, viewers: Viewers) -> None:
        self.count.text = f'{viewers.total:,} watching'
        details = viewers.words().partition(': ')[2]
        self.detail.text = f': {details}; you are tab {self.tab}'
        self.root.props(f'title="{viewers.words()}; you are tab {self.tab}"')
