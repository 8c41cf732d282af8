"""Which category a ticket falls in (conf/quality.yml `categories`, one list per kind: fault,
hazard, complaint, suggestion, praise).

The category staff chose in the back office (`tickets.category`, recorded by
store/services/ticket_categories.py with a ticket event) decides, as long as it is still a
category of the ticket's kind (or "other"). Until someone chooses, the figures guess it from the
customer's description: the first category with one of its words in the text, else "other".
The bot never chooses: a ticket a customer files has no staff category.
"""

from __future__ import annotations

from store.configuration.quality import CATEGORY_KINDS, OTHER, Quality


def kind_of(ticket_type: str) -> str | None:
    """The kind of categories a ticket type has (a ticket's own type: fault, hazard, complaint,
    suggestion, praise); None for the types without categories (violation reports, ...)."""
    return ticket_type if ticket_type in CATEGORY_KINDS else None


def codes(quality: Quality, kind: str) -> tuple[str, ...]:
    """The codes staff may choose for a `kind` ticket: its categories in order, then "other"."""
    return (*(c.code for c in quality.categories.get(kind, ())), OTHER)


def classify(quality: Quality, kind: str, text: str | None) -> str:
    """The category code guessed from a `kind` (fault, hazard, ...) text."""
    lowered = (text or "").lower()
    for category in quality.categories.get(kind, ()):
        if any(word in lowered for word in category.words):
            return category.code
    return OTHER


def chosen(quality: Quality, kind: str, code: str | None) -> str | None:
    """Staff's choice `code` while it is a category of `kind`; None (guess) otherwise."""
    return code if code is not None and code in codes(quality, kind) else None


def decide(quality: Quality, kind: str, code: str | None, text: str | None) -> str:
    """The category the figures count: staff's choice `code`, else the guess from `text`."""
    return chosen(quality, kind, code) or classify(quality, kind, text)
