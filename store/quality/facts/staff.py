"""Who handled an item, as the facts record it: the staff user's id (`staff_users.id`), found
from the username the stores write (`tickets.handler`, the actor of an application's step), so
a team filter compares ids with the people in the team (store/quality/names.py).

A name that is no staff account (the assistant, the system, a name typed into `python -m store
advance --actor`) is nobody's: the item counts for the station, in no team."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import StaffUser


def staff_ids(session: Session, usernames: Iterable[str | None]) -> dict[str, int]:
    """username → staff user id, for those of `usernames` that are staff accounts."""
    wanted = {name for name in usernames if name}
    if not wanted:
        return {}
    stmt = select(StaffUser.username, StaffUser.id).where(StaffUser.username.in_(wanted))
    return {name: staff_id for name, staff_id in session.execute(stmt)}
