"""The tables runs are stored in, and how a database made by an older taskdemo is brought up to date.

A database made by a newer taskdemo is left exactly as it is: `prepare` raises NewerSchema before it writes a byte.
"""
from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # 2: tasks gained attempt and earlier (retries); 3: earlier attempts in a table of their own
# a run's events (model.RunEvent): a table of its own, made when missing, like the stall columns: the taskdemo
# before it opens such a database all the same, and its runs simply have no events
EVENTS_TABLE = """
CREATE TABLE IF NOT EXISTS events (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    at_s REAL NOT NULL,
    kind TEXT NOT NULL,
    wall REAL NOT NULL,
    tasks TEXT NOT NULL DEFAULT '[]',
    crash INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID
"""

ATTEMPTS_TABLE = """
CREATE TABLE IF NOT EXISTS attempts (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    duration REAL NOT NULL,
    progress INTEGER NOT NULL,
    started_s REAL,
    finished_s REAL,
    error TEXT,
    PRIMARY KEY (run_id, task_id, number)
) WITHOUT ROWID;
"""
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
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
CREATE TABLE tasks (
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
    PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
""" + ATTEMPTS_TABLE
MIGRATIONS = {  # schema version -> what brings a database of the version before up to it
    2: ('ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1', 'ALTER TABLE tasks ADD COLUMN earlier TEXT'),
    3: (ATTEMPTS_TABLE,
        "INSERT OR IGNORE INTO attempts SELECT t.run_id, t.id, json_extract(a.value, '$.number'), "
        "json_extract(a.value, '$.duration'), json_extract(a.value, '$.progress'), "
        "json_extract(a.value, '$.started_s'), json_extract(a.value, '$.finished_s'), "
        "json_extract(a.value, '$.error') FROM tasks AS t, json_each(t.earlier) AS a WHERE t.earlier IS NOT NULL",
        'ALTER TABLE tasks DROP COLUMN earlier'),
}


class NewerSchema(Exception):
    """The database was made by a newer taskdemo; this one cannot read it and must not change it."""

    def __init__(self, version: int) -> None:
        super().__init__(f'schema {version}')
        self.version = version


def prepare(db: sqlite3.Connection) -> None:
    """Make a new database whole, or bring an older one up to SCHEMA_VERSION; raise NewerSchema for a newer one."""
    version = stored_version(db)
    if version is None:
        db.execute('BEGIN IMMEDIATE')
        for statement in SCHEMA.split(';'):
            if statement.strip():
                db.execute(statement)
        db.execute('INSERT INTO meta VALUES (?, ?)', ('schema_version', str(SCHEMA_VERSION)))
        db.execute('COMMIT')
        return
    if version > SCHEMA_VERSION:
        raise NewerSchema(version)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        db.execute('BEGIN IMMEDIATE')
        try:
            for statement in MIGRATIONS[step]:
                db.execute(statement)
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(step),))
        except BaseException:
            db.execute('ROLLBACK')
            raise
        db.execute('COMMIT')
        log.info('the database was brought up to schema version %d', step)


def stored_version(db: sqlite3.Connection) -> int | None:
    """The schema version a database says it has; None for a new (empty) database."""
    has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None
