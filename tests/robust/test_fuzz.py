"""Schemathesis against the app's own OpenAPI schema: over a thousand generated requests, valid and invalid, to every
operation of the whole app (NiceGUI's app with our routes and middleware, as `main.py` builds it), in-process.

Every answer must be below 500; a 4xx must be JSON with a `detail` text that says what was wrong (not a repr, not a
traceback); a rejected request must leave `GET /status` exactly as it was; and Schemathesis checks each answer
against the schema (status code documented, content type and body as declared, invalid data rejected). No driver
runs, so time stands still: a status that moved was moved by the request.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from nicegui import core, ui
from nicegui.testing.general import nicegui_reset_globals, prepare_simulation
from schemathesis.checks import not_a_server_error
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import JsonSchemaError, UndefinedStatusCode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from taskdemo.app import API_DOCS, build
from taskdemo.settings import Settings
from taskdemo.simulator import Simulator

from ..helpers import finish

MIN_REQUESTS = 1_000
EXAMPLES_PER_OPERATION = 130  # valid and invalid cases together; GET /status has only one request to make
LOCKED_EXAMPLES_PER_OPERATION = 40
TOKEN = 'fuzz-token'
STATUS_FIELDS = ('state', 'run_id', 'total', 'completed', 'failed', 'running', 'pending', 'cancelled', 'interrupted',
                 'seed', 'settings', 'individual')
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
# a body past the API's limit (security.py) is invalid data rightly refused, with 413
CONFIG = schemathesis.Config.from_dict({'checks': {'negative_data_rejection': {
    'expected-statuses': [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, '413']}}})
PYTHON_INTERNALS = re.compile(r'Traceback|File "|<class |object at 0x|\w+(Error|Exception)\(|\{\'|\[\{')
# Answers that once went undocumented (FastAPI's own 400 for an unreadable body, the history's 404, and 422 as one
# `detail` text rather than FastAPI's list): the schema must describe each of them as a JSON detail text.
MUST_BE_DOCUMENTED = (
    ('POST /start', 400), ('POST /retry', 400), ('GET /runs', 422),
    ('GET /runs/{run_id}', 404), ('GET /runs/{run_id}', 422),
    ('GET /runs/{run_id}/export.json', 404), ('GET /runs/{run_id}/export.json', 422),
    ('GET /runs/{run_id}/export.csv', 404), ('GET /runs/{run_id}/export.csv', 422),
    ('POST /tasks/{task_id}/cancel', 409), ('POST /tasks/{task_id}/cancel', 422),
    ('POST /tasks/{task_id}/retry', 409), ('POST /tasks/{task_id}/retry', 422),
    ('GET /runs/{run_id}/state', 404), ('GET /runs/{run_id}/state', 422),
)
KNOWN_SCHEMA_GAPS: set[tuple[str, int]] = set()  # answers the schema checks may let through: none
SCHEMA_CHECK_FAILURES = (UndefinedStatusCode, JsonSchemaError)


async def test_generated_requests_get_no_5xx_and_rejected_ones_change_nothing(sim: Simulator, tmp_path: Path,
                                                                               figures) -> None:
    async with whole_app(sim, Settings(data_dir=tmp_path / 'data')) as client:
        await make_history(client, sim)
        fuzz = await Fuzz.start(client)
        await asyncio.to_thread(fuzz.run, EXAMPLES_PER_OPERATION)
    figures(requests=fuzz.sent, operations=len(fuzz.per_operation), status_codes=dict(sorted(fuzz.codes.items())),
            rejected_then_status_compared=fuzz.rejections_compared, known_schema_gaps_hit=dict(fuzz.gaps),
            per_operation={label: dict(codes) for label, codes in fuzz.per_operation.items()})
    assert not fuzz.problems, fuzz.report()
    assert fuzz.sent >= MIN_REQUESTS, f'only {fuzz.sent} requests were generated'
    assert fuzz.codes[200] > 0 and fuzz.codes[409] > 0 and fuzz.codes[422] > 0, fuzz.codes  # both sides were reached
    for label in ('POST /tasks/{task_id}/cancel', 'POST /tasks/{task_id}/retry'):  # one task: done and refused
        assert all(fuzz.per_operation[label][code] > 0 for code in (200, 409, 422)), fuzz.per_operation[label]


async def test_without_the_token_no_generated_request_controls_anything(sim: Simulator, figures) -> None:
    async with whole_app(sim, Settings(control_token=TOKEN)) as client:
        assert (await client.post('/start', headers={'Authorization': f'Bearer {TOKEN}'})).status_code == 200
        fuzz = await Fuzz.start(client, locked=True)
        await asyncio.to_thread(fuzz.run, LOCKED_EXAMPLES_PER_OPERATION)
    figures(requests=fuzz.sent, operations=len(fuzz.per_operation), status_codes=dict(sorted(fuzz.codes.items())))
    assert not fuzz.problems, fuzz.report()
    assert fuzz.codes[401] > fuzz.sent / 2, fuzz.codes  # the rest: bodies too broken to read (see `problem`)
    assert len(fuzz.per_operation) >= 4, fuzz.per_operation
    assert {'POST /tasks/{task_id}/cancel', 'POST /tasks/{task_id}/retry'} <= set(fuzz.per_operation)


async def test_the_schema_documents_every_error_the_api_answers(sim: Simulator, tmp_path: Path) -> None:
    async with whole_app(sim, Settings(data_dir=tmp_path / 'data')) as client:
        paths = (await client.get('/openapi.json')).json()['paths']
    undocumented = []
    for label, code in MUST_BE_DOCUMENTED:
        method, path = label.split(' ')
        assert path in paths, f'{label} is not served any more: update MUST_BE_DOCUMENTED'
        answer = paths[path][method.lower()]['responses'].get(str(code))
        schema = json.dumps(answer or {})
        if answer is None or 'HTTPValidationError' in schema:
            undocumented.append(f'{label} {code}')
    assert not undocumented, f'answered but not documented as a JSON detail text: {undocumented}'


class Fuzz:
    """Sends Schemathesis' cases to the app on the app's own event loop (the simulator lives there) and checks each
    answer. Hypothesis runs in a worker thread: its `@given` tests are synchronous, the app is not."""

    def __init__(self, client: httpx.AsyncClient, schema: dict[str, Any], *, locked: bool) -> None:
        self.client = client
        self.loop = asyncio.get_running_loop()
        self.schema = schema
        self.locked = locked
        self.sent = 0
        self.codes: Counter[int] = Counter()
        self.per_operation: dict[str, Counter[int]] = {}  # operation -> status code -> how many
        self.gaps: Counter[str] = Counter()
        self.rejections_compared = 0
        self.problems: dict[str, tuple[int, str]] = {}  # what went wrong -> (how often, the first example)
        self.last_status: dict[str, Any] = {}

    @classmethod
    async def start(cls, client: httpx.AsyncClient, *, locked: bool = False) -> Fuzz:
        fuzz = cls(client, (await client.get('/openapi.json')).json(), locked=locked)
        fuzz.last_status = await fuzz.status()
        return fuzz

    def run(self, examples_per_operation: int) -> None:
        """One stream of cases for all operations, mixed, so that each meets the states the others leave behind."""
        control = {f'{method.upper()} {path}' for path, operations in self.schema['paths'].items()
                   for method, operation in operations.items() if 'control' in operation.get('tags', ())}
        strategies, operations = [], 0
        for result in schemathesis.openapi.from_dict(self.schema, config=CONFIG).get_all_operations():
            operation = result.ok()
            if self.locked and operation.label not in control:
                continue
            operations += 1
            strategies += [operation.as_strategy(generation_mode=mode) for mode in schemathesis.GenerationMode]
            if '{run_id}' in operation.path:  # random ids are rarely those of the stored runs
                strategies.append(operation.as_strategy(path_parameters={'run_id': 1}))
            if '{task_id}' in operation.path:  # nor those of the run's few tasks
                strategies += [operation.as_strategy(path_parameters={'task_id': i}) for i in (0, 1, 2)]

        @given(case=st.one_of(strategies))
        @hypothesis_settings(max_examples=examples_per_operation * operations, deadline=None, database=None,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            label = case.operation.label
            response = self.call(self.send(case))
            self.per_operation.setdefault(label, Counter())[response.status_code] += 1
            if problem := self.problem(label, case, response):
                kind = f'{label} -> {response.status_code}: {problem}'
                count, example = self.problems.get(kind, (0, f'sent: {case.as_curl_command()}\n  got: '
                                                             f'{response.text[:300]}'))
                self.problems[kind] = (count + 1, example)
        check()

    async def send(self, case: schemathesis.Case) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url='http://test')
        request: dict[str, Any] = {name: kwargs.get(name) for name in ('method', 'url', 'headers', 'params')}
        if cookies := kwargs.get('cookies'):
            request['headers'] = {**request['headers'], 'Cookie': '; '.join(f'{k}={v}' for k, v in cookies.items())}
        if 'json' in kwargs:
            request['content'] = json.dumps(kwargs['json']).encode()
        elif 'data' in kwargs:
            request['content' if isinstance(kwargs['data'], bytes | str) else 'data'] = kwargs['data']
        response = await self.client.request(**request)
        self.sent += 1
        self.codes[response.status_code] += 1
        return response

    def problem(self, label: str, case: schemathesis.Case, response: httpx.Response) -> str | None:
        code = response.status_code
        if code >= 500:
            return 'a server error'
        if self.locked and code != 401 and not unreadable_body(response):
            return 'a control request without the token was not refused with 401'
        if 400 <= code < 500:
            if reason := unclear_detail(response):
                return reason
            after = self.call(self.status())
            self.rejections_compared += 1
            if after != self.last_status:
                changed = [name for name in STATUS_FIELDS if after[name] != self.last_status[name]]
                self.last_status = after
                return f'a rejected request changed GET /status: {changed}'
        else:
            self.last_status = self.call(self.status())
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            failures = list(group.exceptions)
            if (label, code) in KNOWN_SCHEMA_GAPS and all(isinstance(f, SCHEMA_CHECK_FAILURES) for f in failures):
                self.gaps[f'{label} {code}'] += 1
                return None
            return 'Schemathesis: ' + '; '.join(f'{type(failure).__name__}: {failure.title}' for failure in failures)
        return None

    async def status(self) -> dict[str, Any]:
        body = (await self.client.get('/status')).json()
        return {name: body[name] for name in STATUS_FIELDS}

    def call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def report(self) -> str:
        return '\n'.join(f'{kind} (x{count})\n  {example}' for kind, (count, example) in self.problems.items())


def unclear_detail(response: httpx.Response) -> str | None:
    """Why this 4xx answer does not name its problem, or None when it does."""
    if not response.headers.get('content-type', '').startswith('application/json'):
        return f'a 4xx that is not JSON ({response.headers.get("content-type")})'
    body = response.json()
    detail = body.get('detail') if isinstance(body, dict) else None
    if not isinstance(detail, str) or not detail.strip():
        return 'no detail text'
    if PYTHON_INTERNALS.search(detail):
        return 'a detail that shows Python internals'
    return None


def unreadable_body(response: httpx.Response) -> bool:
    """A body too large, or not JSON at all, is refused while it is read: before the route and its token check."""
    return response.status_code == 413 or (
        response.status_code in {400, 422} and bool(re.search(r'not valid JSON|parsing the body', response.text)))


async def make_history(client: httpx.AsyncClient, sim: Simulator) -> None:
    """Two finished runs, so that the history's routes have runs to find."""
    for _ in range(2):
        assert (await client.post('/start', json={'tasks': 3, 'speed': 100})).status_code == 200
        finish(sim)
    assert (await client.post('/reset')).status_code == 200


@asynccontextmanager
async def whole_app(sim: Simulator, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """NiceGUI's app with all that `taskdemo.app.run` registers, its API docs too; time moves only by `sim.step`."""
    with nicegui_reset_globals():
        os.environ['NICEGUI_USER_SIMULATION'] = 'true'
        try:
            prepare_simulation()
            _, root = build(settings, sim=sim, drive=False)
            ui.run(root, storage_secret='simulated secret', fastapi_docs=API_DOCS)
            async with core.app.router.lifespan_context(core.app):
                transport = httpx.ASGITransport(core.app, raise_app_exceptions=False)  # a 500 is an answer to count
                async with httpx.AsyncClient(transport=transport, base_url='http://test') as client:
                    yield client
        finally:
            os.environ.pop('NICEGUI_USER_SIMULATION', None)
