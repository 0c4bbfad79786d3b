"""How each task state shows: a word and an icon (never colour alone). The browser's grid gets this table."""
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
