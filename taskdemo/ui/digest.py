"""While you were away: a tab that comes back (visible again after 30 s or more hidden, by the Page Visibility API;
connected again after a network drop; or reloaded once a restarted server is back) shows a digest of what happened
meanwhile: the tasks finished, the new failures by error, the run's end, and what was done from elsewhere
(activity.py). Nothing is shown when nothing happened. It is a card above the grid that the viewer dismisses, and a
screen reader hears it once (a polite live region, emptied again after a while).

What the tab showed when it went away (`Seen`) is taken from the board then, in this process. A restart loses the
page, so the page's script keeps, in the tab's sessionStorage, when it last saw the board (shown and connected)
and whether it was cut off since; the page that replaces it sends that time, and the board then is worked out
from the run's log (`model.moment_at`)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from nicegui import Client, ui

from ..activity import Activity, Entry
from ..model import RunState, TaskStatus, moment_at
from ..view import RunView
from .summary import counts_words, format_duration

AWAY_S = 30.0  # hidden at least this long before the digest shows
ACTIONS_SHOWN = 5  # the newest actions listed; "and N more" for the rest
ANNOUNCED_FOR_S = 10.0  # the live region keeps the text this long, then is emptied (read once)
SCRIPT = """(() => {
  const SEEN = 'taskdemo-seen', DROPPED = 'taskdemo-dropped', now = () => Date.now() / 1000;
  const seen = Number(sessionStorage.getItem(SEEN));
  if (sessionStorage.getItem(DROPPED) && seen) {  // the page before was cut off: a restart reloads it when back
    const tell = () => window.did_handshake ?  // once the page is mounted and connected
      emitEvent('taskdemo_back', {since: seen, hidden: document.visibilityState === 'hidden'}) : setTimeout(tell, 50);
    tell();
  }
  sessionStorage.removeItem(DROPPED);
  setInterval(() => {
    if (window.socket && window.socket.connected && window.did_handshake) {
      if (document.visibilityState === 'visible') sessionStorage.setItem(SEEN, String(now()));
      sessionStorage.removeItem(DROPPED);
    } else if (!sessionStorage.getItem(DROPPED)) {
      sessionStorage.setItem(DROPPED, String(now()));
    }
  }, 500);
  document.addEventListener('visibilitychange', () => emitEvent('taskdemo_visibility', document.visibilityState));
})();"""


@dataclass(frozen=True)
class Seen:
    """What a tab showed when it went away: which run, in which state, how far into it."""

    wall: float
    run_id: int | None
    state: RunState
    elapsed_s: float

    @classmethod
    def of(cls, view: RunView, wall: float) -> Seen:
        """The board now."""
        run = view.run
        return cls(wall=wall, run_id=run.id if run else None, state=view.state,
                   elapsed_s=run.elapsed_s if run else 0.0)

    @classmethod
    def at(cls, view: RunView, wall: float) -> Seen:
        """The board at `wall`, as the run's log says it stood then (a run started later: not known, and all of
        it is news)."""
        run = view.run
        if run is None or run.started_at > wall:
            return cls(wall=wall, run_id=None, state=RunState.IDLE, elapsed_s=0.0)
        state, elapsed = moment_at(run, view.events, wall)
        return cls(wall=wall, run_id=run.id, state=state, elapsed_s=elapsed)


def digest_lines(before: Seen, view: RunView, actions: list[Entry], *, me: str = '') -> list[str]:
    """What changed since `before`, one sentence a line; none when nothing did: the tasks that ended meanwhile
    (as they stand now: a failed task retried and completed meanwhile counts as completed), the failures among
    them by error, the run's end, and `actions` (the activity since, oldest first; this tab's own are left out:
    it knows what it did)."""
    lines: list[str] = []
    run = view.run
    same = run is not None and run.id == before.run_id
    if run is not None:
        since = before.elapsed_s if same else -1.0
        ended = [task for task in view.tasks
                 if task.status.finished and task.finished_s is not None and task.finished_s > since]
        if ended:
            by_status = Counter(task.status for task in ended)
            counted = counts_words(by_status[TaskStatus.COMPLETED], by_status[TaskStatus.FAILED],
                                   by_status[TaskStatus.CANCELLED])
            lines.append(f'Run {run.id:,}: {len(ended):,} task{"s" if len(ended) != 1 else ""} finished ({counted}).')
        failures = Counter(task.error or 'failed' for task in ended if task.status == TaskStatus.FAILED)
        if failures:
            lines.append('New failures: ' + '; '.join(f'{error} ×{count:,}' for error, count in failures.most_common())
                         + '.')
        if run.finished and (not same or before.state != view.state):
            counts = view.counts
            counted = counts_words(counts.completed, counts.failed, counts.cancelled, counts.interrupted)
            resume = ' Resume goes on with it.' if view.state == RunState.INTERRUPTED else ''
            lines.append(f'Run {run.id:,} {ENDS[view.state]}: {counted}.{resume}')
    others = [entry for entry in actions if entry.event.source and entry.event.source != me]
    if others:
        shown = [entry.sentence() for entry in others[-ACTIONS_SHOWN:]]
        more = len(others) - len(shown)
        lines.append('Done meanwhile: ' + ' '.join(shown) + (f' And {more:,} more (see Activity).' if more else ''))
    elif run is None and before.run_id is not None:
        lines.append(f'Run {before.run_id:,} was cleared from the board.')
    return lines


ENDS = {RunState.COMPLETED: 'completed', RunState.CANCELLED: 'was cancelled', RunState.INTERRUPTED: 'was interrupted'}


class Digest:
    """One per page. `clock()`: the wall clock (a test's fake one)."""

    def __init__(self, view: RunView, activity: Activity, *, me: str, clock: Callable[[], float]) -> None:
        self._view, self._activity, self._me, self._clock = view, activity, me, clock
        self._seen: Seen | None = None  # what the tab showed when it went away; None while it is here
        self._hidden = False
        with ui.card().classes('digest w-full').props('role=region aria-label="While you were away"') \
                .mark('digest') as self.card:
            with ui.row().classes('w-full items-center justify-between no-wrap'):
                self._heading = ui.label().classes('font-bold').props('role=heading aria-level=2') \
                    .mark('digest-heading')
                ui.button('Dismiss', on_click=self.dismiss).props('flat no-caps').mark('digest-dismiss')
            self._body = ui.column().classes('gap-0')
        self.card.visible = False
        self._announcer = ui.label().classes('sr-only').props('aria-live=polite').mark('digest-announcer')
        ui.add_body_html(f'<script>{SCRIPT}</script>')
        client = ui.context.client
        ui.on('taskdemo_visibility', lambda event: self.visibility(event.args))
        ui.on('taskdemo_back', lambda event: self.returned(event.args))
        client.on_disconnect(self._disconnected)
        client.on_connect(lambda: self.back(reconnected=True))

    def visibility(self, state: str) -> None:
        self._hidden = state == 'hidden'
        if self._hidden:
            self.away()
        else:
            self.back()

    def returned(self, args: object) -> None:
        """This page replaces the tab's page before, which was cut off (a restart): `{"since": wall, "hidden":
        bool}` says when that page last saw the board. The digest shows now, or once the tab is visible."""
        since = args.get('since') if isinstance(args, dict) else None
        if self._seen is not None or isinstance(since, bool) or not isinstance(since, (int, float)):
            return  # nothing of the kind: a page's own script sends it
        self._seen = Seen.at(self._view, float(since))
        self._hidden = bool(args.get('hidden'))
        self.back(reconnected=True)

    def away(self) -> None:
        if self._seen is None:
            self._seen = Seen.of(self._view, self._clock())

    def back(self, *, reconnected: bool = False) -> None:
        """Back: visible after AWAY_S or more hidden, or connected again after a drop (unless still hidden: then
        once visible). The digest shows if anything happened meanwhile."""
        before = self._seen
        if before is None or (reconnected and self._hidden):
            return
        self._seen = None
        away_s = self._clock() - before.wall
        if away_s < AWAY_S and not reconnected:
            return  # a glance at another tab: nothing to tell
        lines = digest_lines(before, self._view, self._activity.since(before.wall), me=self._me)
        if lines:
            self.show(f'While you were away ({format_duration(away_s)})', lines)

    def show(self, heading: str, lines: list[str]) -> None:
        self._heading.text = heading
        self._body.clear()
        with self._body:
            for line in lines:
                ui.label(line).mark('digest-line')
        self.card.visible = True
        self._announcer.text = f'{heading}. {" ".join(lines)}'
        ui.timer(ANNOUNCED_FOR_S, self._quiet, once=True)

    def dismiss(self) -> None:
        self.card.visible = False
        self._quiet()

    def _quiet(self) -> None:
        self._announcer.text = ''

    def _disconnected(self, client: Client) -> None:
        if not client.has_socket_connection:
            self.away()
