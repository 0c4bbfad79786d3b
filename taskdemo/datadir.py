"""The data folder: one owner at a time, and files that are moved aside, never deleted.

A board that runs takes an OS-level lock on its data folder (`filelock`, an flock the kernel drops when the process
dies, so a `kill -9` never leaves a stale lock behind). A second board on the same folder would restore the first
one's live run as interrupted, offer to resume it and run finished tasks again, both writing the same run; instead
it stops with one line that names the folder and the process that holds it.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = 'taskdemo.lock'
OWNER_NAME = 'taskdemo.lock.owner'  # who holds the lock: read by a second board to say whom it found


class DataDirError(Exception):
    """The data folder cannot be used (not writable, in use, made by a newer taskdemo, ...); the message says which
    and why, in one line."""


class DataDirLock:
    """The lock on one data folder, held from `acquire()` to `release()` (or the end of the process)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = FileLock(data_dir / LOCK_NAME)

    def acquire(self) -> None:
        """Take the lock at once, or raise DataDirError naming the process that has it."""
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise DataDirError(f'the data folder {self.data_dir} is in use by {self._holder()}; stop that one, '
                               'or use another --data-dir') from None
        except OSError as error:
            raise DataDirError(f'the data folder {self.data_dir} cannot be locked: {error.strerror or error}') from None
        owner = {'pid': os.getpid(), 'host': socket.gethostname(), 'since': time.strftime('%Y-%m-%d %H:%M:%S')}
        try:
            (self.data_dir / OWNER_NAME).write_text(json.dumps(owner))
        except OSError:
            pass  # the lock is what counts; the note only makes the message of a second board clearer

    def release(self) -> None:
        if self._lock.is_locked:
            (self.data_dir / OWNER_NAME).unlink(missing_ok=True)
            self._lock.release()

    def _holder(self) -> str:
        try:
            owner = json.loads((self.data_dir / OWNER_NAME).read_text())
            return f'another taskdemo (process {owner["pid"]} on {owner["host"]}, since {owner["since"]})'
        except (OSError, ValueError, KeyError, TypeError):
            return 'another taskdemo (its process number is not known yet)'


def check_writable(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / '.taskdemo-write-test'
        probe.write_text('ok')
        probe.unlink()
    except OSError as error:
        raise DataDirError(f'the data folder {data_dir} cannot be written: {error.strerror or error}') from None


def move_aside(path: Path, why: str) -> Path:
    """Rename a database and its write-ahead log and shared-memory files together (`<name>.<why>-<time>`, plus
    `-wal` and `-shm`, so SQLite pairs them again if the file is opened): committed transactions still in the log
    stay with the database they belong to. Nothing is deleted. Returns the new path of the database."""
    aside = path.with_name(f'{path.name}.{why}-{time.strftime("%Y%m%d-%H%M%S")}')
    while any(Path(f'{aside}{suffix}').exists() for suffix in ('', '-wal', '-shm')):
        aside = aside.with_name(aside.name + '-1')  # twice in one second: never over an earlier one
    for suffix in ('-wal', '-shm', ''):  # the database last: until then it still has its log beside it
        source = Path(f'{path}{suffix}')
        if source.exists():
            source.rename(f'{aside}{suffix}')
    return aside
