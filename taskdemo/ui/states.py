"""How each task state shows: a word and an icon (never colour alone), and so does a stall. The browser's grid gets
these tables."""
from __future__ import annotations

from ..simulator import TaskStatus

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
    TaskStatus.INTERRUPTED: '‖',
}

CODES = {status: code for code, status in enumerate(TaskStatus)}  # one byte per task on the wire
STATE_TABLE = [[status.value, WORDS[status], ICONS[status]] for status in TaskStatus]  # indexed by code

# A running task that has not moved for a while is stalled: a flag on top of its state, shown as a badge with a word
# and an icon (a Material icon: the page has its font, where an hourglass character may have none). The grid filters
# on it as on a state, under a code no state has.
STALLED_WORD = 'Stalled'
STALLED_ICON = 'hourglass_top'
STALLED_CODE = 255
STALLED_BADGE = [STALLED_WORD, STALLED_ICON, STALLED_CODE]
