"""Runs on disk: SQLite from the standard library, in WAL mode, in one file in the data folder.

Every method here blocks; the app calls them from one writer thread (see recorder.py), never from the event loop
while it serves. Opening is careful with what is already there:
- the data folder is locked first (datadir.py), so no other taskdemo uses the same file;
- only real corruption ("file is not a database", "database disk image is malformed", a failed quick check) moves
  the database aside, together with its -wal and -shm files, renamed, never deleted; a fresh one is made;
- a database made by a newer taskdemo is left untouched, and so is one that another program keeps locked past
  a few seconds: both are a DataDirError, which stops the program with one line.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .datadir import DataDirError, DataDirLock, check_writable, move_aside
from .model import MAX_EARLIER, EventKind, RunEvent, crash_noted
from .schema import EVENTS_TABLE, SCHEMA_VERSION, NewerSchema, prepare, stored_version
from .settings import RunSettings
from .simulator import Attempt, Run, RunState, Task, TaskStatus, plan_tasks

__all__ = ['Batch', 'DataDirError', 'RunRow', 'Store', 'attempt_rows', 'event_row', 'task_row']

log = logging.getLogger(__name__)

FILE_NAME = 'taskdemo.sqlite3'
OPEN_TIMEOUT_S = 5.0  # how long a lock that another program holds on the database is waited for at start
CORRUPT = {'SQLITE_NOTADB', 'SQLITE_CORRUPT'}  # "file is not a database", "database disk image is malformed"
RUN_COLUMNS = ('id', 'started_at', 'settings', 'seed', 'state', 'elapsed_s', 'finished_s', 'total', 'completed',
               'failed', 'cancelled')
# an upsert, not INSERT OR REPLACE: replacing a run row would delete it first, and its tasks with it (cascade)
RUN_UPSERT = (f'INSERT INTO runs ({", ".join(RUN_COLUMNS)}) VALUES ({", ".join("?" * len(RUN_COLUMNS))}) '
              f'ON CONFLICT(id) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in RUN_COLUMNS[1:])}')
TASK_COLUMNS = ('id', 'status', 'progress', 'duration', 'fail_at', 'started_s', 'finished_s', 'error', 'attempt',
                'stall_at', 'stall_for', 'stalled_from', 'stalled_until', 'stalled')
# the columns of a task's hang, added to a tasks table that lacks them when the database opens. Only columns that
# may be null or have a default: a database with them still opens in the taskdemo before (it names the columns it
# reads and writes), so they need no schema version of their own
STALL_COLUMNS = {'stall_at': 'INTEGER', 'stall_for': 'REAL', 'stalled_from': 'REAL', 'stalled_until': 'REAL',
                 'stalled': 'INTEGER NOT NULL DEFAULT 0'}
ATTEMPT_COLUMNS = ('task_id', 'number', 'duration', 'progress', 'started_s', 'finished_s', 'error')
EVENT_COLUMNS = ('seq', 'at_s', 'kind', 'wall', 'tasks', 'crash', 'source')
SOURCE_COLUMN = {'source': "TEXT NOT NULL DEFAULT ''"}  # who did it: added like the hang's to an older events table


class Corrupt(sqlite3.DatabaseError):
    """SQLite opened the file, but its quick check found damage."""


@dataclass
class Batch:
    """One transaction's worth of rows, in the order they are written.

    runs: RUN_COLUMNS rows; tasks: run_id + TASK_COLUMNS; percents: (run_id, id, progress) of stored tasks whose
    percent alone changed; attempts: run_id + ATTEMPT_COLUMNS, each written once (earlier attempts never change);
    events: run_id + EVENT_COLUMNS, each written once too;
    reset_after: the board was reset after this run (a restart then shows an idle board, not that run).
    """

    runs: list[tuple] = field(default_factory=list)
    tasks: list[tuple] = field(default_factory=list)
    percents: list[tuple] = field(default_factory=list)
    attempts: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    reset_after: int | None = None


@dataclass(frozen=True)
class RunRow:
    id: int
    started_at: float
    settings: dict[str, Any]
    seed: int
    state: str
    elapsed_s: float
    finished_s: float | None
    total: int
    completed: int
    failed: int
    cancelled: int

    @property
    def success_rate(self) -> float | None:
        ended = self.completed + self.failed
        return round(100 * self.completed / ended, 1) if ended else None

    def as_dict(self) -> dict[str, Any]:
        return {**{name: getattr(self, name) for name in RUN_COLUMNS}, 'success_rate': self.success_rate}

    def as_run(self) -> Run:
        """The run as the simulator knows runs (as stored: one cut off by a crash still says running)."""
        return Run(id=self.id, settings=RunSettings(**self.settings), seed=self.seed, started_at=self.started_at,
                   elapsed_s=self.elapsed_s, state=RunState(self.state), finished_s=self.finished_s)


class Store:
    def __init__(self, data_dir: Path, *, keep_runs: int = 100, open_timeout: float = OPEN_TIMEOUT_S) -> None:
        """Lock the data folder and open its database; raises DataDirError when either cannot be done."""
        self.path = data_dir / FILE_NAME
        self.keep_runs = keep_runs
        check_writable(data_dir)
        self._lock = DataDirLock(data_dir)
        self._lock.acquire()
        try:
            self._db = self._open_or_start_afresh(open_timeout)
        except BaseException:
            self._lock.release()
            raise

    def _open_or_start_afresh(self, timeout: float) -> sqlite3.Connection:
        try:
            return self._open(timeout)
        except NewerSchema as newer:
            raise DataDirError(f'the database {self.path} was made by a newer taskdemo (schema {newer.version}); '
                               'upgrade, or use another --data-dir') from None
        except sqlite3.DatabaseError as error:
            if not _is_corrupt(error):
                raise DataDirError(_open_problem(self.path, error, timeout)) from None
            aside = move_aside(self.path, 'corrupt')
            log.warning('the database %s could not be read (%s); moved it aside to %s (with its -wal and -shm '
                        'files, if any) and started a new one', self.path, error, aside.name)
        try:
            return self._open(timeout)
        except sqlite3.DatabaseError as error:
            raise DataDirError(_open_problem(self.path, error, timeout)) from None

    def _open(self, timeout: float) -> sqlite3.Connection:
        if self.path.exists():
            self._check(timeout)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=timeout)
        try:
            db.execute('PRAGMA journal_mode=WAL')
            db.execute('PRAGMA synchronous=NORMAL')
            db.execute('PRAGMA foreign_keys=ON')
            prepare(db)
            _add_columns(db, 'tasks', STALL_COLUMNS)
            db.execute(EVENTS_TABLE)
            _add_columns(db, 'events', SOURCE_COLUMN)
        except BaseException:
            db.close()
            raise
        return db

    def _check(self, timeout: float) -> None:
        """Look at the database through a read-only connection first: one that can write would, on closing,
        checkpoint the log into a damaged or newer file, or delete a -wal it does not understand."""
        probe = sqlite3.connect(f'{self.path.resolve().as_uri()}?mode=ro', uri=True, timeout=timeout)
        try:
            (ok,) = probe.execute('PRAGMA quick_check').fetchone()
            if ok != 'ok':
                raise Corrupt(f'quick_check: {ok}')
            version = stored_version(probe)
            if version is not None and version > SCHEMA_VERSION:
                raise NewerSchema(version)
        finally:
            probe.close()

    def close(self) -> None:
        self._db.close()
        self._lock.release()

    # ---- writing ----------------------------------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        """All of a batch in one transaction. A task whose percent alone changed is written as that percent alone
        (an UPDATE of one column): the percents of 10,000 running tasks take a third of the time that way."""
        with self._transaction():
            self._db.executemany(RUN_UPSERT, batch.runs)
            self._db.executemany(
                f'INSERT OR REPLACE INTO tasks (run_id, {", ".join(TASK_COLUMNS)}) '
                f'VALUES (?, {", ".join("?" * len(TASK_COLUMNS))})', batch.tasks)
            self._db.executemany('UPDATE tasks SET progress = ?3 WHERE run_id = ?1 AND id = ?2', batch.percents)
            self._db.executemany(
                f'INSERT OR IGNORE INTO attempts (run_id, {", ".join(ATTEMPT_COLUMNS)}) '
                f'VALUES (?, {", ".join("?" * len(ATTEMPT_COLUMNS))})', batch.attempts)
            self._db.executemany(
                f'INSERT OR IGNORE INTO events (run_id, {", ".join(EVENT_COLUMNS)}) '
                f'VALUES (?, {", ".join("?" * len(EVENT_COLUMNS))})', batch.events)
            if batch.reset_after is not None:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('reset_after_run', ?)", (batch.reset_after,))

    def prune(self) -> int:
        """Drop the oldest runs beyond `keep_runs` (their tasks and attempts with them); returns how many went."""
        with self._transaction():
            cursor = self._db.execute(
                'DELETE FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?)', (self.keep_runs,))
        return cursor.rowcount

    # ---- reading ----------------------------------------------------------------------------------------------

    def runs(self, limit: int | None = None) -> list[RunRow]:
        rows = self._db.execute(f'SELECT {", ".join(RUN_COLUMNS)} FROM runs ORDER BY id DESC LIMIT ?',
                                (limit if limit is not None else -1,)).fetchall()
        return [_run_row(row) for row in rows]

    def run(self, run_id: int) -> RunRow | None:
        row = self._db.execute(f'SELECT {", ".join(RUN_COLUMNS)} FROM runs WHERE id = ?', (run_id,)).fetchone()
        return _run_row(row) if row else None

    def tasks(self, run_id: int, *, earlier_limit: int | None = None) -> list[Task]:
        """The tasks of a run, each with its earlier attempts (all of them, or the last `earlier_limit`)."""
        earlier: dict[int, list[Attempt]] = {}
        for task_id, *values in self._db.execute(
                f'SELECT {", ".join(ATTEMPT_COLUMNS)} FROM attempts WHERE run_id = ? ORDER BY task_id, number',
                (run_id,)):
            earlier.setdefault(task_id, []).append(Attempt(*values))
        rows = self._db.execute(f'SELECT {", ".join(TASK_COLUMNS)} FROM tasks WHERE run_id = ? ORDER BY id',
                                (run_id,)).fetchall()
        return [Task(id=r[0], status=TaskStatus(r[1]), progress=r[2], duration=r[3], fail_at=r[4], started_s=r[5],
                     finished_s=r[6], error=r[7], attempt=r[8], stall_at=r[9], stall_for=r[10], stalled_from=r[11],
                     stalled_until=r[12], stalled=bool(r[13]),
                     earlier=earlier.get(r[0], [])[-earlier_limit if earlier_limit else None:]) for r in rows]

    def events(self, run_id: int) -> list[RunEvent]:
        """What happened to the run, in order (none for a run stored by the taskdemo before events)."""
        rows = self._db.execute(f'SELECT {", ".join(EVENT_COLUMNS[1:])} FROM events WHERE run_id = ? ORDER BY seq',
                                (run_id,))
        return [RunEvent(at_s=at_s, kind=EventKind(kind), wall=wall, tasks=tuple(json.loads(tasks)), crash=bool(crash),
                         source=source) for at_s, kind, wall, tasks, crash, source in rows]

    def events_to_restore(self, run: Run) -> list[RunEvent]:
        """The events of `run` as `last_run` gave it back: one found interrupted whose log does not end so was
        cut off without a clean stop (a crash, a kill), and gets the interruption it could not write."""
        return crash_noted(run, self.events(run.id))

    def newest_run_id(self) -> int:
        """The number of the newest run on disk (0 when there is none): new runs are numbered after it."""
        return self._db.execute('SELECT COALESCE(MAX(id), 0) FROM runs').fetchone()[0]

    def last_run(self) -> tuple[Run, list[Task]] | None:
        """The newest run as the simulator knows runs. A run stored as running did not end cleanly (a crash, a
        kill): it comes back interrupted, and so do its running tasks, with the progress last written. None when
        there is no run, or the board was reset after the newest one."""
        rows = self.runs(limit=1)
        reset = self._db.execute("SELECT value FROM meta WHERE key = 'reset_after_run'").fetchone()
        if not rows or (reset is not None and int(reset[0]) >= rows[0].id):
            return None
        row = rows[0]
        settings = RunSettings(**row.settings)
        tasks = self.tasks(row.id, earlier_limit=MAX_EARLIER)
        if len(tasks) < row.total:  # cut off before its tasks were written: plan them again from the seed
            stored = {task.id for task in tasks}
            tasks = sorted(tasks + [task for task in plan_tasks(settings, row.seed) if task.id not in stored],
                           key=lambda task: task.id)
            for task in tasks:
                if task.id not in stored and (not settings.concurrency or task.id < settings.concurrency):
                    task.status, task.started_s = TaskStatus.RUNNING, 0.0
        state, finished_s = RunState(row.state), row.finished_s
        if state == RunState.RUNNING:
            state, finished_s = RunState.INTERRUPTED, row.elapsed_s
            for task in tasks:
                if task.status == TaskStatus.RUNNING:
                    # as `Simulator.interrupt` leaves it: no longer flagged (only a running task is); a hang it was
                    # in comes back with `resume`, which flags it again when the rule says
                    task.status, task.stalled = TaskStatus.INTERRUPTED, False
        run = Run(id=row.id, settings=settings, seed=row.seed, started_at=row.started_at, elapsed_s=row.elapsed_s,
                  state=state, finished_s=finished_s)
        return run, tasks

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute('BEGIN IMMEDIATE')

    def __exit__(self, kind: type | None, *_: object) -> None:
        self._db.execute('COMMIT' if kind is None else 'ROLLBACK')


def task_row(run_id: int, task: Task) -> tuple:
    """A task as the tasks table holds it (run_id, then TASK_COLUMNS)."""
    return (run_id, task.id, task.status.value, task.progress, task.duration, task.fail_at, task.started_s,
            task.finished_s, task.error, task.attempt, task.stall_at, task.stall_for, task.stalled_from,
            task.stalled_until, int(task.stalled))


def attempt_rows(run_id: int, task: Task) -> list[tuple]:
    """The task's earlier attempts as the attempts table holds them (run_id, then ATTEMPT_COLUMNS)."""
    return [(run_id, task.id, a.number, a.duration, a.progress, a.started_s, a.finished_s, a.error)
            for a in task.earlier]


def event_row(run_id: int, seq: int, event: RunEvent) -> tuple:
    """An event as the events table holds it (run_id, then EVENT_COLUMNS)."""
    return (run_id, seq, event.at_s, event.kind.value, event.wall, json.dumps(list(event.tasks)), int(event.crash),
            event.source)


def _add_columns(db: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    """Give `table` the `columns` it lacks (a database of the taskdemo before hangs, or before sources)."""
    have = {row[1] for row in db.execute(f'PRAGMA table_info({table})')}
    missing = [name for name in columns if name not in have]
    if not missing:
        return
    db.execute('BEGIN IMMEDIATE')
    try:
        for name in missing:
            db.execute(f'ALTER TABLE {table} ADD COLUMN {name} {columns[name]}')
    except BaseException:
        db.execute('ROLLBACK')
        raise
    db.execute('COMMIT')
    log.info('the %s table of the database gained the columns %s', table, ', '.join(missing))


def _is_corrupt(error: sqlite3.DatabaseError) -> bool:
    return isinstance(error, Corrupt) or getattr(error, 'sqlite_errorname', None) in CORRUPT


def _open_problem(path: Path, error: sqlite3.DatabaseError, timeout: float) -> str:
    if getattr(error, 'sqlite_errorname', None) in {'SQLITE_BUSY', 'SQLITE_LOCKED'}:
        return (f'the database {path} is locked by another program (waited {timeout:g} s); close that program, '
                'or use another --data-dir')
    return f'the database {path} cannot be opened: {error}'


def _run_row(row: tuple) -> RunRow:
    values = dict(zip(RUN_COLUMNS, row, strict=True))
    values['settings'] = json.loads(values['settings'])
    return RunRow(**values)
