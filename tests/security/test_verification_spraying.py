"""Verification spraying against the real action server on loopback (`python -m actions`, a
seeded SQLite database, a copy of conf/ with a short back-off), called as Rasa calls it:
POST /webhook with the token and a tracker in the middle of the verify form.

1,000 attempts, each from a fresh conversation (a web chat is a new one per browser session):
600 spread over the station's accounts (and numbers that do not exist), 200 of them from one
address, 400 concentrated on one real account from 400 addresses (`spray`). Then:

- no account data is disclosed: no attempt verifies, nothing is recorded as verified;
- the limits hold as configured, checked on the recorded failures themselves (whatever the
  machine's speed): in every scope (client address, account number, the station), once a
  scope has its number of failures within the window, the next one came no earlier than the
  back-off allowed, which doubles per further failure up to the cap; and each limit was reached
  and attempts were refused;
- the real customer (the right digits, from a new conversation and address) is refused while
  the back-off runs, which is never longer than the cap, and verifies once it has passed.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings, load_settings
from store.configuration.commitments import VerificationPolicy
from store.db import make_engine, make_session_factory, unit_of_work
from store.models import Account, VerificationAttempt, VerifiedConversation
from store.services import verification
from store.services.verification import Claimant
from tests.processes import ROOT, running_action_server, seed, server_env

pytestmark = pytest.mark.slow

DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
TARGET = "3301000002"  # demo: 李秀英, phone ends 0002
TARGET_LAST4 = "0002"


def _conf_copy(directory: Path) -> Path:
    """conf/ with a back-off of 1 s doubling up to 2 s (the limits as shipped)."""
    conf = directory / "conf"
    shutil.copytree(ROOT / "conf", conf)
    path = conf / "commitments.yml"
    text = path.read_text(encoding="utf-8")
    for old, new in (
        ("first_seconds: 60", "first_seconds: 1"),
        ("max_seconds: 900", "max_seconds: 2"),
    ):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return conf


@dataclass
class ActionServer:
    url: str
    token: str
    settings: Settings
    factory: sessionmaker[Session]


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    work = tmp_path_factory.mktemp("spraying")
    database_url = f"sqlite:///{work / 'assistant.db'}"
    seed(database_url)
    conf = _conf_copy(work)
    token = secrets.token_hex(16)
    env = server_env(DATABASE_URL=database_url, CONF_DIR=str(conf), ACTION_SERVER_TOKEN=token)
    env.pop("ACTION_HOST", None)  # the default: loopback
    engine = make_engine(database_url)
    try:
        with running_action_server(env, work / "actions.log") as server:
            yield ActionServer(server.url, token, load_settings(conf), make_session_factory(engine))
    finally:
        engine.dispose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _initial_slots() -> dict[str, Any]:
    return {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}


def form_turn(sender: str, text: str, address: str, key: str) -> dict[str, Any]:
    """What Rasa POSTs when the customer answers the verify form's account question with both
    answers in one message ("户号3301000002 后四位1234")."""
    metadata = {"gateway_message_id": key, "client_address": address}
    latest = {
        "text": text,
        "intent": {"name": "inform", "confidence": 0.9},
        "entities": [],
        "metadata": metadata,
    }
    events = [
        {"event": "action", "name": "verify_form"},
        {"event": "active_loop", "name": "verify_form"},
        {"event": "slot", "name": "requested_slot", "value": "account_no"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": latest, "metadata": metadata},
        {"event": "slot", "name": "account_no", "value": text},
    ]
    slots = {**_initial_slots(), "requested_slot": "account_no", "account_no": text}
    return _call("validate_verify_form", sender, slots, latest, events, {"name": "verify_form"})


def _call(
    action: str,
    sender: str,
    slots: dict[str, Any],
    latest: dict[str, Any],
    events: list[dict[str, Any]],
    active_loop: dict[str, Any],
) -> dict[str, Any]:
    tracker = {
        "sender_id": sender,
        "slots": slots,
        "latest_message": latest,
        "events": events,
        "paused": False,
        "followup_action": None,
        "active_loop": active_loop,
        "latest_action_name": "action_listen",
        "latest_input_channel": "web",
    }
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": tracker,
        "domain": DOMAIN,
        "version": "3.6.21",
    }


async def post(http: aiohttp.ClientSession, server: ActionServer, body: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with http.post(f"{server.url}/webhook", json=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        result = await response.json()
        assert isinstance(result, dict)
        return result


def outcome(result: dict[str, Any]) -> str:
    said = [r.get("response") for r in result.get("responses", [])]
    slots = {e["name"]: e["value"] for e in result.get("events", []) if e.get("event") == "slot"}
    if "utter_verify_ok" in said or slots.get("verified") is True:
        return "verified"
    return "failed" if "utter_verify_failed" in said else "refused"


@dataclass(frozen=True)
class Attempt:
    account: str
    last4: str
    address: str


def spray(factory: sessionmaker[Session]) -> list[Attempt]:
    """The 1,000 attempts, shuffled (a fixed seed), each scope's limit met by one part:

    - 200 from one address, over many accounts: the client limit;
    - 400 on the target from 400 addresses: the account limit;
    - 400 from 400 addresses on 400 different numbers: only the station limit stops them.

    The last 20 on the target come last: it is backing off when the real customer comes."""
    rng = random.Random(14)
    with unit_of_work(factory) as session:
        phones = {a: p for a, p in session.execute(select(Account.account_no, Account.phone))}

    def wrong(account: str) -> str:
        right = phones.get(account, "00000000000")[-4:]
        return f"{(int(right) + rng.randrange(1, 9999)) % 10000:04d}"

    numbers = sorted(set(phones) - {TARGET}) + [f"3309{n:06d}" for n in range(200)]
    one_client = [Attempt(a, wrong(a), "198.51.100.7") for a in rng.choices(numbers, k=200)]
    target = [Attempt(TARGET, wrong(TARGET), f"203.0.{n // 200}.{n % 200}") for n in range(400)]
    spread = [
        Attempt(a, wrong(a), f"198.18.{n // 200}.{n % 200}")
        for n, a in enumerate(rng.sample(numbers, k=400))
    ]
    attempts = one_client + spread + target[:-20]
    rng.shuffle(attempts)
    return attempts + target[-20:]


def _failures(factory: sessionmaker[Session]) -> list[VerificationAttempt]:
    with unit_of_work(factory) as session:
        return list(
            session.scalars(
                select(VerificationAttempt)
                .where(
                    VerificationAttempt.success.is_(False), VerificationAttempt.throttled.is_(False)
                )
                .order_by(VerificationAttempt.at, VerificationAttempt.id)
            )
        )


def check_back_off(times: list[datetime], policy: VerificationPolicy, scope: str) -> int:
    """Every failure of one scope respected the back-off its predecessors imposed; the most
    failures the scope had within a window."""
    window = timedelta(minutes=policy.window_minutes)
    most = 0
    for i, at in enumerate(times):
        before = [t for t in times[:i] if t > at - window]
        most = max(most, len(before) + 1)
        wait = timedelta(seconds=policy.wait_seconds(len(before), scope))
        if wait:
            assert at >= before[-1] + wait, f"{scope}: failure {i} at {at} inside the back-off"
    return most


async def test_spraying_discloses_nothing_and_the_owner_still_gets_in(
    action_server: ActionServer, http: aiohttp.ClientSession
) -> None:
    server, policy = action_server, action_server.settings.commitments.verification
    attempts = spray(server.factory)
    assert len(attempts) == 1000
    outcomes: dict[str, int] = {"verified": 0, "failed": 0, "refused": 0}
    for n, a in enumerate(attempts):
        body = form_turn(
            f"web:{uuid.uuid4()}", f"户号{a.account} 后四位{a.last4}", a.address, f"{n}@1.0"
        )
        outcomes[outcome(await post(http, server, body))] += 1
    # nothing disclosed
    assert outcomes["verified"] == 0
    with unit_of_work(server.factory) as session:
        assert session.scalars(select(VerifiedConversation)).first() is None
        assert session.scalars(select(VerificationAttempt).filter_by(success=True)).first() is None
    # the limits held as configured, and were reached
    failures = _failures(server.factory)
    # (the failure that reaches a limit is answered with the wait, like a refusal)
    assert outcomes["failed"] <= len(failures) < outcomes["failed"] + outcomes["refused"]
    station = check_back_off([f.at for f in failures], policy, "station")
    assert station >= policy.failures["station"]
    groups: dict[tuple[str, str], list[datetime]] = {}
    for f in failures:
        groups.setdefault(("account", f.account_no), []).append(f.at)
        groups.setdefault(("client", str(f.client_address)), []).append(f.at)
    most = {"account": 0, "client": 0}
    for (scope, _), times in groups.items():
        most[scope] = max(most[scope], check_back_off(times, policy, scope))
    assert most["account"] >= policy.failures["account"]  # the target account backed off
    assert most["client"] >= policy.failures["client"]  # the one address backed off
    # the real customer: refused while the back-off runs, which is never longer than the
    # cap, and verified once it has passed
    last = await one_more_failure(http, server)
    customer = Claimant(f"web:{uuid.uuid4()}", "192.0.2.200")
    right = f"户号{TARGET} 后四位{TARGET_LAST4}"
    early = await post(http, server, form_turn(customer.sender_id, right, "192.0.2.200", "a@1"))
    assert outcome(early) == "refused"
    with unit_of_work(server.factory) as session:
        until = verification.locked_until(
            session, server.settings, claimant=customer, account_no=TARGET, now=datetime.now(UTC)
        )
    assert until is not None
    assert until <= last + timedelta(seconds=policy.backoff_max_seconds)
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.3)
    result = await post(http, server, form_turn(customer.sender_id, right, "192.0.2.200", "b@1"))
    assert outcome(result) == "verified", result
    said = json.dumps(result, ensure_ascii=False)
    assert "李*" in said  # the holder named, masked
    assert "李秀英" not in said


async def one_more_failure(http: aiohttp.ClientSession, server: ActionServer) -> datetime:
    """An attacker's attempt on the target that is counted (sent until the back-off lets one
    through, at most the cap): its time. The target is backing off right after it."""
    deadline = time.monotonic() + server.settings.commitments.verification.backoff_max_seconds + 10
    counted = len(_failures(server.factory))
    n = 0
    while time.monotonic() < deadline:
        n += 1
        text = f"户号{TARGET} 后四位9{n % 1000:03d}"
        body = form_turn(f"web:{uuid.uuid4()}", text, f"203.0.9.{n % 250}", f"x{n}@1")
        assert outcome(await post(http, server, body)) != "verified"
        failures = _failures(server.factory)
        if len(failures) > counted:
            return failures[-1].at
    pytest.fail("no attempt got through after the back-off's cap")
