"""Installed like a real tool, outside the checkout: the sdist and the wheel carry every file under taskdemo/, the
wheel installs into a fresh venv, and the installed `taskdemo` command serves a board that Chromium sees draw its
grid and finish a run.

The wheel is built from the sdist (as `python -m build` does by default): that proves the sdist holds all a build
needs, and no stale `build/` folder of the checkout can slip a file into the wheel. One build and one venv serve
the whole module; they take most of its time.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from taskdemo import __version__

from ..environment import require
from ..helpers import ROOT, Server, clean_env

SPEED = '60'  # tasks of 30-120 simulated seconds take 0.5-2 s
RUN_TIMEOUT_MS = 30_000


def test_the_sdist_and_the_wheel_carry_every_file_under_taskdemo(dists: dict[str, Path]):
    needed = package_files()
    assert any(not name.endswith('.py') for name in needed), 'the checkout has files besides Python modules'
    with tarfile.open(dists['sdist']) as sdist:
        in_sdist = {name.split('/', 1)[1] for name in sdist.getnames() if '/' in name}
    with zipfile.ZipFile(dists['wheel']) as wheel:
        in_wheel = set(wheel.namelist())
    assert sorted(needed - in_sdist) == [], 'files of taskdemo/ missing from the sdist'
    assert sorted({'README.md', 'LICENSE', 'pyproject.toml', 'MANIFEST.in', 'main.py'} - in_sdist) == []
    assert sorted(needed - in_wheel) == [], 'files of taskdemo/ missing from the wheel'
    assert {name.split('/')[0] for name in in_wheel} == {'taskdemo', f'taskdemo-{__version__}.dist-info'}
    assert [name for name in in_wheel if name.endswith(('.pyc', '.pyo'))] == []


def test_the_installed_board_draws_its_grid_and_finishes_a_run(installed: Installed, browser):
    server = Server('--host', '127.0.0.1', '--speed', SPEED, '--seed', '5', log_dir=installed.home,
                    command=(str(installed.bin / 'taskdemo'),), cwd=installed.home, env=installed.env)
    with server:
        assert httpx.get(f'{server.base}/openapi.json').json()['info']['version'] == __version__
        context = browser.new_context(viewport={'width': 1280, 'height': 900})
        errors: list[str] = []
        try:
            page = context.new_page()
            page.on('pageerror', lambda error: errors.append(f'page error: {error}'))
            page.on('console', lambda message: errors.append(f'console: {message.text}')
                    if message.type == 'error' else None)
            page.goto(server.base)
            cards = page.locator('.task-grid .task-card')
            expect(cards).to_have_count(50)  # drawn by task_grid.js: the file the wheel once lacked
            page.get_by_role('button', name='Start Process').click()
            expect(page.get_by_role('button', name='Completed! Start over?')).to_be_enabled(timeout=RUN_TIMEOUT_MS)
            completed = page.locator('.task-grid .task-completed').count()
            failed = page.locator('.task-grid .task-failed').count()
            assert completed + failed == 50 and completed > 0
            expect(page.get_by_text(f'Completed: {completed}', exact=True)).to_be_visible()
            expect(page.get_by_text(f'Failed: {failed}', exact=True)).to_be_visible()
            expect(page.get_by_text('100% · 50 of 50 finished')).to_be_visible()
        finally:
            context.close()
    assert errors == []
    assert 'Traceback' not in server.log(), server.log()


def test_the_installed_commands_tell_their_version_and_their_name(installed: Installed):
    where = installed.run('python', '-c', 'import taskdemo; print(taskdemo.__file__)').stdout.strip()
    assert Path(where).is_relative_to(installed.venv), f'taskdemo imported from {where}, not from the venv'
    for command in (('taskdemo',), ('python', '-m', 'taskdemo')):
        shown = installed.run(*command, '--version')
        assert (shown.returncode, shown.stdout, shown.stderr) == (0, f'taskdemo {__version__}\n', '')
    for command, name in ((('taskdemo',), 'taskdemo'), (('python', '-m', 'taskdemo'), 'python -m taskdemo')):
        bad = installed.run(*command, '--tasks', '0')
        assert bad.returncode == 2 and bad.stdout == ''
        assert len(bad.stderr.splitlines()) == 1 and bad.stderr.startswith(f'{name}: error: --tasks '), bad.stderr


def test_taskdemo_takes_exactly_the_flags_of_main_py(installed: Installed):
    checkout = subprocess.run([sys.executable, 'main.py', '--help'], cwd=ROOT, env=clean_env(), capture_output=True,
                              text=True, timeout=60)
    as_tool, as_module = installed.run('taskdemo', '--help'), installed.run('python', '-m', 'taskdemo', '--help')
    assert checkout.returncode == as_tool.returncode == as_module.returncode == 0
    assert checkout.stdout.startswith('usage: main.py ')
    assert as_tool.stdout.startswith('usage: taskdemo ')
    assert as_module.stdout.startswith('usage: python -m taskdemo ')
    flags = flags_in(checkout.stdout)
    assert {'--help', '--version', '--port', '--data-dir', '--native'} <= flags  # the help text was read
    assert flags_in(as_tool.stdout) == flags
    assert flags_in(as_module.stdout) == flags


@dataclass(frozen=True)
class Installed:
    """A fresh venv with the wheel installed; every command runs from `home`, a folder outside the checkout."""
    home: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / 'bin'

    @property
    def env(self) -> dict[str, str]:
        return outside_env(VIRTUAL_ENV=str(self.venv), PATH=f'{self.bin}{os.pathsep}{os.environ.get("PATH", "")}')

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / program), *args], cwd=self.home, env=self.env, capture_output=True,
                              text=True, timeout=60)


@pytest.fixture(scope='module')
def dists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The sdist of the checkout, and the wheel built from it."""
    require(None if importlib.util.find_spec('build') else "the build package is missing: pip install -e '.[test]'")
    out = tmp_path_factory.mktemp('dist')
    built = subprocess.run([sys.executable, '-m', 'build', '--outdir', str(out), str(ROOT)], cwd=out,
                           env=outside_env(), capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    (sdist,) = out.glob('taskdemo-*.tar.gz')
    (wheel,) = out.glob('taskdemo-*.whl')
    yield {'sdist': sdist, 'wheel': wheel}
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope='module')
def installed(dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel in a fresh venv outside the checkout, with its dependencies (pip may take them from its cache).

    This pip installs into the new venv (`--python`), which saves seeding it with a pip of its own; `--no-compile`
    leaves the bytecode to the first import. Both only save time (about 20 s on 2 busy cores)."""
    home = tmp_path_factory.mktemp('installed').resolve()
    assert not home.is_relative_to(ROOT.resolve()), f'{home} is inside the checkout'
    venv = home / 'venv'
    for command in ([sys.executable, '-m', 'venv', '--without-pip', str(venv)],
                    [sys.executable, '-m', 'pip', '--python', str(venv / 'bin' / 'python'), 'install', '--no-compile',
                     '--disable-pip-version-check', '--no-input', str(dists['wheel'])]):
        done = subprocess.run(command, cwd=home, env=outside_env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    yield Installed(home, venv)
    shutil.rmtree(venv, ignore_errors=True)  # a few hundred MB; the server's log stays in `home`


def package_files() -> set[str]:
    """Every file under taskdemo/ in the checkout, relative to it; bytecode left out."""
    return {path.relative_to(ROOT).as_posix() for path in (ROOT / 'taskdemo').rglob('*')
            if path.is_file() and '__pycache__' not in path.parts and path.suffix not in {'.pyc', '.pyo'}}


def outside_env(**extra: str) -> dict[str, str]:
    """A server's environment, without anything that would let Python find the checkout or the test venv."""
    env = {key: value for key, value in clean_env().items()
           if key not in {'PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYTHONSTARTUP', 'PYTHONUSERBASE'}}
    return {**env, **extra}


def flags_in(help_text: str) -> set[str]:
    """The long flags that --help lists as options (`  --port N ...`, `  -h, --help ...`)."""
    return set(re.findall(r'^ {2}(?:-\w, )?(--[a-z][\w-]*)', help_text, re.MULTILINE))
