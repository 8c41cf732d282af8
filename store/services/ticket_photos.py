"""Photos a crew takes on site, attached to a repair ticket.

The file is kept under conf/dispatch.yml's photo directory (var/ by default) with a random name
the server chose; the uploader's file name and type are never trusted: the first bytes must be
those of an allowed image type, and the size and the number per ticket are limited. Who may
read a photo is the ticket's rule (the API checks it before calling `read`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.configuration.dispatch import PhotoLimits
from store.models import Ticket, TicketEvent, TicketPhoto
from store.sla import require_aware

__all__ = ["PhotoError", "TicketPhoto", "get", "photos_of", "read", "save"]

_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class PhotoError(ValueError):
    """A photo refused: its type, size, or one too many for the ticket. `status` is the HTTP
    status that fits (413 too large, 415 not an allowed image, 409 too many)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are (None: none we accept)."""
    for content_type, signatures in _SIGNATURES.items():
        if any(data.startswith(sig) for sig in signatures):
            if content_type == "image/webp" and data[8:12] != b"WEBP":
                continue
            return content_type
    return None


def photos_of(session: Session, ticket_id: int) -> list[TicketPhoto]:
    stmt = select(TicketPhoto).where(TicketPhoto.ticket_id == ticket_id).order_by(TicketPhoto.id)
    return list(session.scalars(stmt))


def get(session: Session, ticket_id: int, photo_id: int) -> TicketPhoto | None:
    """The photo if it belongs to this ticket."""
    photo = session.get(TicketPhoto, photo_id)
    return photo if photo is not None and photo.ticket_id == ticket_id else None


def _check(session: Session, limits: PhotoLimits, ticket: Ticket, data: bytes) -> str:
    if len(data) > limits.max_bytes:
        raise PhotoError(413, f"照片不能超过 {limits.max_bytes // 1024} KB")
    content_type = sniff(data)
    if content_type is None or content_type not in limits.types:
        raise PhotoError(415, f"只接受这些图片格式：{', '.join(sorted(limits.types))}")
    count = session.scalar(
        select(func.count()).select_from(TicketPhoto).where(TicketPhoto.ticket_id == ticket.id)
    )
    if (count or 0) >= limits.max_per_ticket:
        raise PhotoError(409, f"每张工单最多 {limits.max_per_ticket} 张照片")
    return content_type


def _write(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    temporary = directory / f".{name}.tmp"
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    return path


def save(
    session: Session,
    limits: PhotoLimits,
    ticket: Ticket,
    data: bytes,
    *,
    actor: str,
    now: datetime,
) -> TicketPhoto:
    """Store the photo and record it in the ticket's history (a note: not announced)."""
    require_aware(now)
    if ticket.closed_at is not None:
        raise PhotoError(409, f"工单 {ticket.ticket_no} 已办结")
    content_type = _check(session, limits, ticket, data)
    name = f"{ticket.id}-{secrets.token_hex(16)}.{_EXTENSIONS[content_type]}"
    path = _write(limits.directory, name, data)
    try:
        photo = TicketPhoto(
            ticket_id=ticket.id,
            stored_name=name,
            content_type=content_type,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            uploaded_by=actor,
            at=now,
        )
        session.add(photo)
        session.add(
            TicketEvent(ticket=ticket, status=ticket.status, at=now, actor=actor, note="上传照片")
        )
        session.flush()
    except Exception:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return photo


def read(limits: PhotoLimits, photo: TicketPhoto) -> bytes:
    """The photo's bytes (FileNotFoundError when the file was removed from disk)."""
    return (limits.directory / Path(photo.stored_name).name).read_bytes()
