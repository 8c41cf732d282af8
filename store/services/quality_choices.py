"""What the service-quality dashboard offers and checks around the computation (store/quality):
the filters' choices (areas, crews, the staff who work chats, the channels seen, the teams),
whether a filter names something that exists, staff names, and how a conversation behind a
figure is shown to staff (its handle and masked id, never the id: store/conversation_refs.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.conversation_refs import mask
from store.models import Conversation, Crew, ServiceArea, StaffUser, Team
from store.roles import WORKS_CHATS


@dataclass(frozen=True)
class Choice:
    """One option of a filter: the value the API takes and what people read."""

    value: str
    label: str


@dataclass(frozen=True)
class Choices:
    areas: tuple[Choice, ...]
    crews: tuple[Choice, ...]
    agents: tuple[Choice, ...]
    channels: tuple[str, ...]
    teams: tuple[Choice, ...]
    staff: tuple[Choice, ...]
    """Everyone with a console account: who may own an improvement measure."""


def choices(session: Session) -> Choices:
    """Every filter's options: areas by code, crews (inactive ones too: history names them),
    the staff who work chats, the channels conversations came on, and the teams."""
    areas = session.execute(select(ServiceArea.code, ServiceArea.name).order_by(ServiceArea.code))
    crews = session.execute(select(Crew.id, Crew.name).order_by(Crew.name, Crew.id))
    users = session.execute(
        select(StaffUser.username, StaffUser.display_name, StaffUser.role).order_by(
            StaffUser.username
        )
    ).all()
    return Choices(
        areas=tuple(Choice(code, name) for code, name in areas),
        crews=tuple(Choice(str(crew_id), name) for crew_id, name in crews),
        agents=tuple(Choice(u, name) for u, name, role in users if role in WORKS_CHATS),
        channels=tuple(session.scalars(select(Conversation.channel).distinct()).all()),
        teams=tuple(
            Choice(str(i), name)
            for i, name in session.execute(select(Team.id, Team.name).order_by(Team.name))
        ),
        staff=tuple(Choice(u, name) for u, name, _ in users),
    )


def area_exists(session: Session, code: str) -> bool:
    return session.scalar(select(ServiceArea.id).where(ServiceArea.code == code)) is not None


def crew_name(session: Session, crew_id: int) -> str | None:
    return session.scalar(select(Crew.name).where(Crew.id == crew_id))


def team_name(session: Session, team_id: int) -> str | None:
    return session.scalar(select(Team.name).where(Team.id == team_id))


def chat_staff_exists(session: Session, username: str) -> bool:
    """Whether `username` is staff who work chats (what the agent filter narrows to)."""
    role = session.scalar(select(StaffUser.role).where(StaffUser.username == username))
    return role in WORKS_CHATS


def channel_seen(session: Session, channel: str) -> bool:
    found = select(Conversation.id).where(Conversation.channel == channel).limit(1)
    return session.scalar(found) is not None


def staff_names(session: Session, usernames: Iterable[str]) -> dict[str, str]:
    """Display names of these staff users (those that exist)."""
    wanted = set(usernames)
    if not wanted:
        return {}
    rows = session.execute(
        select(StaffUser.username, StaffUser.display_name).where(StaffUser.username.in_(wanted))
    )
    return {username: name for username, name in rows}


def conversation_refs(
    session: Session, conversation_ids: Iterable[str]
) -> dict[str, tuple[int, str]]:
    """For each conversation id that exists: its handle (the console's routes take it) and its
    masked id (what staff read)."""
    wanted = set(conversation_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Conversation.conversation_id, Conversation.id).where(
            Conversation.conversation_id.in_(wanted)
        )
    )
    return {cid: (pk, mask(cid)) for cid, pk in rows}
