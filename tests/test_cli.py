"""The command line: flags, TASKDEMO_* variables, and one clear line with exit status 2 for anything bad."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import main
from taskdemo.cli import UsageError, default_data_dir, parse_args
from taskdemo.settings import RunSettings, Settings

from .helpers import clean_env

ROOT = Path(__file__).resolve().parent.parent


def test_no_flags_give_the_documented_defaults():
    settings = parse_args([], env={})
    assert settings == Settings(data_dir=default_data_dir())
    assert settings.keep_runs == 100
    assert (settings.host, settings.port, settings.native) == ('127.0.0.1', 8080, False)
    assert settings.run == RunSettings(tasks=50, failure_rate=0.2, min_duration=30, max_duration=120, speed=1)
    assert settings.cors_origins == ('http://localhost:3000',) and settings.control_token is None


def test_every_flag_is_read():
    settings = parse_args(['--host', '0.0.0.0', '--port', '9000', '--tasks', '200', '--failure-rate', '0.5',
                           '--min-duration', '1', '--max-duration', '2.5', '--speed', '60', '--seed', '42',
                           '--cors-origin', 'http://a.test', '--cors-origin', 'http://b.test',
                           '--control-token', 's3cret', '--native', '--data-dir', '/tmp/runs', '--keep-runs', '7'],
                          env={})
    assert settings.host == '0.0.0.0' and settings.port == 9000 and settings.native
    assert settings.run == RunSettings(tasks=200, failure_rate=0.5, min_duration=1, max_duration=2.5, speed=60,
                                       seed=42)
    assert settings.cors_origins == ('http://a.test', 'http://b.test') and settings.control_token == 's3cret'
    assert settings.data_dir == Path('/tmp/runs') and settings.keep_runs == 7
    assert parse_args(['--compression'], env={}).compression is True
    assert parse_args([], env={'TASKDEMO_COMPRESSION': 'on'}).compression is True
    assert parse_args([], env={}).compression is False


def test_environment_variables_set_what_flags_do_not_and_a_flag_wins():
    env = {'TASKDEMO_TASKS': '7', 'TASKDEMO_SPEED': '5', 'TASKDEMO_SEED': '3', 'TASKDEMO_PORT': '9100',
           'TASKDEMO_CORS_ORIGINS': 'http://a.test, http://b.test', 'TASKDEMO_CONTROL_TOKEN': 'tok',
           'TASKDEMO_NATIVE': 'yes'}
    settings = parse_args(['--speed', '8'], env=env)
    assert settings.run.tasks == 7 and settings.run.speed == 8 and settings.run.seed == 3
    assert settings.port == 9100 and settings.native and settings.control_token == 'tok'
    assert settings.cors_origins == ('http://a.test', 'http://b.test')


@pytest.mark.parametrize(('argv', 'named'), [
    (['--tasks', '0'], '--tasks'),
    (['--tasks', '10001'], '--tasks'),
    (['--tasks', '2.5'], '--tasks'),
    (['--tasks', 'many'], '--tasks'),
    (['--failure-rate', '1.01'], '--failure-rate'),
    (['--failure-rate', '-0.1'], '--failure-rate'),
    (['--failure-rate', 'nan'], '--failure-rate'),
    (['--speed', 'inf'], '--speed'),
    (['--speed', '0'], '--speed'),
    (['--min-duration', '-5'], '--min-duration'),
    (['--min-duration', '50', '--max-duration', '10'], '--min-duration'),
    (['--max-duration', 'NaN'], '--max-duration'),
    (['--seed', '-1'], '--seed'),
    (['--port', '70000'], '--port'),
    (['--tasks'], '--tasks'),
    (['--colour', 'blue'], '--colour'),
    (['--keep-runs', '0'], '--keep-runs'),
    (['--keep-runs', 'all'], '--keep-runs'),
    (['--stall-rate', '2'], '--stall-rate'),
    (['--stall-rate', 'nan'], '--stall-rate'),
    (['--stall-rate', ''], '--stall-rate'),
    (['--task-timeout', '0'], '--task-timeout'),
    (['--task-timeout', 'inf'], '--task-timeout'),
    (['--task-timeout', '90s'], '--task-timeout'),
])
def test_a_bad_flag_is_named_in_the_error(argv, named):
    with pytest.raises(UsageError, match=named):
        parse_args(argv, env={})


def test_a_bad_environment_variable_is_named_in_the_error():
    with pytest.raises(UsageError, match='TASKDEMO_FAILURE_RATE'):
        parse_args([], env={'TASKDEMO_FAILURE_RATE': '3'})
    with pytest.raises(UsageError, match='TASKDEMO_STALL_RATE must be a number from 0 to 1'):
        parse_args([], env={'TASKDEMO_STALL_RATE': '1.01'})
    with pytest.raises(UsageError, match='TASKDEMO_TASK_TIMEOUT must be a number greater than 0'):
        parse_args([], env={'TASKDEMO_TASK_TIMEOUT': '-1'})
    with pytest.raises(UsageError, match='TASKDEMO_NATIVE'):
        parse_args([], env={'TASKDEMO_NATIVE': 'perhaps'})


def test_main_prints_one_line_and_exits_2_on_a_bad_value(capsys):
    assert main.main(['--tasks', '-3']) == 2
    captured = capsys.readouterr()
    assert captured.out == ''
    assert captured.err.strip().splitlines() == [
        'main.py: error: --tasks must be a whole number from 1 to 10,000, got -3 (see --help)']


def test_hangs_and_a_time_limit_come_from_flags_or_variables_and_a_flag_wins():
    assert parse_args([], env={}).run.stall_rate == 0 and parse_args([], env={}).run.task_timeout is None
    settings = parse_args(['--stall-rate', '0.2', '--task-timeout', '90'], env={'TASKDEMO_STALL_RATE': '0.9'})
    assert (settings.run.stall_rate, settings.run.task_timeout) == (0.2, 90)
    settings = parse_args([], env={'TASKDEMO_STALL_RATE': '0.9', 'TASKDEMO_TASK_TIMEOUT': '30.5'})
    assert (settings.run.stall_rate, settings.run.task_timeout) == (0.9, 30.5)
    assert parse_args(['--task-timeout', 'none'], env={'TASKDEMO_TASK_TIMEOUT': '30'}).run.task_timeout is None


@pytest.mark.parametrize(('argv', 'message'), [
    (['--task-timeout', '0'], '--task-timeout must be a number greater than 0 and at most 604,800, or none for no '
                              'limit, got 0'),
    (['--stall-rate', '1.5'], '--stall-rate must be a number from 0 to 1, got 1.5'),
])
def test_main_exits_2_with_one_line_for_a_bad_stall_rate_or_time_limit(capsys, argv, message):
    assert main.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == '' and captured.err.strip().splitlines() == [f'main.py: error: {message} (see --help)']


def test_native_without_pywebview_exits_2_saying_how_to_install_it(capsys, monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
    assert main.main(['--native']) == 2
    assert capsys.readouterr().err.strip() == "main.py: error: --native needs pywebview: pip install -e '.[native]'"


def test_the_real_command_exits_2_without_a_traceback_and_help_explains_every_flag():
    for flag, value in (('--speed', 'fast'), ('--task-timeout', '-5'), ('--stall-rate', 'x')):
        bad = subprocess.run([sys.executable, 'main.py', flag, value], cwd=ROOT, capture_output=True, text=True,
                             env=clean_env(), timeout=60)
        assert bad.returncode == 2 and 'Traceback' not in bad.stderr and flag in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
    shown = subprocess.run([sys.executable, 'main.py', '--help'], cwd=ROOT, capture_output=True, text=True,
                           env=clean_env(), timeout=60)
    assert shown.returncode == 0
    for flag in ('--host', '--port', '--native', '--tasks', '--failure-rate', '--min-duration', '--max-duration',
                 '--speed', '--seed', '--stall-rate', '--task-timeout', '--cors-origin', '--control-token',
                 'TASKDEMO_'):
        assert flag in shown.stdout


def test_redis_turns_cluster_mode_on_from_the_flag_or_its_variable():
    assert parse_args([], env={}).redis is None
    assert parse_args(['--redis', 'redis://127.0.0.1:6379/0'], env={}).redis == 'redis://127.0.0.1:6379/0'
    from_env = parse_args([], env={'TASKDEMO_REDIS_URL': 'redis://db.example:6380/2'})
    assert from_env.redis == 'redis://db.example:6380/2'
    assert parse_args(['--takeover-limit', '5'], env={}).takeover_limit == 5.0


@pytest.mark.parametrize(('argv', 'env', 'message'), [
    (['--redis', 'localhost:6379'], {}, "--redis must be a URL like redis://HOST:PORT/DB, got 'localhost:6379'"),
    ([], {'TASKDEMO_REDIS_URL': 'http://x'}, "TASKDEMO_REDIS_URL must be a URL like redis://HOST:PORT/DB"),
    (['--redis', 'redis://h:99999/0'], {}, '--redis is not a usable Redis URL'),
    (['--redis', ' '], {}, '--redis must be a Redis URL like redis://127.0.0.1:6379/0'),
    (['--takeover-limit', '-1'], {}, '--takeover-limit must be a number from 0'),
])
def test_a_bad_redis_url_or_limit_is_named(argv, env, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_args(argv, env=env)


def test_redis_without_the_cluster_extra_exits_2_saying_how_to_install_it(capsys, monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
    assert main.main(['--redis', 'redis://127.0.0.1:6379/0']) == 2
    assert capsys.readouterr().err.strip() == \
        "main.py: error: --redis needs the redis package: pip install -e '.[cluster]' (see --help)"
