"""Which category a customer's description falls in (conf/quality.yml `categories`): the first
category with one of its words in the text, else "other"."""

from __future__ import annotations

from store.configuration.quality import OTHER, Quality


def classify(quality: Quality, kind: str, text: str | None) -> str:
    """The category code of a `kind` (fault, hazard, complaint, suggestion, praise) text."""
    lowered = (text or "").lower()
    for category in quality.categories.get(kind, ()):
        if any(word in lowered for word in category.words):
            return category.code
    return OTHER
