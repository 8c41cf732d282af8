"""A ticket's category as staff see and correct it in the back office: dispatchers (and the
ticket's crew) for faults and hazards, clerks for complaints, suggestions and praise.

The categories are conf/quality.yml `categories` of the ticket's kind, plus "other". Until
someone chooses (`tickets.category` is None, as the bot leaves every ticket it files), the
page shows the service-quality figures' guess from the customer's words, marked as a guess.
Choosing records the code and a ticket event with who changed it from what to what: a note
(the status stays, so the notifier does not tell the customer), and the new event is how the
figures' facts (store/quality/facts/refresh.py) notice the change and measure the ticket again.
A finished ticket can still be corrected: the figures of past periods follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from store.configuration.quality import Quality
from store.configuration.yamlfile import Label
from store.models import Ticket, TicketEvent
from store.quality.facts.categories import chosen, classify, codes, kind_of
from store.sla import require_aware

__all__ = ["GUESS_MARK", "CategoryError", "Shown", "category_json", "choose", "shown"]

GUESS_MARK: Final = Label("（系统推测）", " (guessed)")
"""What follows the label of a category nobody has chosen yet."""


class CategoryError(ValueError):
    """Not a category of this ticket's kind, or a ticket without categories (the API's 400)."""


@dataclass(frozen=True)
class Shown:
    """The category a ticket has now."""

    code: str
    label: Label
    chosen: bool
    """Chosen by staff; False: guessed from the customer's words."""

    @property
    def text(self) -> str:
        """In Chinese, the guess marked as such (the history's notes are Chinese)."""
        return self.label.zh if self.chosen else self.label.zh + GUESS_MARK.zh


def _label(quality: Quality, kind: str, code: str) -> Label:
    return quality.category_label((kind,), code)


def _json(label: Label) -> dict[str, str]:
    return {"zh": label.zh, "en": label.en}


def shown(quality: Quality, ticket: Ticket) -> Shown | None:
    """Staff's choice, else the guess; None for a ticket type without categories."""
    kind = kind_of(ticket.type)
    if kind is None:
        return None
    code = chosen(quality, kind, ticket.category)
    if code is not None:
        return Shown(code, _label(quality, kind, code), True)
    guess = classify(quality, kind, ticket.description)
    return Shown(guess, _label(quality, kind, guess), False)


def category_json(quality: Quality, ticket: Ticket) -> dict[str, Any] | None:
    """For the ticket and case pages: the category now and the codes that may be chosen."""
    now = shown(quality, ticket)
    kind = kind_of(ticket.type)
    if now is None or kind is None:
        return None
    return {
        "code": now.code,
        "label": _json(now.label),
        "chosen": now.chosen,
        "options": [
            {"code": code, "label": _json(_label(quality, kind, code))}
            for code in codes(quality, kind)
        ],
    }


def choose(
    session: Session, quality: Quality, ticket: Ticket, code: str, *, actor: str, now: datetime
) -> TicketEvent | None:
    """Record `code` as the ticket's category with an event in its history; None when it was
    already the category staff chose. CategoryError for a code the ticket's kind does not have."""
    require_aware(now)
    before = shown(quality, ticket)
    kind = kind_of(ticket.type)
    if before is None or kind is None:
        raise CategoryError(f"{ticket.type} tickets have no category")
    allowed = codes(quality, kind)
    if code not in allowed:
        raise CategoryError(
            f"{code!r} is not a category of {kind} tickets: choose one of {', '.join(allowed)}"
        )
    if before.chosen and before.code == code:
        return None
    ticket.category = code
    note = f"类别：{before.text} → {_label(quality, kind, code).zh}"
    event = TicketEvent(ticket=ticket, status=ticket.status, at=now, actor=actor, note=note)
    session.add(event)
    session.flush()
    return event
