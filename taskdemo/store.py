"""Runs on disk: SQLite from the standard library, in WAL mode, in one file in the data folder.

Every method here blocks; the app calls them from one writer thread (see recorder.py), never from the event
loop. A database file that cannot be read is moved aside with a warning and a fresh one is made.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import RunSettings
from .simulator import Attempt, Run, RunState, Task, TaskStatus, plan_tasks

log = logging.getLogger(__name__)

FILE_NAME = 'taskdemo.sqlite3'
SCHEMA_VERSION = 2  # 2: tasks gained attempt and earlier (retries)
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    settings TEXT NOT NULL,
    seed INTEGER NOT NULL,
    state TEXT NOT NULL,
    elapsed_s REAL NOT NULL DEFAULT 0,
    finished_s REAL,
    total INTEGER NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tasks (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    status TEXT NOT NULL,
    progress INTEGER NOT NULL,
    duration REAL NOT NULL,
    fail_at INTEGER,
    started_s REAL,
    finished_s REAL,
    error TEXT,
    attempt INTEGER NOT NULL DEFAULT 1,
    earlier TEXT,
    PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
"""
RUN_COLUMNS = ('id', 'started_at', 'settings', 'seed', 'state', 'elapsed_s', 'finished_s', 'total', 'completed',
               'failed', 'cancelled')
# an upsert, not INSERT OR REPLACE: replacing a run row would delete it first, and its tasks with it (cascade)
RUN_UPSERT = (f'INSERT INTO runs ({", ".join(RUN_COLUMNS)}) VALUES ({", ".join("?" * len(RUN_COLUMNS))}) '
              f'ON CONFLICT(id) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in RUN_COLUMNS[1:])}')
TASK_COLUMNS = ('id', 'status', 'progress', 'duration', 'fail_at', 'started_s', 'finished_s', 'error', 'attempt',
                'earlier')  # earlier: the attempts before this one, as a JSON list (NULL when there were none)
MIGRATIONS = {  # schema version -> what brings a database of the version before up to it
    2: ('ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1', 'ALTER TABLE tasks ADD COLUMN earlier TEXT'),
}


class DataDirError(Exception):
    """The data folder cannot be used (not writable, not a folder); the message says which and why."""


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


class Store:
    def __init__(self, data_dir: Path, *, keep_runs: int = 100) -> None:
        self.path = data_dir / FILE_NAME
        self.keep_runs = keep_runs
        self._start_db: sqlite3.Connection | None = None
        _check_writable(data_dir)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as error:
            aside = self.path.with_name(f'{FILE_NAME}.corrupt-{time.strftime("%Y%m%d-%H%M%S")}')
            log.warning('the database %s could not be read (%s); moved it aside to %s and started a new one',
                        self.path, error, aside.name)
            self.path.rename(aside)
            for suffix in ('-wal', '-shm'):
                Path(f'{self.path}{suffix}').unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute('PRAGMA journal_mode=WAL')
            db.execute('PRAGMA synchronous=NORMAL')
            db.execute('PRAGMA foreign_keys=ON')
            (ok,) = db.execute('PRAGMA quick_check').fetchone()
            if ok != 'ok':
                raise sqlite3.DatabaseError(f'quick_check: {ok}')
            db.executescript(SCHEMA)
            _migrate(db)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        self._db.close()
        if self._start_db is not None:
            self._start_db.close()

    # ---- writing ----------------------------------------------------------------------------------------------

    def write(self, runs: list[tuple], tasks: list[tuple], percents: list[tuple] = ()) -> None:
        """In one transaction: upsert run rows (RUN_COLUMNS) and task rows (run_id + TASK_COLUMNS), then set the
        percent of tasks already stored whose percent alone changed (`percents`: run_id, id, progress); the
        percent of 10,000 running tasks takes a third of the time that way."""
        with self._transaction():
            self._db.executemany(RUN_UPSERT, runs)
            self._db.executemany(
                f'INSERT OR REPLACE INTO tasks (run_id, {", ".join(TASK_COLUMNS)}) '
                f'VALUES (?, {", ".join("?" * len(TASK_COLUMNS))})', tasks)
            self._db.executemany('UPDATE tasks SET progress = ?3 WHERE run_id = ?1 AND id = ?2', percents)

    def record_start(self, run: tuple) -> None:
        """Write a new run's row (settings, seed) at once, from the event loop, on a connection of its own: one
        small row, so that a run exists on disk before it makes any progress. Its tasks follow with the next
        batch; until then the seed alone can plan them again (see last_run)."""
        if self._start_db is None:
            # timeout 0: this runs on the event loop, and must never wait for a lock; the next batch writes the row
            self._start_db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=0)
        self._start_db.execute(RUN_UPSERT, run)

    def mark_reset(self) -> None:
        """The board was reset after the newest run: a restart then shows an idle board, not that run."""
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('reset_after_run', "
                             "(SELECT COALESCE(MAX(id), 0) FROM runs))")

    def prune(self) -> int:
        """Drop the oldest runs beyond `keep_runs`; returns how many went."""
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

    def tasks(self, run_id: int) -> list[Task]:
        rows = self._db.execute(f'SELECT {", ".join(TASK_COLUMNS)} FROM tasks WHERE run_id = ? ORDER BY id',
                                (run_id,)).fetchall()
        return [Task(id=r[0], status=TaskStatus(r[1]), progress=r[2], duration=r[3], fail_at=r[4], started_s=r[5],
                     finished_s=r[6], error=r[7], attempt=r[8],
                     earlier=[Attempt(**attempt) for attempt in json.loads(r[9])] if r[9] else []) for r in rows]

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
        tasks = self.tasks(row.id)
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
                    task.status = TaskStatus.INTERRUPTED
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


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a database written by an older taskdemo up to SCHEMA_VERSION (a new one is created at it)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:  # a new database: SCHEMA made it whole
        db.execute('INSERT INTO meta VALUES (?, ?)', ('schema_version', str(SCHEMA_VERSION)))
        return
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f'schema version {version} is newer than this taskdemo ({SCHEMA_VERSION})')
    for step in range(version + 1, SCHEMA_VERSION + 1):
        db.execute('BEGIN IMMEDIATE')
        for statement in MIGRATIONS[step]:
            db.execute(statement)
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(step),))
        db.execute('COMMIT')
        log.info('the database was brought up to schema version %d', step)


def task_row(run_id: int, task: Task) -> tuple:
    """A task as the tasks table holds it (run_id, then TASK_COLUMNS)."""
    earlier = json.dumps([attempt.as_dict() for attempt in task.earlier]) if task.earlier else None
    return (run_id, task.id, task.status.value, task.progress, task.duration, task.fail_at, task.started_s,
            task.finished_s, task.error, task.attempt, earlier)


def _run_row(row: tuple) -> RunRow:
    values = dict(zip(RUN_COLUMNS, row, strict=True))
    values['settings'] = json.loads(values['settings'])
    return RunRow(**values)


def _check_writable(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / '.taskdemo-write-test'
        probe.write_text('ok')
        probe.unlink()
    except OSError as error:
        raise DataDirError(f'the data folder {data_dir} cannot be written: {error.strerror or error}') from None
