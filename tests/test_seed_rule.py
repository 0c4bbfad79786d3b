"""The seed does not stick: a started run's settings stay in force for later runs, except its seed, which goes back
to the server's own (`--seed`/`TASKDEMO_SEED`, usually none: random). The started run keeps its seed."""
from __future__ import annotations

import random

import httpx
import pytest

from taskdemo.settings import RunSettings
from taskdemo.simulator import RunActiveError, Simulator

from .helpers import finish
from .test_api import make_app


def test_a_seed_given_for_one_run_does_not_fix_the_next(make_sim):
    sim = make_sim()
    run = sim.start(RunSettings(tasks=8, speed=10, seed=7))
    assert run.seed == 7 and run.settings.seed == 7, 'the run started has its seed'
    assert sim.settings == RunSettings(tasks=8, speed=10), 'everything else stays in force'
    finish(sim)
    again = sim.start()
    assert again.seed != 7 and again.settings == RunSettings(tasks=8, speed=10)
    assert run.seed == 7, 'the earlier run keeps its seed'


def test_later_runs_without_a_seed_each_draw_one_from_the_injected_randomness(clock):
    def seeds() -> list[int]:
        sim = Simulator(RunSettings(tasks=2), clock=clock, rng=random.Random(5))
        drawn = []
        for settings in (RunSettings(tasks=2, seed=7), None, None):
            drawn.append(sim.start(settings).seed)
            finish(sim)
        return drawn

    first = seeds()
    assert first[0] == 7 and len(set(first)) == 3
    assert seeds() == first, 'with a fixed rng the drawn seeds are the same every time'


def test_the_servers_own_seed_stays_for_every_run(make_sim):
    sim = make_sim(seed=11)  # as `--seed 11`
    assert sim.start().seed == 11
    finish(sim)
    assert sim.start(RunSettings(seed=3)).seed == 3
    assert sim.settings.seed == 11
    finish(sim)
    assert sim.start().seed == 11
    finish(sim)
    run = sim.start(RunSettings(tasks=4))  # the panel with its seed field emptied: random, for this run
    assert run.seed != 11 and sim.settings.seed == 11


def test_a_refused_start_leaves_the_settings_in_force_alone(make_sim):
    sim = make_sim()
    sim.start(RunSettings(tasks=3, seed=7))
    in_force = sim.settings
    with pytest.raises(RunActiveError):
        sim.start(RunSettings(tasks=5, seed=8))
    assert sim.settings == in_force and sim.run.seed == 7


async def test_post_start_with_a_seed_then_post_start_draws_another(make_sim):
    sim = make_sim()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(make_app(sim)), base_url='http://test') as client:
        first = await client.post('/start', json={'seed': 7, 'tasks': 5, 'min_duration': 1, 'max_duration': 2})
        assert first.json()['seed'] == 7 and first.json()['settings']['seed'] == 7
        status = (await client.get('/status')).json()
        assert status['seed'] == 7 and status['settings']['seed'] == 7, '/status shows the seed of the run'
        finish(sim)
        second = (await client.post('/start')).json()
        assert second['seed'] != 7 and second['settings'] == {**first.json()['settings'], 'seed': None}
        finish(sim)
        third = (await client.post('/start', json={'tasks': 6})).json()
        assert third['seed'] not in {7, second['seed']} and third['settings']['tasks'] == 6


async def test_with_a_server_seed_post_start_goes_back_to_it(make_sim):
    sim = make_sim(seed=11)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(make_app(sim)), base_url='http://test') as client:
        assert (await client.post('/start', json={'seed': 7})).json()['seed'] == 7
        finish(sim)
        assert (await client.post('/start')).json()['seed'] == 11
