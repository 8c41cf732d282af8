"""Small values the console's unit tests build: a signed-in staff member and a bus event."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.events import Event, EventKind
from store.services.console_sessions import StaffIdentity


def identity(user_id: int, role: str = "agent") -> StaffIdentity:
    return StaffIdentity(
        session_id=1,
        user_id=user_id,
        username=f"u{user_id}",
        display_name="",
        role=role,
        csrf_token="t",
        expires_at=datetime.now(UTC),
    )


def event(kind: EventKind, conversation_id: str | None, **data: object) -> Event:
    return Event(kind, dict(data), conversation_id=conversation_id)
