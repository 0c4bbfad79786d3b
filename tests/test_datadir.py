"""The data folder: one owner at a time, and a database is never discarded: real corruption moves it aside with its
-wal and -shm files (renamed, not deleted); a newer schema or a lock held by another program stops the program with
one line and leaves every file as it was."""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from taskdemo.datadir import LOCK_NAME, DataDirError
from taskdemo.schema import SCHEMA_VERSION
from taskdemo.store import FILE_NAME, Store

from .helpers import ROOT, Server, clean_env, free_port


def fingerprint(folder: Path, *, every_file: bool = False) -> dict[str, str]:
    """The files of the folder that hold data, by name, with a hash of their bytes. Not the lock's files, nor
    (unless `every_file`) an empty log or an -shm: SQLite makes and rewrites those freely, even to read."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())
            if path.is_file() and not path.name.startswith(LOCK_NAME)
            and (every_file or (path.stat().st_size and not path.name.endswith('-shm')))}


def run_main(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'main.py', '--port', str(free_port()), *args], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def write_in_the_log_and_die(folder: Path) -> None:
    """A run committed by a process that dies before any checkpoint: its rows live only in the -wal file."""
    script = textwrap.dedent(f"""
        import os, sqlite3
        from pathlib import Path
        from taskdemo.model import Task, TaskStatus
        from taskdemo.store import Store, Batch, task_row
        store = Store(Path({str(folder)!r}))
        store._db.execute('PRAGMA wal_autocheckpoint = 0')
        task = Task(id=0, duration=3.0, status=TaskStatus.COMPLETED, progress=100, started_s=0.0, finished_s=3.0)
        store.write(Batch(runs=[(1, 1000.0, '{{"tasks": 1}}', 5, 'completed', 3.0, 3.0, 1, 1, 0, 0)],
                          tasks=[task_row(1, task)]))
        os._exit(0)  # no close, no checkpoint: as a kill would leave it
    """)
    subprocess.run([sys.executable, '-c', script], cwd=ROOT, check=True, timeout=60)
    assert (folder / f'{FILE_NAME}-wal').stat().st_size > 0, 'the committed run is in the write-ahead log only'


# ---- one owner ------------------------------------------------------------------------------------------------

def test_a_second_store_on_the_same_folder_is_refused_naming_the_holder(tmp_path: Path):
    first = Store(tmp_path)
    try:
        with pytest.raises(DataDirError, match=rf'{tmp_path} is in use by another taskdemo \(process {os.getpid()}'):
            Store(tmp_path)
    finally:
        first.close()
    Store(tmp_path).close()  # released with the first one's close


def test_a_second_board_on_the_same_folder_exits_2_naming_the_first_and_a_kill_9_leaves_no_stale_lock(tmp_path):
    server = Server('--seed', '3', log_dir=tmp_path)
    server.start()
    try:
        second = run_main('--data-dir', str(tmp_path / 'data'))
        assert second.returncode == 2 and 'Traceback' not in second.stderr
        (line,) = second.stderr.strip().splitlines()
        assert str(tmp_path / 'data') in line and f'process {server.process.pid}' in line, line
        server.stop(kill=True)  # kill -9: the lock goes with the process
        server.start()  # and a restart on the same folder is not blocked
    finally:
        server.stop()


# ---- never discard a database ---------------------------------------------------------------------------------

def test_a_file_that_is_not_a_database_goes_aside_with_its_log_files_renamed_not_deleted(tmp_path: Path, caplog):
    (tmp_path / FILE_NAME).write_bytes(b'this is not a database' * 100)
    (tmp_path / f'{FILE_NAME}-wal').write_bytes(b'a log that belongs to it')
    (tmp_path / f'{FILE_NAME}-shm').write_bytes(b'its shared memory')
    before = fingerprint(tmp_path, every_file=True)
    store = Store(tmp_path)
    assert store.runs() == []
    store.close()
    after = fingerprint(tmp_path, every_file=True)
    aside = sorted(name for name in after if '.corrupt-' in name)
    assert len(aside) == 3 and [name[len(aside[0]):] for name in aside] == ['', '-shm', '-wal']
    # the same bytes under new names (-shm is SQLite's index of the log, rebuilt from it: it may be rewritten)
    assert after[aside[0]] == before[FILE_NAME] and after[aside[2]] == before[f'{FILE_NAME}-wal']
    assert 'moved it aside' in caplog.text


def test_a_malformed_database_goes_aside_and_a_fresh_one_is_made(tmp_path: Path):
    store = Store(tmp_path)
    store._db.execute('CREATE TABLE filler (x TEXT)')
    store._db.executemany('INSERT INTO filler VALUES (?)', [('x' * 500,) for _ in range(200)])
    store.close()
    data = bytearray((tmp_path / FILE_NAME).read_bytes())
    page = 4096
    data[3 * page:6 * page] = b'\xff' * (3 * page)  # b-tree pages scribbled over, the header intact
    (tmp_path / FILE_NAME).write_bytes(bytes(data))
    store = Store(tmp_path)
    assert store.runs() == [] and store.newest_run_id() == 0
    store.close()
    (aside,) = [p for p in tmp_path.iterdir() if p.name.startswith(f'{FILE_NAME}.corrupt-') and '-' not in p.name[-4:]]
    assert aside.read_bytes() == bytes(data)


def test_a_database_of_a_newer_taskdemo_stops_the_program_and_is_left_as_it_is(tmp_path: Path):
    write_in_the_log_and_die(tmp_path)
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()  # the last connection to close checkpoints the log: compare from here on
    before = fingerprint(tmp_path)
    with pytest.raises(DataDirError, match=rf'made by a newer taskdemo \(schema {SCHEMA_VERSION + 1}\); upgrade, '
                                           'or use another --data-dir'):
        Store(tmp_path)
    assert fingerprint(tmp_path) == before
    result = run_main('--data-dir', str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f'made by a newer taskdemo (schema {SCHEMA_VERSION + 1})' in result.stderr
    assert fingerprint(tmp_path) == before


def hold_exclusively(path: Path) -> sqlite3.Connection:
    """Another program's connection that keeps the database locked: nobody else may even read it."""
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute('PRAGMA locking_mode = EXCLUSIVE')
    blocker.execute('BEGIN EXCLUSIVE')
    blocker.execute("INSERT OR REPLACE INTO meta VALUES ('held', 'yes')")
    return blocker


def test_a_lock_held_at_open_is_waited_for_then_one_clear_error_and_the_committed_log_survives(tmp_path: Path):
    write_in_the_log_and_die(tmp_path)
    blocker = hold_exclusively(tmp_path / FILE_NAME)
    try:
        with pytest.raises(DataDirError, match=r'is locked by another program \(waited 0.3 s\)'):
            Store(tmp_path, open_timeout=0.3)
        assert not [p for p in tmp_path.iterdir() if '.corrupt-' in p.name], 'a lock is not corruption'
        assert (tmp_path / f'{FILE_NAME}-wal').exists()
    finally:
        blocker.execute('ROLLBACK')
        blocker.close()
    store = Store(tmp_path)
    assert [(row.id, row.state) for row in store.runs()] == [(1, 'completed')], 'the run committed in the log'
    store.close()


def test_a_lock_released_while_waiting_lets_the_store_open(tmp_path: Path):
    Store(tmp_path).close()
    blocker = hold_exclusively(tmp_path / FILE_NAME)
    release = threading.Timer(0.2, lambda: (blocker.execute('ROLLBACK'), blocker.close()))
    release.start()  # the other program lets go while the store waits
    try:
        store = Store(tmp_path, open_timeout=10)
    finally:
        release.join()
    assert [row for row in store._db.execute("SELECT * FROM meta WHERE key = 'held'")] == [], 'its change was undone'
    store.close()


def test_the_command_line_waits_for_a_locked_database_then_exits_2_with_one_line(tmp_path: Path):
    Store(tmp_path).close()
    blocker = hold_exclusively(tmp_path / FILE_NAME)
    try:
        result = run_main('--data-dir', str(tmp_path))
    finally:
        blocker.execute('ROLLBACK')
        blocker.close()
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert 'is locked by another program (waited 5 s)' in line and str(tmp_path) in line
