"""The one entry point (taskdemo/__main__.py): each way of calling it names itself, and --version answers at once.

The installed `taskdemo` command and `python -m taskdemo` are run for real in tests/e2e/test_installed.py.
"""
from __future__ import annotations

import importlib.util

import pytest

import taskdemo.__main__ as entry
from taskdemo import __version__, cli


@pytest.mark.parametrize(('argv0', 'name'), [
    ('/home/me/.local/bin/taskdemo', 'taskdemo'),
    ('/srv/venv/lib/python3.11/site-packages/taskdemo/__main__.py', 'python -m taskdemo'),
    ('main.py', 'main.py'),
    ('/work/checkout/main.py', 'main.py'),
])
def test_the_program_is_named_as_it_was_called(argv0, name):
    assert entry.program_name(argv0) == name


def test_version_prints_the_package_version_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exited:
        entry.main(['--version'], prog='taskdemo')
    assert exited.value.code == 0
    assert capsys.readouterr().out == f'taskdemo {__version__}\n'


def test_help_and_errors_carry_the_name_it_was_called_by(capsys):
    with pytest.raises(SystemExit):
        entry.main(['--help'], prog='python -m taskdemo')
    assert capsys.readouterr().out.startswith('usage: python -m taskdemo ')
    assert entry.main(['--port', 'x'], prog='taskdemo') == 2
    assert capsys.readouterr().err.startswith('taskdemo: error: --port ')


def test_native_without_pywebview_says_how_to_add_it_to_an_installed_taskdemo(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
    monkeypatch.setattr(cli, 'CHECKOUT', tmp_path / 'site-packages')  # no pyproject.toml or main.py beside it
    assert entry.main(['--native'], prog='taskdemo') == 2
    hint = "taskdemo: error: --native needs pywebview: pip install 'taskdemo[native]'"
    assert capsys.readouterr().err.strip() == hint
