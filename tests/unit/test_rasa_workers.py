"""Several Rasa workers, the parts without a network: how conversations are ranked over the
workers, how RASA_URL lists them, how a failed webhook answer is read, how Rasa finds a retried
message's earlier answer, and the discovery of workers by name (a fake resolver)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import aiohttp
import pytest
import yaml

from bot.rasa_discovery import WorkerDiscovery, at_address
from bot.rasa_errors import (
    ActionsUnavailable,
    RasaNotReached,
    RasaTurnFailed,
    RasaUnavailable,
    server_failure,
)
from bot.rasa_pool import RasaPool, ranked
from bot.settings import ConfigError, GatewaySettings
from nlu.deploy import RasaServer
from rasa_addons.turns import MESSAGE_KEY, recorded_answer
from tests.unit.test_deploy_files import ENDPOINTS_FILE, services

WORKERS = [f"http://127.0.0.1:{5005 + 2 * i}" for i in range(3)]


def test_a_conversation_always_ranks_the_workers_the_same_way() -> None:
    for sender in ("api:alice", "telegram:42", "web:x"):
        first = ranked(sender, WORKERS)
        assert sorted(first) == sorted(WORKERS)
        assert ranked(sender, list(reversed(WORKERS))) == first  # not the listing order


def test_conversations_spread_over_the_workers() -> None:
    firsts = Counter(ranked(f"api:customer-{n}", WORKERS)[0] for n in range(3000))
    assert set(firsts) == set(WORKERS)
    assert all(800 < count < 1200 for count in firsts.values()), firsts


def test_a_worker_leaving_moves_only_its_own_conversations() -> None:
    senders = [f"api:customer-{n}" for n in range(500)]
    before = {s: ranked(s, WORKERS)[0] for s in senders}
    gone = WORKERS[1]
    after = {s: ranked(s, [w for w in WORKERS if w != gone])[0] for s in senders}
    moved = [s for s in senders if before[s] != after[s]]
    assert moved
    assert all(before[s] == gone for s in moved)
    # each moves to its second choice: where it goes while the worker is down
    assert all(after[s] == ranked(s, WORKERS)[1] for s in moved)


def test_rasa_url_lists_the_workers() -> None:
    one = GatewaySettings.from_env({"RASA_URL": "http://127.0.0.1:5005/"})
    assert one.rasa_pools == (("http://127.0.0.1:5005",),)
    env = {
        "RASA_URL": "http://127.0.0.1:5005, http://127.0.0.1:5007",
        "RASA_STANDBY_URL": "http://127.0.0.1:5006 http://127.0.0.1:5008",
    }
    two = GatewaySettings.from_env(env)
    assert two.rasa_url == "http://127.0.0.1:5005"
    assert two.rasa_pools == (
        ("http://127.0.0.1:5005", "http://127.0.0.1:5007"),
        ("http://127.0.0.1:5006", "http://127.0.0.1:5008"),
    )
    assert not two.rasa_discovery
    assert GatewaySettings.from_env({"RASA_DISCOVERY": "dns"}).rasa_discovery
    # the NLU loop's deployments see the same pools
    server = RasaServer.from_env({**env, "RASA_TOKEN": "t"})
    assert [w.url for w in server.workers(server.url)] == list(two.rasa_pools[0])
    assert [w.url for w in server.workers(server.other(None))] == list(two.rasa_pools[1])
    assert {w.token for w in server.workers(server.url)} == {"t"}


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"RASA_URL": "rasa:5005"}, "not a Rasa URL"),
        ({"RASA_URL": "http://a:5005,http://a:5005"}, "twice"),
        ({"RASA_STANDBY_URL": "ftp://b"}, "RASA_STANDBY_URL"),
        ({"RASA_DISCOVERY": "consul"}, "RASA_DISCOVERY"),
    ],
)
def test_wrong_worker_settings_are_refused(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        GatewaySettings.from_env(env)


def _failure(status: int, code: str | None) -> RasaUnavailable:
    body = json.dumps({"error": {"code": code, "message": "m"}}) if code else "<html>502</html>"
    return server_failure(status, body)


def test_a_failed_turn_says_what_may_be_done_with_it() -> None:
    assert type(_failure(503, "no_model")) is RasaNotReached  # send it elsewhere now
    actions = _failure(503, "actions_unavailable")
    assert isinstance(actions, ActionsUnavailable)
    assert isinstance(actions, RasaTurnFailed)
    assert "action server" in str(actions)  # the handoff desk's failure kind reads it
    assert type(_failure(500, "turn_failed")) is RasaTurnFailed
    store = _failure(503, "tracker_store_unavailable")  # shared by every worker: all wait
    assert type(store) is RasaTurnFailed
    assert "tracker store" in str(store)
    assert type(_failure(502, None)) is RasaUnavailable  # a proxy's page: may have run
    assert type(_failure(500, "something_else")) is RasaUnavailable


EVENTS: list[dict[str, Any]] = [
    {"event": "user", "text": "停电了", "metadata": {MESSAGE_KEY: "7"}, "parse_data": {}},
    {"event": "bot", "text": "哪个村？", "data": {"buttons": None}},
    {"event": "action", "name": "action_listen"},
    {
        "event": "user",
        "text": "东山村",
        "metadata": {MESSAGE_KEY: "8", "gateway_retry": True},
        "parse_data": {"intent": {"name": "inform", "confidence": 0.9}},
    },
    {
        "event": "bot",
        "text": "请留电话",
        "data": {"buttons": [{"title": "跳过", "payload": "/deny"}]},
    },
    {"event": "bot", "text": None, "data": {"image": "https://example.org/map.png"}},
    {"event": "user", "text": "谢谢", "metadata": {MESSAGE_KEY: "9"}, "parse_data": {}},
]


def test_rasa_finds_a_retried_messages_earlier_answer() -> None:
    messages, latest = recorded_answer(EVENTS, "api:a", "8") or ([], None)
    assert messages == [
        {
            "recipient_id": "api:a",
            "text": "请留电话",
            "buttons": [{"title": "跳过", "payload": "/deny"}],
        },
        {"recipient_id": "api:a", "image": "https://example.org/map.png"},
    ]
    assert latest is not None
    assert latest["intent"]["name"] == "inform"
    assert latest["metadata"][MESSAGE_KEY] == "8"
    assert recorded_answer(EVENTS, "api:a", "9") == ([], {"metadata": {MESSAGE_KEY: "9"}})
    assert recorded_answer(EVENTS, "api:a", "10") is None  # not there: it must run


def test_an_address_replaces_the_host() -> None:
    assert at_address("http://rasa:5005", "172.18.0.5") == "http://172.18.0.5:5005"
    assert at_address("http://rasa:5005/", "fd00::5") == "http://[fd00::5]:5005/"
    assert at_address("https://rasa", "10.0.0.2") == "https://10.0.0.2"


async def test_discovery_follows_the_names_addresses() -> None:
    answers: dict[str, list[str]] = {"rasa": ["172.18.0.5", "172.18.0.6"]}

    async def resolver(host: str, port: int) -> list[str]:
        assert port == 5005
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    async with aiohttp.ClientSession() as session:
        pool = RasaPool(session, [["http://rasa:5005"]], token=None, timeout=5)
        discovery = WorkerDiscovery(pool, [["http://rasa:5005"]], resolver=resolver)
        await discovery.refresh()
        found = ["http://172.18.0.5:5005", "http://172.18.0.6:5005"]
        assert [w.url for w in pool.workers()] == found
        assert pool.base_url == "http://rasa:5005"  # the pool keeps its name
        answers["rasa"] = ["172.18.0.6", "172.18.0.7"]  # scaled: one replaced
        await discovery.refresh()
        assert [w.url for w in pool.workers()] == [
            "http://172.18.0.6:5005",
            "http://172.18.0.7:5005",
        ]
        del answers["rasa"]  # the lookup fails: the last workers stay
        await discovery.refresh()
        assert len(pool.workers()) == 2
        await pool.close()


def test_compose_scales_rasa_and_the_gateway_finds_every_container() -> None:
    """`docker compose up --scale rasa=N`: the service can have several containers (no fixed
    name, no published port), they share PostgreSQL and Redis, and the gateway takes every
    address of the service's name as a worker."""
    compose = services()
    rasa = compose["rasa"]
    assert "container_name" not in rasa
    assert "ports" not in rasa
    endpoints = yaml.safe_load(ENDPOINTS_FILE.read_text(encoding="utf-8"))
    assert (endpoints["tracker_store"]["type"], endpoints["lock_store"]["type"]) == ("SQL", "redis")
    gateway = compose["gateway"]["environment"]
    settings = GatewaySettings.from_env({k: str(v) for k, v in gateway.items()})
    assert settings.rasa_discovery
    assert settings.rasa_pools == (("http://rasa:5005",),)
