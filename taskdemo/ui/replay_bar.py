"""The replay bar under the progress bar, and the banner a replaying page shows in place of the run controls.

The bar: play/pause, a step back and forward by one event, a slider over the run's time with the run's marks under
it (failures, cancels, retries, restarts, stalls), the speed, and where the slider stands in words. The banner: which
run and moment the page replays, why a moment is not exact (when it is not), Share and Live.

Both only draw and report; what a move does is replay_control.py's. The slider's keys are taken before Quasar's
slider sees them (a capture listener), so that an arrow moves 1 s and PageUp/PageDown 10 s whatever the slider's
step, and Home/End reach the ends; once the keys stop for a moment, the bar says so ('settled'), and the moment is
announced once rather than at every key.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from nicegui import ui

SPEEDS = {1: '1x', 10: '10x', 60: '60x'}  # run time per real second
SCRUB_S = 0.12  # while dragging, the slider tells the server at most this often (and once more where it stops)
SETTLED_MS = 600  # keys that stop for this long: the moment is announced
BINS = 200  # the marks are counted in this many slots over the slider's width
MARK_KINDS = ('failure', 'stall', 'cancel', 'retry', 'interrupted', 'resume')
MARK_WORDS = {'failure': ('failure', 'red'), 'stall': ('stall', 'amber'), 'cancel': ('cancel', 'grey'),
              'retry': ('retry', 'blue'), 'interrupted': ('stop', 'purple'), 'resume': ('resume', 'purple')}
MOVES = "['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End']"
KEYS = f'''(event) => {{
  if (!{MOVES}.includes(event.key) || event.altKey || event.ctrlKey || event.metaKey
      || !event.target.closest('.q-slider')) return;
  event.preventDefault();
  event.stopPropagation();
  emit(event.key);
  const host = event.currentTarget;
  clearTimeout(host.replaySettle);
  host.replaySettle = setTimeout(() => emit('settled'), {SETTLED_MS});
}}'''
# ... and their release: Quasar's slider would report its own (old) value as where the user let go
KEYS_UP = f'''(event) => {{ if ({MOVES}.includes(event.key)) event.stopPropagation(); }}'''
Handler = Callable[..., Any]


class ReplayBar:
    def __init__(self, *, on_slide: Handler, on_release: Handler, on_key: Handler, on_step: Handler,
                 on_play: Handler, on_speed: Handler) -> None:
        with ui.column().classes('replay-bar w-full gap-0').mark('replay-bar') as self.root:
            with ui.row().classes('replay-row w-full items-center gap-x-1 gap-y-0'):
                self.play = ui.button(icon='play_arrow', on_click=on_play) \
                    .props('flat round aria-label=Play').classes('replay-button').mark('replay-play')
                self.back = ui.button(icon='skip_previous', on_click=lambda: on_step(-1)) \
                    .props('flat round aria-label="Step back one event"').classes('replay-button') \
                    .mark('replay-back')
                with ui.element('div').classes('replay-track grow').mark('replay-track') as self.track:
                    self.slider = ui.slider(min=0, max=0, step=0, value=0) \
                        .props('aria-label="Moment of the run" aria-valuetext=""').mark('replay-slider')
                    with ui.element('div').classes('replay-marks-box') as self.marks_box:
                        self.marks = ui.html('', sanitize=False).classes('replay-marks').mark('replay-marks')
                self.forward = ui.button(icon='skip_next', on_click=lambda: on_step(1)) \
                    .props('flat round aria-label="Step forward one event"').classes('replay-button') \
                    .mark('replay-forward')
                self.speed = ui.toggle(SPEEDS, value=1, on_change=lambda event: on_speed(event.value)) \
                    .props('dense no-caps unelevated rounded aria-label="Replay speed"') \
                    .classes('replay-speed').mark('replay-speed')
                self.readout = ui.label().classes('replay-time text-sm counter').mark('replay-time')
            # the moment, once scrubbing stops: a polite live region of its own (not a second role=status beside
            # the run's announcer, which stays the page's status)
            self.announcer = ui.label().classes('sr-only').props('aria-live=polite aria-atomic=true') \
                .mark('replay-announcer')
        self.track.on('keydown.capture', on_key, js_handler=KEYS)
        self.track.on('keyup.capture', js_handler=KEYS_UP)
        self.slider.on('update:model-value', on_slide, throttle=SCRUB_S)
        self.slider.on('change', on_release)

    def show(self, *, at: float, end: float, readout: str, move_slider: bool, playing: bool, replaying: bool) -> None:
        """Where the slider stands (moved there unless the user put it there), and what the buttons can do."""
        slider = self.slider
        if slider.props['max'] != end:
            slider.props['max'] = end
        if move_slider and slider.value != at:
            slider.value = at
        if slider.props.get('aria-valuetext') != readout:
            slider.props['aria-valuetext'] = readout
        self.readout.text = readout
        self.show_playing(playing)
        self.back.enabled = at > 0
        self.forward.enabled = replaying

    def show_idle(self, idle: bool) -> None:
        """Without a run the bar is not seen but keeps its place: starting a run moves nothing below it."""
        self.root.classes(add='replay-idle' if idle else None, remove=None if idle else 'replay-idle')

    def show_playing(self, playing: bool) -> None:
        self.play.props(f'icon={"pause" if playing else "play_arrow"} aria-label={"Pause" if playing else "Play"}')

    def show_marks(self, markers: list[tuple[float, str]], span: float, end: float) -> None:
        """The marks of a replay that reaches `span` seconds, on a slider that reaches `end` (later, for a live run
        that went on since): they take the part of the width their time does."""
        self.marks.content = marks_svg(markers, span)
        self.scale_marks(span, end)

    def scale_marks(self, span: float, end: float) -> None:
        self.marks_box.style(f'width: {100 * min(1.0, span / end) if end > 0 else 100:.3f}%')


class ReplayBanner:
    """In the header's top row while the page replays: the moment, its note, Share (and the link) and Live."""

    def __init__(self, *, on_share: Handler, on_live: Handler) -> None:
        with ui.column().classes('replay-banner gap-1 grow').props('role=region aria-label="Replay"') \
                .mark('replay-banner') as self.root:
            with ui.row().classes('w-full items-center justify-end gap-2'):
                ui.icon('history', size='sm').props('aria-hidden=true')
                self.text = ui.label().classes('text-base font-semibold counter').mark('replay-text')
                ui.button('Share', icon='link', on_click=on_share).props('flat no-caps') \
                    .props('aria-label="Share a link to this moment"').mark('replay-share')
                self.live = ui.button('Live', icon='sensors', on_click=on_live) \
                    .props('unelevated no-caps aria-label="Back to the live board"').mark('replay-live')
            self.note = ui.label().classes('replay-note text-sm').mark('replay-note')
            self.link = ui.label().classes('replay-link text-sm break-all').mark('replay-link')
        self.root.visible = False

    def show(self, text: str, note: str, live_label: str) -> None:
        self.text.text = text
        self.note.text = note
        self.note.visible = bool(note)
        self.live.text = live_label

    def show_link(self, link: str) -> None:
        self.link.text = f'Link copied: {link}' if link else ''
        self.link.visible = bool(link)


def marks_svg(markers: list[tuple[float, str]], span: float, bins: int = BINS) -> str:
    """One SVG for every mark of a run, however many: counted in `bins` slots over `span` seconds. Failures and
    stalls, the many, stand as bars from the foot (failures below, stalls on top), as tall as the square root of
    their share of the busiest slot; cancels, retries, stops and resumes, the few, as full-height lines over them."""
    if not markers or span <= 0:
        return ''
    counts = {kind: [0] * bins for kind in MARK_KINDS}
    for at, kind in markers:
        if kind in counts:
            counts[kind][min(bins - 1, max(0, int(at / span * bins)))] += 1
    paths = {kind: [] for kind in MARK_KINDS}
    busiest = max((counts['failure'][i] + counts['stall'][i] for i in range(bins)), default=0)
    for i in range(bins):
        failed, stalled = counts['failure'][i], counts['stall'][i]
        if failed + stalled:
            height = 10 * max(0.3, math.sqrt((failed + stalled) / busiest))
            low = height * failed / (failed + stalled)
            if failed:
                paths['failure'].append(f'M{i} 10h1v-{low:.2f}h-1z')
            if stalled:
                paths['stall'].append(f'M{i} {10 - low:.2f}h1v-{height - low:.2f}h-1z')
        for kind in ('cancel', 'retry', 'interrupted', 'resume'):
            if counts[kind][i]:
                paths[kind].append(f'M{i + 0.2:g} 0h0.6v10h-0.6z')
    words = marks_words(markers)
    drawn = ''.join(f'<path class="mark-{kind}" d="{"".join(parts)}"/>' for kind, parts in paths.items() if parts)
    return (f'<svg viewBox="0 0 {bins} 10" preserveAspectRatio="none" role="img" aria-label="{words}">'
            f'<title>{words}</title>{drawn}</svg>')


def marks_words(markers: list[tuple[float, str]]) -> str:
    """'Marks on the time line: 12 failures (red), 1 cancel (grey)': the legend, for the eye (a tooltip) and for
    screen readers."""
    totals = {kind: sum(1 for _, k in markers if k == kind) for kind in MARK_KINDS}
    parts = [f'{count:,} {MARK_WORDS[kind][0]}{"s" if count != 1 else ""} ({MARK_WORDS[kind][1]})'
             for kind, count in totals.items() if count]
    return f'Marks on the time line: {", ".join(parts)}' if parts else 'No marks on the time line'
