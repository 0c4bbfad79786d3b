"""The grid of task cards: one element per card, and only the cards whose display changed are touched."""
from __future__ import annotations

from collections.abc import Iterable

from nicegui import ui

from ..simulator import Simulator
from .card import card_view

SMALL_GRID_MAX = 50  # up to this many tasks: 5 columns on narrow screens, 10 from 768 px


class TaskGrid:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._cards: list[ui.html] = []
        self._container = ui.element('div').classes('task-grid w-full').props('role=list aria-label="Tasks"') \
            .mark('task-grid')
        self.rebuild()

    def rebuild(self) -> None:
        """Draw every card again: for a new run or a reset, when even the number of tasks may have changed."""
        tasks = self._sim.tasks
        self._container.classes(replace='task-grid w-full ' + (
            'grid-small' if len(tasks) <= SMALL_GRID_MAX else 'grid-large'))
        self._container.clear()
        with self._container:
            self._cards = [ui.html('', sanitize=False).mark(f'task-{task.id}') for task in tasks]
        self.update(range(len(tasks)))

    def update(self, task_ids: Iterable[int]) -> None:
        for task_id in task_ids:
            task = self._sim.tasks[task_id]
            view = card_view(task, self._sim.task_elapsed_s(task))
            card = self._cards[task_id]
            with card.props.suspend_updates():
                card.props['title'] = view.title
                card.props['role'] = 'listitem'
            card.classes(replace=view.classes)
            card.content = view.html
