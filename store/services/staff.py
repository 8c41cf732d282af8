"""Station staff who work in the agent console: accounts, passwords (argon2id), availability.

The console's login/session logic lives with the console; this module only owns the users.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import STAFF_AVAILABILITY, StaffAvailability, StaffUser
from store.roles import STAFF_ROLES, StaffRole
from store.sla import require_aware

ROLES: Final[tuple[str, ...]] = STAFF_ROLES
"""store/roles.py: what each role may do."""
AVAILABILITY: Final[tuple[str, ...]] = STAFF_AVAILABILITY
_hasher = PasswordHasher()


class StaffError(ValueError):
    """A bad username, role, availability or password (message says which)."""


def hash_password(password: str) -> str:
    if not password:
        raise StaffError("password must not be empty")
    return _hasher.hash(password)


def get(session: Session, user_id: int) -> StaffUser | None:
    return session.get(StaffUser, user_id)


def get_by_username(session: Session, username: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(StaffUser.username == username)).first()


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str,
    role: str = StaffRole.AGENT,
    max_chats: int = 3,
    availability: str = StaffAvailability.OFFLINE,
    now: datetime,
) -> StaffUser:
    """A new staff user; StaffError when the username is taken or a value is invalid."""
    require_aware(now)
    username = username.strip()
    if not username:
        raise StaffError("username must not be empty")
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if availability not in AVAILABILITY:
        raise StaffError(f"availability must be one of {', '.join(AVAILABILITY)}")
    if max_chats < 0:
        raise StaffError("max_chats must be 0 or more")
    if get_by_username(session, username) is not None:
        raise StaffError(f"username {username!r} is taken")
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        availability=availability,
        max_chats=max_chats,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def verify_password(session: Session, user: StaffUser, password: str) -> bool:
    """True when `password` is the user's; rehashes (and flushes) outdated argon2 parameters."""
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.flush()
    return True


def check_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(whether `password` matches, a new hash when the parameters are outdated), without a
    database session: the console runs this slow part (argon2) outside any transaction. No
    hash (no such user): a hash is computed anyway, so both take about the same time."""
    if password_hash is None:
        _hasher.hash(password or "x")
        return False, None
    try:
        _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    """The user when the username and password match, else None (same answer for both)."""
    user = get_by_username(session, username)
    if user is None:
        _hasher.hash(password or "x")  # similar time whether or not the user exists
        return None
    return user if verify_password(session, user, password) else None


def set_password(session: Session, user: StaffUser, password: str) -> None:
    user.password_hash = hash_password(password)
    session.flush()


def set_availability(session: Session, user_id: int, availability: str) -> StaffUser:
    """available / away / offline (only 'available' agents are auto-assigned chats)."""
    if availability not in AVAILABILITY:
        raise StaffError(f"availability must be one of {', '.join(AVAILABILITY)}")
    user = session.get(StaffUser, user_id)
    if user is None:
        raise StaffError(f"no staff user {user_id}")
    user.availability = availability
    session.flush()
    return user


def all_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.id)))
