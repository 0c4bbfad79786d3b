"""Keeps the store in step with the simulator, without blocking the board.

Changes are collected as they happen and written in batches by one writer thread: status changes (a task
finished, failed, was cancelled) and run changes every 0.25 s, so they are on disk within 0.5 s; percent changes
of running tasks every 1.5 s. A 10,000-task run at speed 1 thus costs about 4 transactions a second, not 15,000.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .simulator import Change, Simulator
from .store import Store, task_row

log = logging.getLogger(__name__)

URGENT_S = 0.25
PROGRESS_S = 1.5
T = TypeVar('T')


class Recorder:
    def __init__(self, sim: Simulator, store: Store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.sim = sim
        self.store = store
        self.writes = 0
        self.failed_writes = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix='taskdemo-store')
        self._clock = clock
        self._urgent: set[int] = set()
        self._progress: set[int] = set()
        self._run_dirty = False
        self._whole_run = False
        self._last_progress_flush = clock()
        # rows a write could not store (disk full, database locked): kept, newest per row, and written first next
        # time; touched only on the writer thread
        self._unwritten_runs: dict[int, tuple] = {}
        self._unwritten_tasks: dict[tuple[int, int], tuple] = {}
        self._unwritten_percents: dict[tuple[int, int], tuple] = {}
        sim.changed.subscribe(self._on_change, unsubscribe_on_delete=False)

    def _on_change(self, change: Change) -> None:
        if change.structure:
            self._urgent.clear()
            self._progress.clear()
            self._whole_run = self.sim.run is not None  # a new run: every task goes with the next batch
            self._run_dirty = self._whole_run
            if self.sim.run is None:  # a reset: after a restart, too, the board is idle
                self._executor.submit(self._quietly, self.store.mark_reset)
            else:
                try:
                    self.store.record_start(self._run_row())
                except sqlite3.Error as error:
                    log.error('could not write the new run to %s (%s); the next batch will', self.store.path, error)
            return
        self._urgent |= change.transitions
        self._progress |= change.tasks - change.transitions
        self._run_dirty = self._run_dirty or change.run
        if change.run and self.sim.run is not None and self.sim.run.finished:
            # a run just ended: take its last rows now, before a reset or a new run can replace it
            batch = self._collect(include_progress=True)
            if batch is not None:
                self._executor.submit(self._write, *batch)

    async def run(self) -> None:
        """Flush while the app runs (started once, at app start-up)."""
        while True:
            await asyncio.sleep(URGENT_S)
            await self.flush(include_progress=self._clock() - self._last_progress_flush >= PROGRESS_S)

    async def flush(self, *, include_progress: bool = True) -> None:
        batch = self._collect(include_progress)
        if batch is not None:
            await self.call(self._write, *batch)

    def flush_now(self) -> None:
        """Write everything at once, from the calling thread: for shutdown."""
        batch = self._collect(include_progress=True)
        if batch is not None:
            self._executor.submit(self._write, *batch).result()

    async def call(self, function: Callable[..., T], *args: object) -> T:
        """Run a store method on the writer thread (reads too: they then see every write before them)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.store.close()

    def _collect(self, include_progress: bool) -> tuple[list[tuple], list[tuple], list[tuple]] | None:
        """The rows to write, read off the simulator now (on the event loop), so the writer sees one moment."""
        run = self.sim.run
        if run is None:
            return None
        if include_progress:
            self._last_progress_flush = self._clock()
        if self._whole_run:  # a new run's first batch: every task's whole row
            whole, percent_only = set(range(len(self.sim.tasks))), set()
            self._whole_run = False
        else:  # the tasks whose status changed, whole; those whose percent alone changed, just the percent
            whole = self._urgent
            percent_only = self._progress - whole if include_progress else set()
        if not whole and not percent_only and not self._run_dirty and not (include_progress and self.sim.active):
            return None  # nothing new (a running run's row is rewritten with progress, for its elapsed time)
        self._urgent = set()
        if include_progress:
            self._progress = set()
        self._run_dirty = False
        tasks = self.sim.tasks
        return ([self._run_row()], [task_row(run.id, tasks[i]) for i in sorted(whole)],
                [(run.id, i, tasks[i].progress) for i in sorted(percent_only)])

    def _run_row(self) -> tuple:
        run, counts = self.sim.run, self.sim.counts
        assert run is not None
        return (run.id, run.started_at, json.dumps(run.settings.as_dict()), run.seed, run.state.value,
                run.elapsed_s, run.finished_s, len(self.sim.tasks), counts.completed, counts.failed, counts.cancelled)

    def _keep(self, runs: list[tuple], tasks: list[tuple], percents: list[tuple]) -> None:
        """Keep rows that could not be written, newest per row: a whole row replaces a kept percent, and a percent
        updates a kept whole row (a task's first row is always whole, so an orphan percent has a stored row)."""
        self._unwritten_runs.update((row[0], row) for row in runs)
        for row in tasks:
            self._unwritten_tasks[row[0], row[1]] = row
            self._unwritten_percents.pop((row[0], row[1]), None)
        for run_id, task_id, progress in percents:
            whole = self._unwritten_tasks.get((run_id, task_id))
            if whole is not None:
                self._unwritten_tasks[run_id, task_id] = (*whole[:3], progress, *whole[4:])
            else:
                self._unwritten_percents[run_id, task_id] = (run_id, task_id, progress)

    def _quietly(self, write: Callable[[], None]) -> None:
        try:
            write()
        except sqlite3.Error as error:
            log.warning('could not write to %s (%s)', self.store.path, error)

    def _write(self, runs: list[tuple], tasks: list[tuple], percents: list[tuple]) -> None:
        """On the writer thread: store the rows, after any that an earlier write could not store."""
        failing = self.failed_writes > 0
        if failing:  # rows are waiting: these go on top of them, newest per row (the usual path skips the merge)
            self._keep(runs, tasks, percents)
            runs, tasks = list(self._unwritten_runs.values()), list(self._unwritten_tasks.values())
            percents = list(self._unwritten_percents.values())
        try:
            self.store.write(runs, tasks, percents)
        except sqlite3.Error as error:
            self.failed_writes += 1
            if not failing:  # one line when writing starts to fail, one when it works again: not one per batch
                self._keep(runs, tasks, percents)
                log.error('could not write to %s (%s); keeping the rows in memory and trying again every %.2f s',
                          self.store.path, error, URGENT_S)
            return
        if failing:
            log.warning('writing to %s works again: %d task rows caught up after %d failed writes',
                        self.store.path, len(tasks) + len(percents), self.failed_writes)
            self.failed_writes = 0
            self._unwritten_runs.clear()
            self._unwritten_tasks.clear()
            self._unwritten_percents.clear()
        self.writes += 1
        if runs[0][4] != 'running':
            self.store.prune()
