"""Several Rasa workers behind one client: each conversation is answered by one worker, and by
another one while that worker is down.

The workers share every conversation (Rasa's SQL tracker store and Redis lock store:
docs/scaling.md), so any of them can answer any message; the pool only decides which one
usually does. A conversation's workers are ranked by rendezvous hashing (the highest
hash of worker and conversation id first): the ranking of a conversation never changes while
the workers stay the same, every worker gets its share of conversations, and when a worker
goes away only its own conversations move (each to its next worker), back again once it
returns.

Each worker has its own health: a worker that refused a connection, dropped one or did not
answer in time is marked down and skipped until a probe of its `/status` answers again (a
watcher probes it with a growing pause; `status()`, the retry worker's and /health's probe,
does too). What may be sent again, and where (bot/rasa_errors.py):

- a message that reached no worker (`RasaNotReached`) goes to the conversation's next worker
  that is up, in the same turn: the customer notices nothing;
- any other failure is never resent here: the message waits ('系统繁忙') and the retry, flagged,
  is answered from the tracker if the first attempt finished after all (Rasa checks under the
  conversation's lock, rasa_addons/gateway_channel.py).

Blue/green deployments (nlu/releases.py) have two pools, each named by its first worker's URL
(the `rasa_serving` row holds that name); `switch_to` moves customers to the other pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import aiohttp

from bot.messages import Reply
from bot.rasa_client import IntentGuess, RasaAnswer, RasaClient, TurnTracker, replies_from_events
from bot.rasa_errors import RasaNotReached, RasaTurnFailed, RasaUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


def weight(url: str, key: str) -> int:
    """The rendezvous weight of worker `url` for conversation `key` (stable across processes
    and restarts: every gateway replica ranks the same way)."""
    digest = hashlib.blake2b(f"{url}\n{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def ranked(key: str, urls: Iterable[str]) -> list[str]:
    """The workers of a conversation, the one that answers it first."""
    return sorted(urls, key=lambda url: weight(url, key), reverse=True)


class RasaWorker:
    """One Rasa server of a pool: its client and whether it answers."""

    def __init__(self, client: RasaClient) -> None:
        self.client = client
        self.up = True
        self.failures = 0
        """Failed probes since it went down (the watcher's pause grows with them)."""
        self.last_error: str | None = None

    @property
    def url(self) -> str:
        return self.client.base_url


class RasaPool:
    """The Rasa client the gateway uses: RasaClient's calls, routed per conversation."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        pools: Sequence[Sequence[str]],
        *,
        token: str | None,
        timeout: float,
        probe_timeout: float = 3.0,
        recheck: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        """`pools`: the serving pool's workers first, then the standby pool's (blue/green);
        `recheck`: the first and the longest pause between probes of a worker that is down."""
        if not pools or not all(pools):
            raise ValueError("a Rasa pool needs at least one worker")
        self._session = session
        self._token = token
        self._timeout = timeout
        self._probe_timeout = probe_timeout
        self._recheck = recheck
        self._pools: dict[str, tuple[str, ...]] = {}
        self._workers: dict[str, RasaWorker] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        for pool in pools:
            self.set_members(pool[0], pool)
        self._serving = _clean(pools[0][0])

    # --- the pools ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The serving pool's name: its first worker's URL (as configured)."""
        return self._serving

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._pools)

    def set_members(self, name: str, urls: Sequence[str]) -> None:
        """The workers of the pool `name` (worker discovery changes them, bot/rasa_discovery.py);
        a worker that stays keeps its health."""
        members = tuple(dict.fromkeys(_clean(url) for url in urls))
        if not members:
            return
        for url in members:
            if url not in self._workers:
                self._workers[url] = RasaWorker(
                    RasaClient(
                        self._session,
                        url,
                        token=self._token,
                        timeout=self._timeout,
                        probe_timeout=self._probe_timeout,
                    )
                )
        old = self._pools.get(_clean(name), ())
        self._pools[_clean(name)] = members
        if old and old != members:
            log.info("Rasa pool %s: workers %s", _clean(name), ", ".join(members))
            self._forget({url for pool in self._pools.values() for url in pool})

    def _forget(self, kept: set[str]) -> None:
        """Workers no pool has any more (a container scaled away): no watcher probes them."""
        for url in [url for url in self._workers if url not in kept]:
            del self._workers[url]
            watcher = self._watchers.pop(url, None)
            if watcher is not None:
                watcher.cancel()

    def switch_to(self, base_url: str) -> None:
        """Answer customers from the pool named `base_url` (blue/green); unknown names are
        ignored. Requests already on their way finish where they are."""
        name = _clean(base_url)
        if name in self._pools and name != self._serving:
            log.info("Rasa: now answering from %s (was %s)", name, self._serving)
            self._serving = name

    def workers(self) -> list[RasaWorker]:
        """The serving pool's workers."""
        return [self._workers[url] for url in self._pools[self._serving]]

    def route(self, sender: str) -> list[RasaWorker]:
        """The workers that are up, in the conversation's order."""
        urls = ranked(sender, self._pools[self._serving])
        return [w for w in (self._workers[url] for url in urls) if w.up]

    def any_up(self) -> bool:
        return any(worker.up for worker in self.workers())

    def describe(self) -> dict[str, str]:
        """Each serving worker's state, for the operators' /health."""
        return {worker.url: "ok" if worker.up else "down" for worker in self.workers()}

    # --- RasaClient's calls -----------------------------------------------------------------

    async def send(
        self, sender: str, text: str, metadata: Mapping[str, Any], *, input_channel: str
    ) -> RasaAnswer:
        """One turn, on the conversation's first worker that is up; on the next one only when
        the request did not reach the first (see the module doc)."""
        for worker in self.route(sender):
            try:
                return await worker.client.send(sender, text, metadata, input_channel=input_channel)
            except RasaNotReached as exc:
                self._down(worker, exc)
            except RasaTurnFailed:
                raise  # the worker is fine: what it shares with the others failed
            except RasaUnavailable as exc:
                self._down(worker, exc)
                raise
        raise RasaNotReached("no Rasa worker is up")

    async def _read(self, sender: str, call: Callable[[RasaClient], Awaitable[T]]) -> T:
        """A read of the shared tracker: any worker that is up can answer it."""
        failure: RasaUnavailable = RasaNotReached("no Rasa worker is up")
        for worker in self.route(sender):
            try:
                return await call(worker.client)
            except RasaNotReached as exc:
                self._down(worker, exc)
                failure = exc
            except RasaUnavailable as exc:
                failure = exc
        raise failure

    async def events(self, sender: str) -> list[Any]:
        return await self._read(sender, lambda client: client.events(sender))

    async def latest_message(self, sender: str) -> Mapping[str, Any] | None:
        return await self._read(sender, lambda client: client.latest_message(sender))

    async def answered(self, sender: str, message_key: str) -> list[Reply] | None:
        """The replies Rasa already gave this message, or None when it must be sent (again)."""
        return replies_from_events(await self.events(sender), message_key)

    async def intent_of(self, sender: str, message_key: str) -> IntentGuess | None:
        return await TurnTracker(self, sender).intent_of(message_key)

    async def status(self) -> bool:
        """Probe every serving worker now (their health follows); True when one answers."""
        workers = self.workers()
        answers = await asyncio.gather(*(w.client.status() for w in workers))
        for worker, answered in zip(workers, answers, strict=True):
            if answered:
                self._up(worker)
            else:
                self._down(worker, RasaNotReached("status probe unanswered"))
        return any(answers)

    # --- health ---------------------------------------------------------------------------

    def _down(self, worker: RasaWorker, reason: Exception) -> None:
        worker.last_error = str(reason)
        if worker.up:
            log.warning("Rasa worker %s is down (%s)", worker.url, reason)
            worker.up = False
        if worker.url not in self._watchers:
            self._watchers[worker.url] = asyncio.create_task(
                self._watch(worker), name=f"rasa-worker-watch {worker.url}"
            )

    def _up(self, worker: RasaWorker) -> None:
        if not worker.up:
            log.info("Rasa worker %s answers again", worker.url)
        worker.up, worker.failures, worker.last_error = True, 0, None

    async def _watch(self, worker: RasaWorker) -> None:
        """Probe a worker that is down, with a growing pause, until it answers."""
        first, longest = self._recheck
        try:
            while not worker.up:
                await asyncio.sleep(min(first * 2**worker.failures, longest))
                if await worker.client.status():
                    self._up(worker)
                else:
                    worker.failures += 1
        finally:
            self._watchers.pop(worker.url, None)

    async def close(self) -> None:
        """Stop the watchers (the gateway's shutdown)."""
        watchers = list(self._watchers.values())
        for task in watchers:
            task.cancel()
        for task in watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _clean(url: str) -> str:
    return url.strip().rstrip("/")
