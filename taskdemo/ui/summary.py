"""What a finished run comes to: counts, success rate, wall time, and its failures grouped by error message, each
group with its own Retry these and its task ids as links to their details (the tasks that ran out of their time limit
are one group, which says so). It sits above the grid."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from ..model import RunState, timeout_message
from ..view import RunView

IDS_SHOWN = 30  # task ids listed per failure group


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f'{seconds:.1f} s'
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f'{minutes} min {rest} s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h {minutes} min'


def summary_line(sim: RunView) -> str:
    run, counts = sim.run, sim.counts
    assert run is not None
    ended = counts.completed + counts.failed
    rate = f'{100 * counts.completed / ended:.0f}%' if ended else 'n/a'
    verb = {RunState.COMPLETED: 'finished in', RunState.CANCELLED: 'was cancelled after',
            RunState.INTERRUPTED: 'was interrupted after'}.get(run.state, 'has run for')
    seconds = run.finished_s if run.finished_s is not None else run.elapsed_s
    counted = counts_words(counts.completed, counts.failed, counts.cancelled, counts.interrupted)
    return f'Run {run.id} {verb} {format_duration(seconds)}: {counted}; success rate {rate}.'


def counts_words(completed: int, failed: int, cancelled: int = 0, interrupted: int = 0) -> str:
    """'48 completed, 2 failed', and the cancelled and interrupted when there are any."""
    parts = [f'{completed:,} completed', f'{failed:,} failed']
    parts += [f'{count:,} {word}' for count, word in ((cancelled, 'cancelled'), (interrupted, 'interrupted')) if count]
    return ', '.join(parts)


MORE_SHOWN = 500  # ids added to a group's list by each "and N more"
# a click in a group's list of tasks sends a task's id, or 'more'; a click anywhere else stays in the browser
LINK_CLICK = """(event) => {
  const target = event.target.closest('[data-task], [data-more]');
  if (!target) return;
  event.preventDefault();
  emit(target.dataset.more ? 'more' : Number(target.dataset.task));
}"""


def group_heading(error: str, limit: float | None) -> str:
    """A failure group's heading: its error, but a time-out says that it was the time limit (the simulated failures
    have a "timed out" of their own), and starts with a capital as they do."""
    if limit is not None and error == timeout_message(limit):
        return f'{error[:1].upper()}{error[1:]}: the time limit per task'
    return error


def task_links(ids: list[int], shown: int) -> str:
    """The ids of a failure group as links that open each task's details, then 'and N more' while any are left."""
    links = ''.join(f'<a href="#task-{i}" data-task="{i}" aria-label="Task {i} details">{i}</a>' for i in ids[:shown])
    more = (f'<button type="button" class="more" data-more="1">and {len(ids) - shown:,} more</button>'
            if len(ids) > shown else '')
    return f'Task{"s" if len(ids) > 1 else ""} {links}{more}'


class RunSummary:
    """Above the grid once a run has finished; while its failures are retried it stays, as the run stood before.

    On a replayed board (`replayed`) it shows at every moment of a run, with the failures so far and no Retry these
    (a replay changes nothing). Its labels stay and take new text; the failure groups are drawn again only when they
    changed, so a scrub that moved no failure sends a line of text."""

    def __init__(self, sim: RunView, *, on_retry: Callable[[str], object] = lambda _: None,
                 on_open: Callable[[int], None] = lambda _: None,
                 may_control: Callable[[], bool] = lambda: True, replayed: bool = False) -> None:
        self._sim = sim
        self._on_retry = on_retry
        self._on_open = on_open
        self._may_control = may_control
        self._replayed = replayed
        self._shown: tuple[int, str, int, list[tuple[str, list[int]]]] | None = None  # run id, line, seed, groups
        self._expanded: dict[int, int] = {}  # failure group -> how many of its ids are listed
        self._drawn: tuple | None = None  # what the failure groups were drawn from
        self._heading: ui.label | None = None
        self._list: ui.column | None = None
        self._rows: list[FailureGroup] = []
        with ui.card().classes('w-full').mark('summary') as self._card:
            self._retrying = ui.label('Retry under way: the run as it stood before.') \
                .classes('text-sm font-semibold').mark('summary-retrying')
            self._line = ui.label().classes('text-base font-semibold').mark('summary-line')
            self._seed = ui.label().classes('text-sm')
            self._groups = ui.column().classes('w-full')
        self.update()

    def update(self) -> None:
        sim, run = self._sim, self._sim.run
        if run is not None and (run.finished or self._replayed):
            if self._replayed and self._shown is not None and self._shown[0] == run.id:
                expanded = self._expanded  # the same run, another moment: lists opened stay open
            else:
                expanded = {}
            self._shown = (run.id, summary_line(sim), run.seed, sim.error_groups())
            self._expanded = expanded
        elif run is None or self._shown is None or self._shown[0] != run.id:
            self._shown = None  # a new run, or a reset: nothing to sum up yet
        self._draw()

    def _draw(self) -> None:
        self._card.visible = self._shown is not None
        if self._shown is None:
            return
        _, line, seed, groups = self._shown
        retrying = self._sim.active and not self._replayed
        self._retrying.visible = retrying
        self._line.text = line
        self._seed.text = f'Seed {seed}: start a run with this seed to see it again.'
        enabled = self._may_control() and not retrying
        drawn = (groups, dict(self._expanded), enabled)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        self._groups.visible = bool(groups)
        if not groups:
            return
        if self._heading is None:  # made once; the groups' rows are kept and take new text: a scrub of a replay
            with self._groups:     # that moved a failure sends some text, not new elements
                self._heading = ui.label().classes('text-sm font-semibold')
                self._list = ui.column().classes('failed-list w-full gap-2 text-sm') \
                    .props('tabindex=0 role=region aria-label="Failures by error"')
        assert self._list is not None
        self._heading.text = f'Failures by error ({sum(len(ids) for _, ids in groups):,} tasks):'
        limit = self._sim.run.settings.task_timeout if self._sim.run else None
        while len(self._rows) > len(groups):
            self._rows.pop().root.delete()
        for number, (error, ids) in enumerate(groups):
            if number == len(self._rows):
                with self._list:
                    self._rows.append(FailureGroup(number, on_click=self._clicked,
                                                   on_retry=None if self._replayed else self._on_retry))
            self._rows[number].show(error, ids, group_heading(error, limit), self._expanded.get(number, IDS_SHOWN),
                                    enabled=enabled)

    def _clicked(self, number: int, what: object) -> None:
        """A task id in a failure group opens its details; 'and N more' lists more of the group."""
        if what == 'more':
            self._expanded[number] = self._expanded.get(number, IDS_SHOWN) + MORE_SHOWN
            self._draw()
        elif isinstance(what, int) and 0 <= what < self._sim.total:
            self._on_open(what)


class FailureGroup:
    """One failure group's row: how many, the error, its tasks as links, and Retry these (none on a replay)."""

    def __init__(self, number: int, *, on_click: Callable[[int, object], None],
                 on_retry: Callable[[str], object] | None) -> None:
        self.error = ''
        with ui.row().classes('w-full items-center gap-x-3 gap-y-1 no-wrap').mark(f'failure-group-{number}') \
                as self.root:
            self.count = ui.label().classes('failure-count')
            with ui.column().classes('gap-0 grow min-w-0'):
                self.heading = ui.label().classes('font-medium break-words').mark(f'failure-error-{number}')
                self.tasks = ui.html('', sanitize=False).classes('task-links text-xs') \
                    .mark(f'failure-tasks-{number}') \
                    .on('click', lambda event: on_click(number, event.args), js_handler=LINK_CLICK)
            self.retry = None if on_retry is None else \
                ui.button('Retry these', icon='replay', on_click=lambda: on_retry(self.error)) \
                .props('outline dense no-caps').classes('shrink-0 whitespace-nowrap').mark(f'retry-group-{number}')

    def show(self, error: str, ids: list[int], heading: str, shown: int, *, enabled: bool) -> None:
        self.error = error
        self.count.text = f'{len(ids):,}'
        self.count.props(f'aria-label="{len(ids)} tasks"')
        self.heading.text = heading
        self.tasks.content = task_links(ids, shown)
        if self.retry is not None:
            self.retry.set_enabled(enabled)
