"""One source for every rule: the command line, the API and the settings panel give a bad value the same message,
because all three are made from the rules in settings.py."""
from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from nicegui import ui
from nicegui.testing import User

from taskdemo.api import install_api, install_error_handlers
from taskdemo.cli import UsageError, build_parser, parse_args
from taskdemo.settings import RUN_RULES, SERVER_RULES, RunSettings, Settings, SettingsError
from taskdemo.simulator import Simulator
from taskdemo.ui.settings_panel import MESSAGES

BAD = [  # (setting, the text typed on the command line and in the panel, the same value in a JSON body)
    ('tasks', '0', 0),
    ('tasks', '10001', 10001),
    ('tasks', '2.5', 2.5),
    ('tasks', 'many', 'many'),
    ('failure_rate', '1.5', 1.5),
    ('failure_rate', '-0.1', -0.1),
    ('min_duration', '0', 0),
    ('max_duration', '1e9', 1e9),
    ('speed', 'fast', 'fast'),
    ('speed', '0', 0),
    ('seed', '-1', -1),
    ('seed', '1.5', 1.5),
    ('concurrency', '-1', -1),
    ('concurrency', 'all', 'all'),
]


def cli_problem(name: str, text: str) -> str:
    with pytest.raises(UsageError) as raised:
        parse_args([f'--{name.replace("_", "-")}', text], env={})
    flag = f'--{name.replace("_", "-")} '
    assert str(raised.value).startswith(flag)
    return str(raised.value).removeprefix(flag)


async def api_problem(sim: Simulator, name: str, value: object) -> str:
    app = FastAPI()
    install_api(app, sim, Settings())
    install_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        response = await client.post('/start', json={name: value})
    assert response.status_code == 422
    detail = response.json()['detail']
    assert detail.startswith(f'{name} ')
    return detail.removeprefix(f'{name} ')


PANEL_TEXT = {('failure_rate', '1.5'): '150', ('failure_rate', '-0.1'): '-10'}  # the panel asks in percent


@pytest.mark.parametrize(('name', 'text', 'value'), BAD)
async def test_a_bad_value_gets_the_same_message_from_the_cli_and_the_api_and_words_in_the_panel(user: User, sim,
                                                                                                name, text, value):
    """The CLI and the API name the setting as it is spelled there; the panel says it in words a person reads."""
    await user.open('/')
    panel_field: ui.input = user.find(marker=f'setting-{name}').elements.pop()
    panel_field.set_value(PANEL_TEXT.get((name, text), text))
    assert panel_field.error == MESSAGES[name]
    cli = cli_problem(name, text)
    api = await api_problem(sim, name, value)
    assert cli == api, (cli, api)
    assert sim.run is None, 'nothing started'


HANG_BAD = [  # the settings of issue #15, as the command line, a TASKDEMO_ variable and a JSON body give them
    ('stall_rate', '1.5', 1.5, 'must be a number from 0 to 1, got 1.5'),
    ('stall_rate', '-0.1', -0.1, 'must be a number from 0 to 1, got -0.1'),
    ('stall_rate', 'often', 'often', "must be a number from 0 to 1, got 'often'"),
    ('task_timeout', '0', 0, 'must be a number greater than 0 and at most 604,800, or none for no limit, got 0'),
    ('task_timeout', '-90', -90, 'must be a number greater than 0 and at most 604,800, or none for no limit, got -90'),
    ('task_timeout', '1e9', 1e9,
     'must be a number greater than 0 and at most 604,800, or none for no limit, got 1e+09'),
    ('task_timeout', 'soon', 'soon', "must be a number greater than 0 and at most 604,800, or none for no limit, got "
                                     "'soon'"),
]


@pytest.mark.parametrize(('name', 'text', 'value', 'problem'), HANG_BAD)
async def test_a_bad_stall_rate_or_time_limit_gets_one_message_from_flag_variable_and_body(sim, name, text, value,
                                                                                         problem):
    assert cli_problem(name, text) == problem
    with pytest.raises(UsageError) as raised:
        parse_args([], env={f'TASKDEMO_{name.upper()}': text})
    assert str(raised.value) == f'TASKDEMO_{name.upper()} {problem}'
    assert await api_problem(sim, name, value) == problem
    assert sim.run is None, 'nothing started'


@pytest.mark.parametrize(('text', 'value'), [('90', 90.0), ('0.5', 0.5), ('', None), ('none', None),
                                             (' None ', None)])
def test_a_time_limit_is_a_number_of_seconds_or_none_however_it_comes(text, value):
    assert parse_args(['--task-timeout', text], env={}).run.task_timeout == value
    assert parse_args([], env={'TASKDEMO_TASK_TIMEOUT': text}).run.task_timeout == value
    assert RunSettings.from_mapping({'task_timeout': value}).task_timeout == value


@pytest.mark.parametrize('name', RUN_RULES)
def test_every_run_setting_is_a_flag_a_body_field_and_a_panel_field(name):
    flags = {action.dest for action in build_parser()._actions}
    from taskdemo.routes.models import StartBody
    from taskdemo.ui.settings_panel import LABELS
    assert name in flags and name in StartBody.model_fields and name in LABELS


def test_the_api_schema_takes_its_bounds_from_the_rules():
    app = FastAPI()
    install_api(app, Simulator(), Settings())
    schema = app.openapi()['components']['schemas']['StartBody']
    assert schema['additionalProperties'] is False
    tasks = schema['properties']['tasks']
    assert (tasks['type'], tasks['minimum'], tasks['maximum']) == ('integer', RUN_RULES['tasks'].low,
                                                                    RUN_RULES['tasks'].high)
    assert schema['properties']['speed']['exclusiveMinimum'] == 0


@pytest.mark.parametrize('token', ['', ' ', '\t  '])
def test_an_empty_or_blank_control_token_is_refused_saying_how_to_make_one(token):
    with pytest.raises(UsageError, match=r'--control-token must be a secret that is not blank \(make a good one '
                                         r'with python3 -c .*secrets.token_urlsafe'):
        parse_args(['--control-token', token], env={})
    with pytest.raises(UsageError, match='TASKDEMO_CONTROL_TOKEN must be a secret that is not blank'):
        parse_args([], env={'TASKDEMO_CONTROL_TOKEN': token})
    with pytest.raises(SettingsError, match='control_token'):
        Settings(control_token=token)
    assert 'secrets.token_urlsafe' in build_parser().format_help()


def test_server_settings_are_checked_by_their_rules():
    for name, value in (('port', 70000), ('keep_runs', 0), ('host', '')):
        with pytest.raises(SettingsError) as raised:
            Settings(**{name: value})
        assert raised.value.field == name
        assert raised.value.problem == SERVER_RULES[name].error(value).problem
    assert RunSettings(tasks=5.0).tasks == 5, 'a whole number written as 5.0 (as JSON may) is a whole number'
