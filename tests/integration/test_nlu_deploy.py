"""nlu.deploy against a fake Rasa speaking PUT /model and GET /status: the model is loaded
while customers keep getting answers, and models/current.* follow only when Rasa confirms."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from nlu.deploy import (
    DeployError,
    RasaServer,
    RasaUnreachable,
    current_fingerprint,
    install_current,
    load_model,
)
from nlu.fingerprint import training_fingerprint
from tests.fakes.loopback import running
from tests.fakes.nlu_project import copy_project, project_settings
from tests.fakes.rasa import FakeRasa
from tests.fakes.rasa_cli import fake_model


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    async with running(FakeRasa.serving_models()) as server:
        yield server


def test_server_from_the_environment() -> None:
    assert RasaServer.from_env({}) == RasaServer("http://127.0.0.1:5005", None)
    env = {"RASA_URL": "http://rasa:5005/", "RASA_TOKEN": "t", "RASA_PORT": "1"}
    assert RasaServer.from_env(env) == RasaServer("http://rasa:5005", "t")
    assert RasaServer.from_env({"RASA_PORT": "6005"}).url == "http://127.0.0.1:6005"


async def test_a_model_is_loaded_and_confirmed(rasa: FakeRasa, tmp_path: Path) -> None:
    model = fake_model(tmp_path / "registry" / "nlu-1.tar.gz")
    status = await load_model(RasaServer(rasa.url, rasa.token), model)
    assert status["model_file"] == "nlu-1.tar.gz"
    assert rasa.loads == [str(model)]


async def test_customers_are_answered_while_the_model_loads(rasa: FakeRasa, tmp_path: Path) -> None:
    rasa.load_seconds = 0.5
    model = fake_model(tmp_path / "nlu-2.tar.gz")
    loading = asyncio.create_task(load_model(RasaServer(rasa.url, rasa.token), model))
    await asyncio.sleep(0.1)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{rasa.url}/webhooks/rest/webhook", json={"sender": "c1", "message": "停电了"}
        ) as response,
    ):
        assert response.status == 200
        replies = await response.json()
    assert replies[0]["text"] == "answered by current.tar.gz"  # the old model, no downtime
    await loading
    assert rasa.model_file == "nlu-2.tar.gz"


async def test_a_model_rasa_cannot_load_is_an_error(rasa: FakeRasa, tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tar")
    with pytest.raises(DeployError, match=r"HTTP 400: Agent with name .* could not be loaded"):
        await load_model(RasaServer(rasa.url, rasa.token), broken)
    assert rasa.model_file == "current.tar.gz"


async def test_a_wrong_token_is_an_error(rasa: FakeRasa, tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="401"):
        await load_model(RasaServer(rasa.url, "wrong"), fake_model(tmp_path / "m.tar.gz"))


async def test_an_unreachable_rasa_is_said_so(rasa: FakeRasa, tmp_path: Path) -> None:
    await rasa.down()
    with pytest.raises(RasaUnreachable, match="not reachable"):
        await load_model(RasaServer(rasa.url, rasa.token), fake_model(tmp_path / "m.tar.gz"))


def test_install_current_writes_the_model_and_its_fingerprint(tmp_path: Path) -> None:
    settings = project_settings(copy_project(tmp_path / "project"))
    model = fake_model(settings.registry_dir / "nlu-3.tar.gz", b"new model")
    data_hash = training_fingerprint(settings.project_dir)
    install_current(settings, model, data_hash)
    assert settings.current_model.read_bytes() == model.read_bytes()
    assert current_fingerprint(settings) == data_hash
    # what scripts/train.sh compares: the deployed model is up to date, no retraining
    fingerprint = settings.models_dir / "current.fingerprint"
    assert fingerprint.read_text() == f"{data_hash}\n"
    # what scripts/train.sh reads: an operator's model is never retrained over by make run
    source = settings.models_dir / "current.source"
    assert source.read_text() == "registry nlu-3.tar.gz\n"
    assert [p.name for p in settings.models_dir.iterdir() if p.name.startswith(".")] == []
