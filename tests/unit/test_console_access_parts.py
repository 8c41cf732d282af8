"""The pure parts of what staff may see: masked conversation ids, the websocket's frames (no id,
operators' summaries), the handle cache and the role sets (one list, manager = supervisor+)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiohttp import web

from bot.console import auth, live
from bot.console.frames import AgentFilter, HandleCache, staff_frame
from bot.console.state import ApiError
from bot.events import Event
from bot.keys import CORE_ROUTER
from bot.router import NotYourChat
from store import roles
from store.conversation_refs import mask
from store.models import STAFF_ROLES
from store.services import staff
from tests.fakes.console_parts import event, identity


@pytest.mark.parametrize(
    ("conversation_id", "label"),
    [
        ("web:3f2a1b2c-1111-2222-3333-444455559c1d", "web:3f2a…9c1d"),
        ("telegram:424242", "telegram:4…2"),
        ("telegram:5123456789", "telegram:51…89"),
        ("api:crm-system-0001", "api:crm…001"),
        ("api:me", "api:…"),
        ("no-channel-here", "no-…ere"),
        ("web:", "web:…"),
    ],
)
def test_masked_ids(conversation_id: str, label: str) -> None:
    assert mask(conversation_id) == label


def test_a_web_chats_uuid_is_mostly_hidden() -> None:
    for _ in range(200):
        chat = str(uuid.uuid4())
        shown = mask(f"web:{chat}").removeprefix("web:").replace("…", "")
        assert len(shown) == 8  # 24 of its 32 hex digits stay hidden
        assert chat not in mask(f"web:{chat}")


def test_frames_carry_the_handle_and_the_label_never_the_id() -> None:
    secret = "web:3f2a1b2c-1111-2222-3333-444455559c1d"
    data = {"conversation_id": secret, "handoff_id": 3, "state": "queued", "detail": "客户说的话"}
    changed = Event("handoff_changed", data, conversation_id=secret)
    frame = staff_frame(changed, 17)
    assert secret not in str(frame)
    assert (frame["conversation"], frame["conversation_label"]) == (17, "web:3f2a…9c1d")
    assert frame["detail"] == "客户说的话"
    summary = staff_frame(changed, 17, summary=True)
    assert summary["state"] == "queued"
    assert "detail" not in summary
    assert secret not in str(summary)
    assert "conversation" not in staff_frame(event("queue_changed", None, queued=2), None)


def test_operators_get_summaries_of_queue_and_handoff_changes_only() -> None:
    ops = AgentFilter(identity(5, "operator"), set())
    assert ops.summary
    assert ops.wants(event("queue_changed", None, queued=1))
    assert ops.wants(event("handoff_changed", "telegram:1", state="assigned", agent_id=8))
    assert ops.wants(event("alert", "telegram:1", reason="safety_hazard"))
    assert not ops.wants(event("message_in", "telegram:1", text="我的电话"))
    assert not ops.wants(event("message_out", "telegram:1", text="您的电费"))
    for role in ("supervisor", "manager"):
        station = AgentFilter(identity(9, role), set())
        assert station.everything
        assert not station.summary
        assert station.wants(event("message_in", "telegram:2"))


def test_the_handle_cache_is_bounded() -> None:
    cache = HandleCache(size=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now the most recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_the_roles_live_in_one_place() -> None:
    assert STAFF_ROLES == roles.STAFF_ROLES == staff.ROLES
    assert set(STAFF_ROLES) == {
        "agent", "supervisor", "manager", "operator", "dispatcher", "crew", "clerk"
    }  # fmt: skip
    for group in (roles.SEES_STATION, roles.WORKS_CHATS, roles.OVERSEES, roles.RETRAINS_NLU):
        assert group <= roles.ALL_ROLES
    # a manager has everything a supervisor has
    for allowed in (
        auth.AGENT_ROLES,
        auth.SUPERVISOR_ROLES,
        auth.ACCESS_LOG_ROLES,
        roles.SEES_STATION,
    ):
        assert "supervisor" in allowed
        assert "manager" in allowed
    assert "agent" not in auth.ACCESS_LOG_ROLES
    assert "operator" not in auth.ACCESS_LOG_ROLES
    assert "operator" not in roles.WORKS_CHATS


class RefusingRouter:
    """The router's answer when the chat is no longer the agent's (a race with a transfer):
    its message names the conversation id."""

    async def send_as_agent(self, conversation_id: str, text: str, agent: Any) -> str:
        raise NotYourChat(f"{conversation_id} is assigned to someone else")


async def test_a_refused_reply_does_not_name_the_conversation() -> None:
    app = web.Application()
    app[CORE_ROUTER] = RefusingRouter()  # type: ignore[assignment]
    secret = f"web:{uuid.uuid4()}"
    with pytest.raises(ApiError) as refused:
        await live.send_as_agent(app, secret, "您好", identity(7))
    assert (refused.value.status, refused.value.code) == (403, "not_your_chat")
    assert secret.removeprefix("web:") not in refused.value.message
