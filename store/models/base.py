"""The declarative base every table shares, and the helpers their constraints use.

Every datetime is an aware UTC instant (`UTCDateTime`); money is Numeric(12, 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Date, Index, Numeric
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase

from store.sqltypes import UTCDateTime, make_metadata

Money = Numeric(12, 2)


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        Decimal: Money,
        date: Date(),
    }


def values(codes: type[StrEnum]) -> tuple[str, ...]:
    """The plain strings of a status enum, in its order (what the database stores)."""
    return tuple(code.value for code in codes)


def check_in(column: str, allowed: Iterable[str]) -> str:
    """A check constraint's SQL: `column` holds one of `allowed`."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in allowed)})"


def partial_unique(name: str, column: str, where: str) -> Index:
    """A unique index over the rows matching `where` only (SQLite and PostgreSQL)."""
    predicate = sql_text(where)
    return Index(name, column, unique=True, sqlite_where=predicate, postgresql_where=predicate)
