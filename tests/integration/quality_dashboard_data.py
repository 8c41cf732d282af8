"""Crafted data for the dashboard's tests (tests/integration/test_quality_dashboard_api.py,
tests/browser/test_quality_browser.py): five repairs in 东山村 in October 2026 and one in
September, one web chat in October that agent1 took from the queue, and a complaint nobody
contacted.

The figures they give, worked out by hand (东山村 is rural: arrival within 90 minutes,
restoration within 4 hours, conf/commitments.yml):

| repair | day, hour | crew | arrival (min) | on time | restoration (min) | on time |
|---|---|---|---|---|---|---|
| R1 | 5 Oct 09:00 | 东片抢修组 | 60 | yes | 100 | yes |
| R2 | 12 Oct 10:00 | 东片抢修组 | 80 | yes | 120 | yes |
| R3 | 15 Oct 20:00 | 山区抢修组 | 120 | no | 200 | yes |
| R4 | 20 Oct 21:00 | 山区抢修组 | 150 | no | 300 | no |
| R5 | 25 Oct 22:00 | 山区抢修组 | 100 | no | 60 | yes |
| S1 | 10 Sep 10:00 | 东片抢修组 | 45 | yes | 60 | yes |

October: arrival on time 2 of 5 = 0.4 (September: 1 of 1 = 1.0, so 0.6 worse), average arrival
(60 + 80 + 120 + 150 + 100) / 5 = 102 minutes, restoration on time 4 of 5 = 0.8; the three late
arrivals are all 山区抢修组's (3 of 3, 100%): the bottleneck. 山区抢修组 alone: 0 of 3 on time;
东片抢修组: 2 of 2.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from sqlalchemy.orm import Session

from store.config import Settings
from store.services import areas, handoffs, staff, tickets, transcripts
from store.services.transcripts import OutboundText
from tests.integration import report_data
from tests.integration.report_data import Repair, at

EAST, MOUNTAIN = "东片抢修组", "山区抢修组"


REPAIRS: Final = (
    Repair(date(2026, 10, 5), 9, 60, 100, EAST),
    Repair(date(2026, 10, 12), 10, 80, 120, EAST),
    Repair(date(2026, 10, 15), 20, 120, 200, MOUNTAIN),
    Repair(date(2026, 10, 20), 21, 150, 300, MOUNTAIN),
    Repair(date(2026, 10, 25), 22, 100, 60, MOUNTAIN),
    Repair(date(2026, 9, 10), 10, 45, 60, EAST),
)
LATE: Final = (2, 3, 4)
"""Indexes in REPAIRS of the late arrivals."""


@dataclass(frozen=True)
class Crafted:
    numbers: tuple[str, ...]
    """the repairs' ticket numbers, in the order of REPAIRS"""
    chat: str
    """the web chat's conversation id (a bearer secret: never shown to staff)"""
    chat_handle: int
    complaint: str
    """a complaint of 8 October (never contacted)"""


def _chat(session: Session, agent: str) -> tuple[str, int]:
    """A web chat on 16 October: the customer asks for a person at 10:00, `agent` takes it at
    10:02, answers, and closes it at 10:10."""
    chat = str(uuid.uuid4())
    start = at(date(2026, 10, 16), 10)
    conversation = transcripts.touch_conversation(
        session, conversation_id=f"web:{chat}", channel="web", chat_id=chat, now=start
    )
    transcripts.record_inbound(session, conversation, text="转人工", now=start, status="processed")
    handoff = handoffs.request(
        session, conversation_pk=conversation.id, reason="request_human", now=start
    )
    user = staff.get_by_username(session, agent)
    assert user is not None
    handoffs.claim(session, handoff.id, user.id, now=start + timedelta(minutes=2))
    reply = [OutboundText(text="您好，请讲")]
    transcripts.record_outbound(
        session, conversation, reply, now=start + timedelta(minutes=3), sender="agent"
    )
    handoffs.resolve(session, handoff.id, user.id, now=start + timedelta(minutes=10))
    return conversation.conversation_id, conversation.id


def craft(session: Session, settings: Settings, *, agent: str = "agent1") -> Crafted:
    """The crafted station (`agent`: an existing staff user who works chats)."""
    areas.sync_areas(session, settings)
    numbers = tuple(
        report_data._repair(session, settings, r, n).ticket_no for n, r in enumerate(REPAIRS, 1)
    )
    chat, handle = _chat(session, agent)
    complaint = tickets.create_ticket(
        session, settings, type="complaint", description="电费算错了", now=at(date(2026, 10, 8), 10)
    )
    return Crafted(numbers, chat, handle, complaint.ticket_no)
