"""What a page does with its replay bar: scrub, step, play, go back to live, open a link to a moment, share one.

A page is LIVE (`at` is None) until someone moves the bar back: then it replays the run the bar shows, at `at`
seconds since that run started, on a replayed board of its own (replay_board.py) in place of the live one, which goes
on following the live run out of sight. Back at the live end of the live run (by the slider, a key, a step, or
playing catching up), or with Live, the page is live again.

While live, the page does nothing per tick: the slider's end follows the run at most once a second of its clock, and
the marks every `MARKS_EVERY_S` of it and at its end (from a replay of the live run made then, at once, and
shared by every page through `Replays.live`: at 10,000 tasks some 20 ms every 10 s, however many pages). To scrub,
a replay is made (or read from the history, `Replays`) once per run, again only for a live run asked for later than
its replay reaches. Redraws are coalesced: a move that comes while one
is being drawn replaces any waiting one, and the latest is drawn next; the slider sends at most one value per
`replay_bar.SCRUB_S` while dragged, and one more where it is let go.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable

from nicegui import events, ui

from ..model import Change
from ..replay import Replay
from ..replays import NoRecording, Replays
from ..view import RunView
from .replay_bar import ReplayBanner, ReplayBar
from .replay_board import ReplayBoard
from .replay_text import at_text, moment_words, number, seconds

FRAME_S = 0.2  # playing: five frames a second
MARKS_EVERY_S = 10.0  # a live run's marks are made again this often (seconds of the run), while a page shows it live
EPSILON = 1e-6
NUDGES = {'ArrowLeft': -1.0, 'ArrowDown': -1.0, 'ArrowRight': 1.0, 'ArrowUp': 1.0, 'PageDown': -10.0, 'PageUp': 10.0}


class ReplayControl:
    def __init__(self, view: RunView, replays: Replays, *, top: ui.element, header: ui.element,
                 slots: tuple[ui.element, ui.element], on_mode: Callable[[bool], None], base_url: str = '') -> None:
        """The banner goes at the end of `top` (the header's first row), the bar at the end of `header`; the
        replayed board's parts into `slots` (one in the header, one in the body; made when first needed).
        `on_mode(True)` shows them instead of the live ones; `base_url` (the page's origin and path prefix) starts a
        shared link."""
        self._view = view
        self._replays = replays
        self._on_mode = on_mode
        self._base_url = base_url
        self._slots = slots
        self._replaying = False  # the replayed board is shown
        self.run_id: int | None = None  # the run the bar shows
        self.at: float | None = None  # the moment shown; None: live
        self.replay: Replay | None = None  # of `run_id`, when one was made
        self.board: ReplayBoard | None = None
        self.playing = False
        self.speed = 1
        self._timer: ui.timer | None = None
        self._target: float | None = None  # the moment last asked for (drawn, or being drawn)
        self._wanted: tuple[int, float, bool] | None = None  # the next to draw: run, moment, moved by the slider
        self._busy = False
        self._epoch = 0  # counts Live and Open: a replay that arrives after one of them is not drawn
        self._announce = False  # say the moment once the draw under way is done
        self._marked: Replay | None = None  # the replay whose marks the bar shows
        self._second = -1  # the whole second of the live run the bar's end was last set to
        self._times: tuple[Replay | None, list[float]] = (None, [])
        with top:
            self.banner = ReplayBanner(on_share=self.share, on_live=self.go_live)
        with header:
            self.bar = ReplayBar(on_slide=self._slid, on_release=self._released, on_key=self._key, on_step=self.step,
                                 on_play=self.toggle_play, on_speed=self.set_speed)
        self._show_live()

    # ---- what the page and the bar call -----------------------------------------------------------------------

    def follow(self, change: Change) -> None:
        """Every change of the live run (`Board.on_change`): cheap unless a second of the run went by."""
        live = self._view.run
        if self.at is None:
            if live is None or live.id != self.run_id or change.structure or change.run or \
                    int(live.elapsed_s) != self._second:
                self._show_live()
        elif live is not None and live.id == self.run_id and (int(live.elapsed_s) != self._second or change.run):
            self._second = int(live.elapsed_s)
            self._show_bar(move_slider=False)  # replaying the live run: its end moves on
        elif change.run or change.structure:
            self._show_bar(move_slider=False)  # replaying another run: Live names the live one

    async def open(self, run_id: int, at: float | None = None) -> None:
        """Replay run `run_id` at `at` seconds (its end when None): a link, or History's Replay this run."""
        self.pause()
        self._epoch += 1
        self._wanted = None
        try:
            replay = await self._replays.replay(run_id, up_to=at)
        except NoRecording as error:
            self._notify(f'{error} Showing the live board.')
            return
        self.run_id, self.replay = run_id, replay
        end = self.end()
        if at is not None and at > end + EPSILON:
            going = self._is_live(run_id) and self._view.active
            self._notify(f'Run {run_id} {"has run for" if going else "lasted"} {seconds(end)}: '
                         f'showing it at {seconds(end)}, not {seconds(at)}.')
        await self._request(run_id, end if at is None else min(max(at, 0.0), end))

    async def step(self, direction: int) -> None:
        """To the next (1) or previous (-1) moment something happened; past the last one, the end."""
        if self.run_id is None:
            return
        run_id, end = self.run_id, self.end()
        position = self._position()
        replay = await self._replay_for(run_id, end)
        if replay is None:
            return
        times = self._event_times(replay)
        if direction > 0:
            after = bisect.bisect_right(times, position + EPSILON)
            target = times[after] if after < len(times) else end
        else:
            before = bisect.bisect_left(times, position - EPSILON) - 1
            target = times[before] if before >= 0 else 0.0
        await self._move(target)

    async def toggle_play(self) -> None:
        if self.playing:
            self.pause()
            return
        if self.run_id is None:
            return
        self.playing = True
        with self.bar.root:
            self._timer = ui.timer(FRAME_S, self._frame, immediate=False).mark('replay-timer')
        self.bar.show_playing(True)
        if self.at is None or self._position() >= self.end() - EPSILON:
            await self._request(self.run_id, 0.0)  # at the end: play it again from the start

    async def advance(self, real_s: float) -> None:
        """One frame of playing: the moment moves on by `real_s` seconds at the speed chosen (what the timer calls
        every `FRAME_S`). At the end it stops; on the live run it is live again once it catches up."""
        if not self.playing or self.run_id is None:
            return
        t, end = self._position() + self.speed * real_s, self.end()
        if t < end - EPSILON:
            await self._request(self.run_id, t)
        elif self._is_live(self.run_id):
            self.go_live()
        else:
            await self._request(self.run_id, end)
            self.pause()  # last: from the timer's own call, it ends the call

    def pause(self) -> None:
        if self._timer is not None:
            self._timer.delete()  # gone at once (a cancelled timer would wait out its interval first)
            self._timer = None
        if self.playing:
            self.playing = False
            self.bar.show_playing(False)

    def set_speed(self, speed: int | None) -> None:
        self.speed = speed or 1

    def go_live(self) -> None:
        self.pause()
        self._epoch += 1
        self._wanted = self._target = None
        if self.at is not None:
            self.at = None
            self._replaying = False
            self.banner.root.visible = False
            self._on_mode(False)
            self._show_live()
            self._say(f'Live: {moment_words(self._view)}' if self._view.run else 'Live: no run yet')
        else:
            self._show_live()

    def share(self) -> None:
        """Copy a link to the moment shown (`/runs/12?at=95.5`, which opens it), and show it."""
        if self.at is None or self.run_id is None:
            return
        link = f'{self._base_url}runs/{self.run_id}?at={at_text(self.at)}'
        ui.clipboard.write(link)
        self.banner.show_link(link)

    def end(self) -> float:
        """How far the run the bar shows goes: now, for the live run; its end, for another."""
        live = self._view.run
        if live is not None and live.id == self.run_id:
            return live.elapsed_s
        return self.replay.end if self.replay is not None and self.replay.run.id == self.run_id else 0.0

    # ---- the bar's events -------------------------------------------------------------------------------------

    async def _slid(self, event: events.GenericEventArguments) -> None:
        if (t := number(event.args)) is not None:
            await self._move(round(t, 1), from_slider=True)

    async def _released(self, event: events.GenericEventArguments) -> None:
        await self._slid(event)
        self._announce_when_drawn()

    async def _key(self, event: events.GenericEventArguments) -> None:
        key = event.args
        if key == 'settled':
            self._announce_when_drawn()
        elif self.run_id is not None and (key in NUDGES or key in {'Home', 'End'}):
            end = self.end()
            await self._move(0.0 if key == 'Home' else end if key == 'End' else self._position() + NUDGES[key])

    async def _frame(self) -> None:
        await self.advance(FRAME_S)

    # ---- moving and drawing -----------------------------------------------------------------------------------

    async def _move(self, t: float, *, from_slider: bool = False) -> None:
        """Show the moment `t` of the run the bar shows; at the live end of the live run, the live board."""
        if self.run_id is None:
            return
        end = self.end()
        t = min(max(t, 0.0), end)
        if self._is_live(self.run_id) and t >= end - EPSILON and not self.playing:
            self.go_live()
            return
        await self._request(self.run_id, t, from_slider)

    async def _request(self, run_id: int, t: float, from_slider: bool = False) -> None:
        self._wanted, self._target = (run_id, t, from_slider), t
        if self._busy:
            return  # the draw under way takes this one next
        self._busy = True
        try:
            while self._wanted is not None:
                run_id, t, from_slider = self._wanted
                self._wanted, epoch = None, self._epoch
                replay = await self._replay_for(run_id, t)
                if replay is not None and epoch == self._epoch:
                    self._draw(replay, t, move_slider=not from_slider)
        finally:
            self._busy = False
        if self._announce:
            self._announce_when_drawn()

    async def _replay_for(self, run_id: int, t: float) -> Replay | None:
        """A replay of `run_id` that reaches `t`: the one at hand, or one made (or read) now."""
        replay = self.replay
        if replay is not None and replay.run.id == run_id and (t <= replay.end + EPSILON or
                                                               not replay.recording.live):
            return replay
        try:
            replay = await self._replays.replay(run_id, up_to=t)
        except NoRecording as error:
            self._notify(f'{error} Showing the live board.')
            self.go_live()
            return None
        if run_id == self.run_id:
            self.replay = replay
        return replay

    def _draw(self, replay: Replay, t: float, *, move_slider: bool) -> None:
        moment = replay.at(t)
        self.replay, self.run_id, self.at = replay, replay.run.id, t
        if self.board is None:
            self.board = ReplayBoard(moment, header=self._slots[0], body=self._slots[1])
        else:
            self.board.show(moment)
        if not self._replaying:
            self._replaying = True
            self.banner.root.visible = True
            self._on_mode(True)
        if self._marked is not replay:
            self._draw_marks(replay)
        if self.banner.link.visible:
            self.banner.show_link('')  # a link to the moment shown before
        self._show_bar(move_slider=move_slider)

    def _show_bar(self, *, move_slider: bool) -> None:
        assert self.at is not None and self.board is not None
        moment, end = self.board.shown.moment, self.end()
        self.bar.show_idle(False)
        self.bar.show(at=self.at, end=end, readout=f'{seconds(self.at)} of {seconds(end)}', move_slider=move_slider,
                      playing=self.playing, replaying=True)
        if self._marked is not None:
            self.bar.scale_marks(self._marked.end, end)
        live = self._view.run
        live_label = 'Live' if live is None or live.id == self.run_id else f'Live: run {live.id}'
        self.banner.show(f'Replaying run {moment.run.id} at {seconds(self.at)}', '' if moment.exact else moment.note,
                         live_label)

    def _show_live(self) -> None:
        """The bar of a live page: the live run, its slider at the end, which is now."""
        live = self._view.run
        self.bar.show_idle(live is None)
        if live is None:
            self.run_id = None
            return
        if live.id != self.run_id:
            self.run_id, self.replay, self._marked = live.id, None, None
            self.bar.show_marks([], 0.0, 0.0)
        end = live.elapsed_s
        self._second = int(end)
        readout = f'{seconds(end)} · ended' if live.finished else f'{end:,.0f} s · live'
        self.bar.show(at=end, end=end, readout=readout, move_slider=True, playing=False, replaying=False)
        if self._marked is not None:
            self.bar.scale_marks(self._marked.end, end)
        self._refresh_marks(end, finished=live.finished)

    def _refresh_marks(self, end: float, *, finished: bool) -> None:
        """The live run's marks, made again when the run has crossed another `MARKS_EVERY_S` or has ended: from a
        replay of the live run made here and now, at once (a task that drew them later would draw them on a page
        that may have moved on)."""
        span = self._marked.end if self._marked is not None else -1.0
        if (self._marked is None or math.floor(end / MARKS_EVERY_S) != math.floor(span / MARKS_EVERY_S) or
                (finished and span < end - EPSILON)):
            # every page crosses the same boundary at the same tick: the first makes the replay, the rest share it
            self.replay = self._replays.live(end if finished else math.floor(end / MARKS_EVERY_S) * MARKS_EVERY_S)
            if self.replay is not self._marked:
                self._draw_marks(self.replay)

    def _draw_marks(self, replay: Replay) -> None:
        """Once per replay (not per frame): a run's marks as one SVG."""
        self._marked = replay
        self.bar.show_marks(replay.markers(), replay.end, self.end())

    def _event_times(self, replay: Replay) -> list[float]:
        if self._times[0] is not replay:
            self._times = (replay, replay.event_times())
        return self._times[1]

    def _position(self) -> float:
        return self._target if self._target is not None else self.end()

    def _is_live(self, run_id: int) -> bool:
        live = self._view.run
        return live is not None and live.id == run_id

    # ---- words ------------------------------------------------------------------------------------------------

    def _announce_when_drawn(self) -> None:
        """Say the moment shown once scrubbing stopped: now, or once the draw under way is done."""
        if self._busy:
            self._announce = True
            return
        self._announce = False
        if self.at is not None and self.board is not None:
            self._say(moment_words(self.board.shown))  # type: ignore[arg-type]
        elif self._view.run is not None:
            self._say(f'Live: {moment_words(self._view)}')

    def _say(self, text: str) -> None:
        self.bar.announcer.text = text

    def _notify(self, message: str) -> None:
        with self.bar.root:
            ui.notify(message, type='warning')
