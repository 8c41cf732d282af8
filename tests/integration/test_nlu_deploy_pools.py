"""A model deployment with several Rasa workers (nlu/releases.py): the blue/green pair is two
pools, and the model reaches every worker of the pool customers are switched to; without a
standby, every worker loads it in turn. Fake Rasa workers and the fake `rasa` command, as in
test_nlu_loop.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from nlu.deploy import RasaServer
from nlu.loop import NluLoop
from nlu.settings import NluSettings
from store.db import unit_of_work
from store.services import rasa_serving
from tests.fakes.loopback import running
from tests.fakes.rasa import FakeRasa
from tests.integration.test_nlu_loop import settings

__all__ = ["settings"]  # the fixture: the fake project and `rasa` command of test_nlu_loop.py

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
TOKEN = "secret-token"


@asynccontextmanager
async def workers(count: int) -> AsyncIterator[list[FakeRasa]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                running(FakeRasa.serving_models(token=TOKEN, load_seconds=0.2))
            )
            for _ in range(count)
        ]


async def test_the_model_reaches_every_worker_of_the_standby_pool(
    settings: NluSettings, session_factory: sessionmaker[Session]
) -> None:
    switched: list[str] = []
    async with workers(4) as fakes:
        blue, green = fakes[:2], fakes[2:]
        server = RasaServer.from_env(
            {
                "RASA_URL": ",".join(f.url for f in blue),
                "RASA_STANDBY_URL": ",".join(f.url for f in green),
                "RASA_TOKEN": TOKEN,
            }
        )
        loop = NluLoop(
            settings, session_factory, rasa=server, clock=lambda: NOW, on_switch=switched.append
        )
        trained = await loop.train(actor="op")
        deployed = await loop.deploy(trained.model_id or 0, actor="alice")
        path = str(settings.registry_dir / deployed.file_name)
        assert [f.loads for f in green] == [[path], [path]]  # every standby worker
        assert [f.loads for f in blue] == [[], []]  # customers' pool untouched
        assert switched == [green[0].url]  # the pool's name: its first worker
        with unit_of_work(session_factory) as session:
            assert rasa_serving.serving_url(session) == green[0].url

        # the blue pool still runs the baseline: rolling back to it is a switch, no load
        baseline = next(m for m in loop.models() if m.file_name.startswith("baseline-"))
        for fake in blue:
            fake.model_file = baseline.file_name
        await loop.rollback(baseline.id, actor="alice", reason="back to the baseline")
        assert [f.loads for f in blue] == [[], []]
        assert switched == [green[0].url, blue[0].url]

        # a worker of the standby pool that runs another model (restarted) is loaded again
        green[1].model_file = "current.tar.gz"
        await loop.rollback(deployed.id, actor="alice", reason="the new one after all")
        assert [f.loads for f in green] == [[path], [path, path]]


async def test_without_a_standby_every_worker_loads_it_in_turn(
    settings: NluSettings, session_factory: sessionmaker[Session]
) -> None:
    async with workers(2) as fakes:
        server = RasaServer(fakes[0].url, TOKEN, more=(fakes[1].url,))
        loop = NluLoop(settings, session_factory, rasa=server, clock=lambda: NOW)
        trained = await loop.train(actor="op")
        deployed = await loop.deploy(trained.model_id or 0, actor="alice")
        path = str(settings.registry_dir / deployed.file_name)
        assert [f.loads for f in fakes] == [[path], [path]]
        assert [f.model_file for f in fakes] == [deployed.file_name] * 2
