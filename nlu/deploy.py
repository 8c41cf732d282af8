"""Loading a registry model into the running Rasa server, and making it the one `make run` uses.

Rasa 3.6's `PUT /model {"model_file": PATH}` (rasa/server.py `load_model`) builds a new agent
with the endpoints the server started with: the same SQL tracker store (conversations are kept:
a customer in the middle of a form continues it) and the old agent's lock store, then swaps it
in and answers 204. The server keeps answering with the old model until the swap; the load
itself (unpacking the archive, building the TensorFlow graph, ~15 s on 2 cores) runs on Rasa's
event loop, so that server answers nothing meanwhile. Hence blue/green
(`RasaServer.standby_url`, RASA_STANDBY_URL): nlu.loop loads the model into the server that is
not serving and then switches customers to it (store.services.rasa_serving; the gateways follow,
bot/serving.py). With several workers (RASA_WORKERS) each side of the pair is a pool and the
model goes to every worker of the standby pool (nlu/releases.py). With one server, messages that
arrive during the load wait and are answered by the new model (the gateway keeps a message it
could not get answered within RASA_TIMEOUT and retries it). `GET /status` then reports the new
`model_file` (the file name) and `model_id`.

After Rasa confirms, the model file is copied to models/current.tar.gz and its training inputs'
hash to models/current.fingerprint (nlu.fingerprint = scripts/lib.sh hash_files), so a restart
with `make run` starts the deployed model instead of training again. When Rasa is unreachable
or refuses the model, nothing is copied and `DeployError` says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from nlu.rules import Unavailable
from nlu.settings import NluSettings

DEFAULT_PORT = "5005"
LOAD_TIMEOUT = 600.0
"""Seconds a model load may take (a large model on a busy machine)."""
CONFIRM_TIMEOUT = 60.0
POLL_INTERVAL = 0.5


class DeployError(Unavailable):
    """The model was not loaded; nothing was changed."""


class RasaUnreachable(DeployError):
    pass


@dataclass(frozen=True)
class RasaServer:
    """Rasa's HTTP API as the gateway reaches it (RASA_URL, RASA_TOKEN), and the standby
    server of blue/green deployments (RASA_STANDBY_URL, same token) when there is one.

    With several workers (RASA_URL and RASA_STANDBY_URL list them, separated by commas) each
    side is a pool named by its first worker (`url`, `standby_url`); `more` and
    `standby_more` are the pools' other workers, and a model goes to every worker of a pool."""

    url: str
    token: str | None = None
    standby_url: str | None = None
    more: tuple[str, ...] = ()
    standby_more: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RasaServer:
        env = os.environ if env is None else env
        port = env.get("RASA_PORT") or DEFAULT_PORT
        urls = _urls(env.get("RASA_URL")) or (f"http://127.0.0.1:{port}",)
        standby = _urls(env.get("RASA_STANDBY_URL"))
        return cls(
            url=urls[0],
            token=env.get("RASA_TOKEN") or None,
            standby_url=standby[0] if standby else None,
            more=urls[1:],
            standby_more=standby[1:],
        )

    def at(self, url: str) -> RasaServer:
        """The server at `url` (one worker), with the same token."""
        return RasaServer(url=url, token=self.token)

    def other(self, serving: str | None) -> str:
        """The pool of the pair that is not `serving` (blue/green: where a model loads)."""
        assert self.standby_url is not None
        return self.standby_url if (serving or self.url) == self.url else self.url

    def workers(self, pool: str) -> list[RasaServer]:
        """Every worker of the pool named `pool` (`url` or `standby_url`)."""
        members = (
            (self.standby_url, *self.standby_more)
            if pool == self.standby_url
            else (self.url, *self.more)
        )
        return [self.at(url) for url in members if url]

    @property
    def params(self) -> dict[str, str]:
        return {"token": self.token} if self.token else {}


def _urls(value: str | None) -> tuple[str, ...]:
    """RASA_URL's workers: URLs separated by commas or spaces."""
    return tuple(url.rstrip("/") for url in (value or "").replace(",", " ").split())


def _rasa_message(status: int, body: str) -> str:
    """Rasa's error JSON {"status", "message", "reason", ...} as one line."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return f"HTTP {status}: {body.strip()[:300]}"
    if isinstance(data, dict):
        message = data.get("message") or data.get("reason") or body
        return f"HTTP {status}: {str(message).strip()[:300]}"
    return f"HTTP {status}: {body.strip()[:300]}"


async def model_status(server: RasaServer, session: aiohttp.ClientSession) -> dict[str, Any]:
    """GET /status: {"model_file", "model_id", "num_active_training_jobs"}; a server that has
    no model loaded yet (409 "No agent loaded") is {"model_file": None}."""
    try:
        async with session.get(f"{server.url}/status", params=server.params) as response:
            body = await response.text()
            if response.status == 409:
                return {"model_file": None}
            if response.status != 200:
                raise DeployError(f"Rasa's /status answered {_rasa_message(response.status, body)}")
            data = await response.json(content_type=None)
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise RasaUnreachable(f"Rasa is not reachable at {server.url} ({exc})") from exc
    return data if isinstance(data, dict) else {}


async def loaded_model(server: RasaServer) -> str | None:
    """The file name of the model the server runs (None: none); RasaUnreachable if down."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        return (await model_status(server, session)).get("model_file")


async def load_model(
    server: RasaServer,
    model: Path,
    *,
    load_timeout: float = LOAD_TIMEOUT,
    confirm_timeout: float = CONFIRM_TIMEOUT,
) -> dict[str, Any]:
    """PUT /model with the model's absolute path, then wait until /status reports the file.
    Returns the final status. DeployError (RasaUnreachable) when it did not happen."""
    timeout = aiohttp.ClientTimeout(total=load_timeout, sock_connect=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        # a first look: an unreachable Rasa is said as such before anything is sent
        await model_status(server, session)
        try:
            async with session.put(
                f"{server.url}/model",
                params=server.params,
                json={"model_file": str(model)},
            ) as response:
                body = await response.text()
                if response.status not in (200, 204):
                    raise DeployError(
                        f"Rasa did not load {model.name}: {_rasa_message(response.status, body)}"
                    )
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise RasaUnreachable(
                f"Rasa at {server.url} did not answer while loading {model.name} ({exc})"
            ) from exc
        deadline = time.monotonic() + confirm_timeout
        while True:
            status = await model_status(server, session)
            if status.get("model_file") == model.name:
                return status
            if time.monotonic() > deadline:
                raise DeployError(
                    f"Rasa accepted {model.name} but /status still reports"
                    f" {status.get('model_file')!r}"
                )
            await asyncio.sleep(POLL_INTERVAL)


def _replace(path: Path, write: Any) -> None:
    """Write a sibling temporary file with `write(handle)` and rename it over `path`."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


SOURCE_MARKER = "current.source"
"""Beside models/current.tar.gz when the model registry put it there (scripts/train.sh)."""


def install_current(settings: NluSettings, model: Path, data_hash: str) -> None:
    """models/current.tar.gz ← the model, models/current.fingerprint ← its inputs' hash.

    The old fingerprint goes first: a crash halfway leaves no fingerprint (make run trains
    again), never a fingerprint that vouches for the wrong model. models/current.source then
    names the registry's file: scripts/train.sh never replaces a model operators deployed (or
    rolled back to) with one trained outside the guard, even when data/ changed since."""
    current = settings.current_model
    fingerprint = current.with_name("current.fingerprint")
    source_marker = current.with_name(SOURCE_MARKER)
    current.parent.mkdir(parents=True, exist_ok=True)
    fingerprint.unlink(missing_ok=True)
    with model.open("rb") as source:
        _replace(current, lambda handle: shutil.copyfileobj(source, handle, 1 << 20))
    _replace(fingerprint, lambda handle: handle.write(f"{data_hash}\n".encode()))
    _replace(source_marker, lambda handle: handle.write(f"registry {model.name}\n".encode()))


def current_fingerprint(settings: NluSettings) -> str | None:
    path = settings.current_model.with_name("current.fingerprint")
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
