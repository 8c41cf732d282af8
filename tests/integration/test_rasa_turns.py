"""rasa_addons/turns.py inside Rasa's own environment (Python 3.10, Rasa 3.6's classes): a
retried message that already ran is answered from a real tracker store under the lock store's
lock, one that did not runs; an action call to an action server that is down abandons a
gateway turn (and only a gateway turn); so does a tracker store that fails, where Rasa's
fail-safe wrapper would have started the conversation over (a read) or kept it in memory (a
save), as it still does for other channels. The fault suite (tests/faults) shows the same with the
trained model and real servers."""

from __future__ import annotations

import subprocess

import pytest

from tests.processes import RASA_PYTHON, ROOT, server_env

SCRIPT = r"""
import asyncio, socket
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_addons import turns

class Processor:
    def __init__(self, store, endpoint):
        self.tracker_store, self.action_endpoint, self.ran = store, endpoint, []
    async def handle_message(self, message):
        self.ran.append(message.text)
        if message.text == "call the actions":
            await self.action_endpoint.request(json={}, method="post", timeout=5)

class Flaky(InMemoryTrackerStore):  # a tracker store whose database is away while `down`
    down = False
    async def retrieve(self, sender_id):
        if self.down:
            raise OSError("connection refused")
        return await super().retrieve(sender_id)
    async def save(self, tracker):
        if self.down:
            raise OSError("connection refused")
        await super().save(tracker)

class Reader(Processor):  # reads and saves its tracker as Rasa's processor does
    async def handle_message(self, message):
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        self.ran.append(len(tracker.events))
        await self.tracker_store.save(tracker)

class Agent:
    def __init__(self, processor):
        self.processor, self.lock_store = processor, InMemoryLockStore()

def message(text, key, retry):
    metadata = {turns.MESSAGE_KEY: key, turns.RETRY_KEY: retry}
    return UserMessage(text, CollectingOutputChannel(), "api:a", metadata=metadata)

async def main():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]  # nothing listens there now
    store = InMemoryTrackerStore(domain=None)
    tracker = DialogueStateTracker("api:a", slots=[])
    tracker.update(UserUttered("停电了", {"name": "report_fault", "confidence": 0.9},
                               metadata={turns.MESSAGE_KEY: "7"}))
    tracker.update(BotUttered("哪个村？", {"buttons": [{"title": "东山村", "payload": "东山村"}]}))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    processor = Processor(store, endpoint)
    agent = Agent(processor)

    recorded = await turns.run_turn(agent, message("停电了", "7", True), retry=True)
    assert processor.ran == [], processor.ran  # it ran before: not again
    messages, latest = recorded
    assert messages == [{"recipient_id": "api:a", "text": "哪个村？",
                         "buttons": [{"title": "东山村", "payload": "东山村"}]}], messages
    assert latest["intent"]["name"] == "report_fault"
    assert latest["metadata"][turns.MESSAGE_KEY] == "7"
    assert await turns.run_turn(agent, message("还没来电", "8", True), retry=True) is None
    assert processor.ran == ["还没来电"]  # not in the tracker: it runs
    assert agent.lock_store.get_lock("api:a") is None  # the lock is given back

    try:  # the action server is down: the gateway's turn is abandoned
        await turns.run_turn(agent, message("call the actions", "9", False), retry=False)
        raise AssertionError("the turn went on")
    except turns.ActionServerUnreachable:
        pass
    assert processor.action_endpoint.gateway_guarded
    assert processor.action_endpoint.url == endpoint.url
    try:  # outside a gateway turn (another channel): Rasa's own error, as before
        await processor.action_endpoint.request(json={}, method="post", timeout=5)
        raise AssertionError("no error")
    except turns.UNREACHABLE:
        pass

    flaky = Flaky(domain=None)
    await flaky.save(tracker)
    reader = Reader(FailSafeTrackerStore(flaky), None)
    guarded = Agent(reader)
    assert await turns.run_turn(guarded, message("还没来电", "10", False), retry=False) is None
    assert reader.ran == [3]  # the conversation as stored
    flaky.down = True  # PostgreSQL restarting: the turn is abandoned, not started over
    try:
        await turns.run_turn(guarded, message("还没来电", "11", False), retry=False)
        raise AssertionError("the turn went on without its tracker")
    except turns.TrackerStoreUnavailable:
        pass
    assert reader.ran == [3]
    assert reader.tracker_store.gateway_guarded
    # outside a gateway turn: Rasa's fail-safe behaviour, as before (no tracker, memory save)
    assert await reader.tracker_store.retrieve("api:a") is None
    flaky.down = False
    assert await turns.run_turn(guarded, message("来电了", "12", False), retry=False) is None
    assert reader.ran == [3, 3]  # the stored conversation again, nothing lost
    print("ok")

asyncio.run(main())
"""


def test_turns_in_rasas_environment() -> None:
    if not RASA_PYTHON.exists():
        pytest.fail(f"{RASA_PYTHON} is missing: run make setup")
    done = subprocess.run(
        [str(RASA_PYTHON), "-W", "ignore", "-c", SCRIPT],
        cwd=ROOT, env=server_env(PYTHONPATH=str(ROOT)), capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "ok"
