"""What a task card shows, as plain data: no NiceGUI here, so the look of a card can be tested and reused."""
from __future__ import annotations

from dataclasses import dataclass

from ..simulator import Task, TaskStatus

WORDS = {
    TaskStatus.PENDING: 'Pending',
    TaskStatus.RUNNING: 'Running',
    TaskStatus.COMPLETED: 'Completed',
    TaskStatus.FAILED: 'Failed',
    TaskStatus.CANCELLED: 'Cancelled',
    TaskStatus.INTERRUPTED: 'Interrupted',
}

ICONS = {
    TaskStatus.PENDING: '○',
    TaskStatus.RUNNING: '◐',
    TaskStatus.COMPLETED: '✔',
    TaskStatus.FAILED: '✖',
    TaskStatus.CANCELLED: '⊘',
    TaskStatus.INTERRUPTED: '⏸',
}


@dataclass(frozen=True, slots=True)
class CardView:
    html: str
    classes: str
    title: str


def card_view(task: Task, elapsed_s: float | None) -> CardView:
    """The card of one task: number, icon and word for its state (never colour alone), percent while running."""
    status = task.status
    word = WORDS[status]
    percent = f'{task.progress}%' if status in {TaskStatus.RUNNING, TaskStatus.INTERRUPTED} else ''
    bar = f'<span class="task-bar"><span style="width:{task.progress}%"></span></span>' if percent else ''
    html = (
        f'<span class="task-head"><span class="task-num">#{task.id}</span>'
        f'<span class="task-icon" aria-hidden="true">{ICONS[status]}</span></span>'
        f'<span class="task-state">{word}</span>'
        f'<span class="task-pct">{percent}</span>{bar}'
    )
    return CardView(html=html, classes=f'task-card task-{status.value}', title=card_title(task, elapsed_s))


def card_title(task: Task, elapsed_s: float | None) -> str:
    """The tooltip: the seed's "Task <id>: <state>", then the details."""
    parts = [f'Task {task.id}: {WORDS[task.status]}', f'{task.progress}%']
    if elapsed_s is not None:
        parts.append(f'{elapsed_s:.1f} s' + ('' if task.status.finished else ' so far'))
    title = ' · '.join(parts)
    if task.error:
        title += f'\n{task.error}'
    return title
