"""Human handoff through the whole stack: the trained model recognises "转人工" on Telegram, the
gateway queues the chat, an agent logs into the console (headless Chromium) claims it and replies;
while the agent owns the chat Rasa hears nothing; the agent hands back, the survey arrives and
the rating is stored with the agent; then the bot answers again.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import async_playwright, expect
from sqlalchemy import select

from store.conversation_refs import mask
from store.db import make_engine, make_session_factory
from store.models import Handoff, Rating, StaffUser
from tests.browser.harness import chromium_executable
from tests.e2e.conftest import Gateway, Stack, say
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import ROOT, server_env

PASSWORD = "e2e-agent-password-1"
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def set_agent_hours(conf: Path, hours: list[dict[str, Any]]) -> None:
    """conf/service.yml agent_hours of a test's copy of conf/."""
    service = yaml.safe_load((conf / "service.yml").read_text(encoding="utf-8"))
    service["agent_hours"] = hours
    (conf / "service.yml").write_text(yaml.safe_dump(service, allow_unicode=True), "utf-8")


@pytest.fixture
def gateway_env(tmp_path: Path, e2e_stack: Stack) -> dict[str, str]:
    """Agents answer around the clock (CI runs at any hour) and claim chats themselves."""
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    handoff = yaml.safe_load((conf / "handoff.yml").read_text(encoding="utf-8"))
    handoff.update(auto_assign=False, watch_interval_seconds=1)
    (conf / "handoff.yml").write_text(yaml.safe_dump(handoff, allow_unicode=True), "utf-8")
    set_agent_hours(conf, [{"days": ALL_DAYS, "open": "00:00", "close": "23:59"}])
    return {"CONF_DIR": str(conf), "DEMO_AGENT_PASSWORD": PASSWORD}


def user_turns(stack: Stack, sender: str) -> int:
    """How many customer messages Rasa has seen in this conversation."""
    return sum(1 for e in stack.tracker(sender)["events"] if e["event"] == "user")


async def test_agent_takes_over_and_hands_back(
    e2e_stack: Stack, gateway: Gateway, telegram: FakeTelegram, gateway_env: dict[str, str]
) -> None:
    created = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "store", "--url", e2e_stack.database_url, "demo-users",
        cwd=ROOT, env=server_env(**gateway_env),
    )  # fmt: skip
    assert await created.wait() == 0

    user = telegram.user(7_200_002)
    conversation = f"telegram:{user['id']}"
    queued = await say(telegram, user, "我要转人工")
    assert "人工" in queued

    # the agent works in the console, in a real (headless, Debian) Chromium
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=chromium_executable())
        try:
            page = await browser.new_page(locale="zh-CN")
            page.set_default_timeout(20_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{gateway.url}/console")
            await page.get_by_label("用户名").fill("agent1")
            await page.get_by_label("密码").fill(PASSWORD)
            await page.get_by_role("button", name="登录").click()
            await expect(page.locator("#live")).to_have_text("实时连接正常")

            # the queued chat, with the bot's part and what NLU made of the customer's words
            # the queue shows the masked id and the customer's last words (other chats may wait)
            item = (
                page.locator("#queue .item-button")
                .filter(has_text=mask(conversation))
                .filter(has_text="我要转人工")
            )
            await item.click()
            transcript = page.locator("#transcript")
            await expect(transcript.locator(".msg-customer .msg-text").first).to_have_text(
                "我要转人工"
            )
            await expect(transcript.locator(".msg-customer .msg-intent").first).to_contain_text(
                "request_human"
            )
            await page.get_by_role("button", name="接入此会话").click()
            await expect(page.locator("#mine .item-button")).to_have_count(1)

            before = len(telegram.sent)
            box = page.get_by_label("回复内容")
            await box.fill("您好，我是值班客服小李，请问有什么可以帮您？")
            await box.press("Enter")
            await telegram.wait_for(
                lambda: any("值班客服小李" in str(m.get("text")) for m in telegram.sent[before:]),
                within=15,
            )

            # the customer writes while the agent owns the chat: the agent sees it, the bot
            # (Rasa) hears nothing and says nothing
            heard = user_turns(e2e_stack, conversation)
            sent_before = len(telegram.sent)
            await telegram.queue_update(telegram.text_update("电表好像走得特别快", user=user))
            await expect(transcript.locator(".msg-customer .msg-text").last).to_have_text(
                "电表好像走得特别快"
            )
            await telegram.settle(2)
            assert len(telegram.sent) == sent_before, telegram.sent[sent_before:]
            assert user_turns(e2e_stack, conversation) == heard

            # hand back to the bot
            await page.get_by_role("button", name="交还机器人").click()
            await expect(page.locator("#mine .item-button")).to_have_count(0)
            assert errors == []
        finally:
            await browser.close()

    def survey() -> list[dict[str, Any]]:
        return [m for m in telegram.sent[sent_before:] if telegram.buttons_of(m)]

    await telegram.wait_for(lambda: bool(survey()), within=15)
    buttons = telegram.buttons_of(survey()[-1])
    assert [b["text"] for b in buttons] == ["1", "2", "3", "4", "5"]
    await telegram.queue_update(telegram.callback_update(survey()[-1], buttons[4]["callback_data"]))
    await telegram.wait_for(
        lambda: any("评价（5分）" in str(m.get("text")) for m in telegram.sent[sent_before:]),
        within=15,
    )
    engine = make_engine(e2e_stack.database_url)
    try:
        with make_session_factory(engine)() as session:
            rating = session.scalars(select(Rating).where(Rating.sender_id == conversation)).one()
            agent = session.scalars(select(StaffUser).where(StaffUser.username == "agent1")).one()
            handoff = session.get(Handoff, rating.handoff_id)
            assert handoff is not None
            assert (rating.rating, rating.agent_id) == (5, agent.id)
            assert (handoff.state, handoff.reason, handoff.agent_id) == (
                "returned_to_bot",
                "request_human",
                agent.id,
            )
    finally:
        engine.dispose()

    # the survey's optional comment, kept with the rating
    assert "收到" in await say(telegram, user, "客服很耐心，谢谢")
    engine = make_engine(e2e_stack.database_url)
    try:
        with make_session_factory(engine)() as session:
            rating = session.scalars(select(Rating).where(Rating.sender_id == conversation)).one()
            assert rating.comment == "客服很耐心，谢谢"
    finally:
        engine.dispose()

    # the bot is back
    greeting = await say(telegram, user, "你好")
    assert "供电所" in greeting
