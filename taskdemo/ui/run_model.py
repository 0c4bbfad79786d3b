"""What every page shows of the run as a whole, worked out once per change instead of once per page: the
progress line, the counters (the stalled tasks among them) and whether a run is going on. The pages' labels and
buttons bind to it; a field that did not change tells nobody."""
from __future__ import annotations

from nicegui.binding import bindable_dataclass

from ..model import RunState
from ..view import RunView

START_LABELS = {
    RunState.IDLE: 'Start Process',
    RunState.RUNNING: 'Processing...',
    RunState.COMPLETED: 'Completed! Start over?',
    RunState.CANCELLED: 'Start over',
    RunState.INTERRUPTED: 'Start over',
}


@bindable_dataclass
class RunModel:
    running: bool = False
    start_label: str = START_LABELS[RunState.IDLE]
    progress_text: str = ''
    completed_text: str = ''
    failed_text: str = ''
    running_text: str = ''
    pending_text: str = ''
    cancelled_text: str = ''
    interrupted_text: str = ''
    stalled_text: str = ''
    any_cancelled: bool = False
    any_interrupted: bool = False
    stalled: int = 0  # running tasks that have not moved for a while (`view.stalled_ids`)

    def follow(self, view: RunView, *, stalled: int) -> None:
        """Take the run as `view` has it now, with `stalled` of its running tasks stalled."""
        counts = view.counts
        self.running = view.state == RunState.RUNNING
        self.start_label = START_LABELS[view.state]
        self.progress_text = f'{view.percent:.0f}% · {counts.finished:,} of {view.total:,} finished'
        self.completed_text = f'Completed: {counts.completed:,}'
        self.failed_text = f'Failed: {counts.failed:,}'
        self.running_text = f'Running: {counts.running:,}'
        self.pending_text = f'Pending: {counts.pending:,}'
        self.cancelled_text = f'Cancelled: {counts.cancelled:,}'
        self.interrupted_text = f'Interrupted: {counts.interrupted:,}'
        self.any_cancelled = counts.cancelled > 0
        self.any_interrupted = counts.interrupted > 0
        self.stalled = stalled
        self.stalled_text = f'Stalled: {stalled:,}'
