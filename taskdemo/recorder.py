"""Keeps the store in step with the simulator, without blocking the board.

Changes are collected as they happen and written in batches by one writer thread: status changes (a task
finished, failed, was cancelled, retried; a running task flagged stalled or no longer) and run changes every
0.25 s, so they are on disk within 0.5 s; percent changes of running tasks every 1.5 s. A 10,000-task run at speed
1 thus costs about 4 transactions a second, not 15,000. A task that has hung is written whole even when only its
percent moved: its hang's times change with it.

Every write goes through that one thread, in the order the simulator made the changes: a new run's first row, a
reset (which names the run it came after), the batches. Nothing writes SQLite on the event loop, and the writer
survives any error: a batch that cannot be written is kept (newest row per task) and goes first next time.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from .simulator import Change, Simulator
from .store import Batch, Store, attempt_rows, event_row, task_row

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
        self._stalled: frozenset[int] = frozenset()  # the tasks flagged stalled as of the last change
        self._events_of = (0, 0)  # (run id, how many of its events have gone to the writer)
        self._last_progress_flush = clock()
        self._unwritten = Unwritten()  # rows a write could not store; touched only on the writer thread
        sim.subscribe(self._on_change)

    def _on_change(self, change: Change) -> None:
        stalled = self.sim.stalled_ids  # a copy of the few flagged ids, not a scan of the tasks
        moved, self._stalled = stalled ^ self._stalled, stalled
        if change.structure:
            self._urgent.clear()
            self._progress.clear()
            self._whole_run = self.sim.run is not None  # a new run: every task goes with the next batch
            self._run_dirty = False
            if self.sim.run is None:  # a reset: after a restart, too, the board is idle
                self._submit(Batch(reset_after=self.sim.newest_run_id))
            else:  # a new run's row (settings, seed) goes at once, so that it exists before it makes progress
                self._submit(Batch(runs=[self._run_row()], events=self._new_events()))
            return
        self._urgent |= change.transitions | moved
        self._progress |= change.tasks - change.transitions
        self._run_dirty = self._run_dirty or change.run
        if change.run and self.sim.run is not None and self.sim.run.finished:
            # a run just ended: take its last rows now, before a reset or a new run can replace it
            batch = self._collect(include_progress=True)
            if batch is not None:
                self._submit(batch)

    async def run(self) -> None:
        """Flush while the app runs (started once, at app start-up)."""
        while True:
            await asyncio.sleep(URGENT_S)
            try:
                await self.flush(include_progress=self._clock() - self._last_progress_flush >= PROGRESS_S)
            except Exception:  # never seen; but if it happens, the next flush must still come
                log.exception('the recorder could not collect a batch; it goes on')

    async def flush(self, *, include_progress: bool = True) -> None:
        batch = self._collect(include_progress)
        if batch is not None:
            await self.call(self._write, batch)

    def flush_now(self) -> None:
        """Write everything at once, from the calling thread: for shutdown."""
        batch = self._collect(include_progress=True)
        if batch is not None:
            self._submit(batch).result()

    async def written(self) -> None:
        """Wait until every write queued so far is done."""
        await self.call(lambda: None)

    async def call(self, function: Callable[..., T], *args: object) -> T:
        """Run a store method on the writer thread (reads too: they then see every write before them)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.store.close()

    def _submit(self, batch: Batch) -> Future:
        """Queue a batch behind every earlier write. `_write` catches what it can; anything else is logged here,
        not lost with a future nobody reads."""
        future = self._executor.submit(self._write, batch)
        future.add_done_callback(_log_failure)
        return future

    def _collect(self, include_progress: bool) -> Batch | None:
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
            if percent_only and run.settings.stall_rate:  # ... unless they have hung: their hang's times moved too
                hung = {i for i in percent_only if self.sim.tasks[i].stalled_from is not None}
                whole, percent_only = whole | hung, percent_only - hung
        events = self._new_events()
        if not whole and not percent_only and not self._run_dirty and not events and \
                not (include_progress and self.sim.active):
            return None  # nothing new (a running run's row is rewritten with progress, for its elapsed time)
        self._urgent = set()
        if include_progress:
            self._progress = set()
        self._run_dirty = False
        tasks, changed = self.sim.tasks, sorted(whole)
        return Batch(runs=[self._run_row()], tasks=[task_row(run.id, tasks[i]) for i in changed],
                     percents=[(run.id, i, tasks[i].progress) for i in sorted(percent_only)],
                     attempts=[row for i in changed for row in attempt_rows(run.id, tasks[i])], events=events)

    def _new_events(self) -> list[tuple]:
        """The run's events not yet handed to the writer (all of them, the first time a run is seen)."""
        run = self.sim.run
        if run is None:
            return []
        known_run, written = self._events_of
        if known_run != run.id:
            written = 0
        events = self.sim.events
        self._events_of = (run.id, len(events))
        return [event_row(run.id, seq, events[seq]) for seq in range(written, len(events))]

    def _run_row(self) -> tuple:
        run, counts = self.sim.run, self.sim.counts
        assert run is not None
        return (run.id, run.started_at, json.dumps(run.settings.as_dict()), run.seed, run.state.value,
                run.elapsed_s, run.finished_s, len(self.sim.tasks), counts.completed, counts.failed, counts.cancelled)

    def _write(self, batch: Batch) -> None:
        """On the writer thread: store the rows, after any that an earlier write could not store."""
        failing = self.failed_writes > 0
        if failing:  # rows are waiting: these go on top of them, newest per row (the usual path skips the merge)
            self._unwritten.keep(batch)
            batch = self._unwritten.batch()
        try:
            self.store.write(batch)
        except sqlite3.Error as error:
            self.failed_writes += 1
            if not failing:  # one line when writing starts to fail, one when it works again: not one per batch
                self._unwritten.keep(batch)
                log.error('could not write to %s (%s); keeping the rows in memory and trying again every %.2f s',
                          self.store.path, error, URGENT_S)
            return
        if failing:
            log.warning('writing to %s works again: %d task rows caught up after %d failed writes',
                        self.store.path, len(batch.tasks) + len(batch.percents), self.failed_writes)
            self.failed_writes = 0
            self._unwritten = Unwritten()
        self.writes += 1
        if batch.runs and batch.runs[-1][4] != 'running':
            try:
                self.store.prune()
            except sqlite3.Error as error:  # the history is a little longer until the next run ends: no harm
                log.warning('could not drop old runs from %s (%s); trying again when the next run ends',
                            self.store.path, error)


class Unwritten:
    """Rows a write could not store, newest per row: a whole task row replaces a kept percent, and a percent
    updates a kept whole row (a task's first row is always whole, so an orphan percent has a stored row)."""

    def __init__(self) -> None:
        self.runs: dict[int, tuple] = {}
        self.tasks: dict[tuple[int, int], tuple] = {}
        self.percents: dict[tuple[int, int], tuple] = {}
        self.attempts: dict[tuple[int, int, int], tuple] = {}
        self.events: dict[tuple[int, int], tuple] = {}
        self.reset_after: int | None = None

    def keep(self, batch: Batch) -> None:
        self.runs.update((row[0], row) for row in batch.runs)
        for row in batch.tasks:
            self.tasks[row[0], row[1]] = row
            self.percents.pop((row[0], row[1]), None)
        for run_id, task_id, progress in batch.percents:
            whole = self.tasks.get((run_id, task_id))
            if whole is not None:
                self.tasks[run_id, task_id] = (*whole[:3], progress, *whole[4:])
            else:
                self.percents[run_id, task_id] = (run_id, task_id, progress)
        self.attempts.update((row[:3], row) for row in batch.attempts)
        self.events.update((row[:2], row) for row in batch.events)
        if batch.reset_after is not None:
            self.reset_after = max(self.reset_after or 0, batch.reset_after)

    def batch(self) -> Batch:
        return Batch(runs=list(self.runs.values()), tasks=list(self.tasks.values()),
                     percents=list(self.percents.values()), attempts=list(self.attempts.values()),
                     events=list(self.events.values()), reset_after=self.reset_after)


def _log_failure(future: Future) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.error('a write to the store failed: %r', error, exc_info=error)
