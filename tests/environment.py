"""What a test needs from the machine, and what happens without it: the test skips and says why, or, with the
environment variable CI set, fails, so that a CI machine cannot pass by skipping.

The file system faults are real: a small tmpfs that really fills up, or that is mounted read-only. Mounting needs
root (CAP_SYS_ADMIN); CI runs as root, so there these tests run.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def require(reason: str | None) -> None:
    """Skip with the reason, or fail when running in CI; nothing when `reason` is None."""
    if reason is None:
        return
    if os.environ.get('CI'):
        pytest.fail(f'{reason} (CI is set, so this is a failure, not a skip)')
    pytest.skip(reason)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = '4m', *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` for the block, unmounted after it whatever happens."""
    path.mkdir(parents=True, exist_ok=True)
    options = f'size={size},mode=0755' + (',ro' if read_only else '')
    require(_mount('-t', 'tmpfs', '-o', options, 'tmpfs', str(path)))
    try:
        yield path
    finally:
        subprocess.run(['umount', '-l', str(path)], check=False, capture_output=True, timeout=10)


def remount_read_only(path: Path) -> None:
    """Make the tmpfs at `path` read-only from now on, as a disk remounted read-only after an error is."""
    require(_mount('-o', 'remount,ro', str(path)))


def _mount(*args: str) -> str | None:
    """Run `mount` with these arguments: None when it worked, otherwise why not."""
    command = ['mount', *args]
    if os.geteuid() != 0:
        return f'`{" ".join(command)}` needs root'
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=10)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = ' '.join((getattr(error, 'stderr', None) or '').split()) or str(error)
        return f'`{" ".join(command)}` was refused here: {detail}'
    return None
