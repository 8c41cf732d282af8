"""Service areas: matching what customers write ("西河村村口", "东山3组") to an area."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.config import Settings
from store.models import ServiceArea

_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
_GROUP = re.compile(r"第?([0-9]{1,2}|[一二三四五六七八九十两]{1,3})(?:组|队|社)")


def list_areas(session: Session) -> list[ServiceArea]:
    return list(session.scalars(select(ServiceArea).order_by(ServiceArea.code)))


def get_by_code(session: Session, code: str) -> ServiceArea | None:
    if not code:
        return None
    return session.scalars(select(ServiceArea).where(ServiceArea.code == code)).one_or_none()


def match_area(session: Session, text: str) -> ServiceArea | None:
    """The area whose name or alias occurs in `text`; the longest match wins, so "西河村"
    beats "西河" and a village is not mistaken for a shorter name inside it."""
    haystack = unicodedata.normalize("NFKC", text or "").lower()
    if not haystack.strip():
        return None
    best: tuple[int, str, ServiceArea] | None = None
    for area in list_areas(session):
        for name in (area.name, area.name_en, *area.aliases):
            needle = unicodedata.normalize("NFKC", name).lower()
            if needle and needle in haystack:
                candidate = (len(needle), area.code, area)
                if best is None or candidate[0] > best[0]:
                    best = candidate
    return best[2] if best else None


def sync_areas(session: Session, settings: Settings) -> list[ServiceArea]:
    """Create or update the areas of conf/areas.yml (areas are never deleted: tickets use them)."""
    existing = {a.code: a for a in list_areas(session)}
    for config in settings.areas:
        area = existing.get(config.code)
        if area is None:
            area = ServiceArea(code=config.code)
            session.add(area)
        area.name = config.name
        area.name_en = config.name_en
        area.kind = config.kind
        area.aliases = list(config.aliases)
    session.flush()
    return list_areas(session)


def _chinese_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        high = _DIGITS.get(tens, 1) if tens else 1
        low = _DIGITS.get(ones, 0) if ones else 0
        return high * 10 + low
    return _DIGITS.get(text) if len(text) == 1 else None


def group_of(text: str | None) -> int | None:
    """The group number an address names ("3组", "三组", "第十二组", "３队"), or None."""
    normal = unicodedata.normalize("NFKC", text or "")
    match = _GROUP.search(normal)
    if match is None:
        return None
    number = _chinese_number(match.group(1))
    return number if number else None
