"""Pure parts of the agent console: login throttling, page templates, the live-feed filter."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.console.canned import load_canned_replies
from bot.console.pages import ConsoleFiles, content_security_policy
from bot.console.ratelimit import LoginLimiter
from bot.console.ws import AgentFilter
from store.configuration.yamlfile import ConfigError
from tests.fakes.console_parts import event, identity


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_lock_the_pair_for_the_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for _ in range(4):
        limiter.failed("10.0.0.1", "Agent1")
        assert limiter.retry_after("10.0.0.1", "agent1") == 0
    limiter.failed("10.0.0.1", "agent1 ")  # same user, spelled differently
    wait = limiter.retry_after("10.0.0.1", "AGENT1")
    assert 0 < wait <= 15 * 60 + 1
    assert limiter.retry_after("10.0.0.2", "agent1") == 0  # another computer
    assert limiter.retry_after("10.0.0.1", "agent2") == 0  # another user
    clock.now += 15 * 60 + 1
    assert limiter.retry_after("10.0.0.1", "agent1") == 0  # the window passed


def test_success_clears_the_failures() -> None:
    limiter = LoginLimiter(clock=Clock())
    for _ in range(4):
        limiter.failed("ip", "u")
    limiter.succeeded("ip", "u")
    for _ in range(4):
        limiter.failed("ip", "u")
    assert limiter.retry_after("ip", "u") == 0


def test_templates_escape_every_value() -> None:
    static = Path(__file__).resolve().parents[2] / "bot" / "static"
    files = ConsoleFiles(static)
    files.refresh()
    page = files.render(
        "console.html",
        {"csrf": 'a"b', "display_name": "<script>x</script>", "username": "u", "role": "agent"},
    )
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert 'content="a&quot;b"' in page
    assert "{{" not in page
    assert f"console.js?v={files.version}" in page


def test_canned_replies_of_the_repository_and_errors(tmp_path: Path) -> None:
    conf = Path(__file__).resolve().parents[2] / "conf"
    replies = load_canned_replies(conf)
    assert replies[0].title == "问候"
    assert all(r.text_zh and r.text_en for r in replies)
    assert load_canned_replies(tmp_path) == ()  # no file: none
    (tmp_path / "canned_replies.yml").write_text("replies:\n  - title: x\n    text: {zh: 好}\n")
    with pytest.raises(ConfigError, match=r"canned_replies.yml: replies\[0\].text.en is missing"):
        load_canned_replies(tmp_path)


def test_content_security_policy_is_strict() -> None:
    policy = content_security_policy("kefu.example.cn")
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "wss://kefu.example.cn" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy
    assert "wss://" not in content_security_policy("bad host/x")


def test_agents_see_their_chats_and_the_queue_supervisors_everything() -> None:
    agent = AgentFilter(identity(7), {"telegram:1"})
    boss = AgentFilter(identity(9, "supervisor"), set())
    mine, other = event("message_in", "telegram:1"), event("message_in", "telegram:2")
    assert agent.wants(mine)
    assert not agent.wants(other)
    assert boss.wants(other)
    assert agent.wants(event("queue_changed", None, queued=3))
    assert agent.wants(event("alert", "telegram:5", reason="safety_hazard"))
    assert agent.wants(event("handoff_changed", "telegram:3", state="queued", agent_id=None))
    # a chat claimed by the agent becomes theirs; transferred away, it is no longer
    assert agent.wants(event("handoff_changed", "telegram:2", state="assigned", agent_id=7))
    assert agent.wants(other)
    assert agent.wants(event("handoff_changed", "telegram:2", state="assigned", agent_id=8))
    assert not agent.wants(other)
    assert not agent.wants(event("handoff_changed", "telegram:4", state="assigned", agent_id=8))
