"""README.md and docs/ name only demo numbers that the seed creates on any date (issue 13: the
README's application number existed only on the day it was written)."""

from __future__ import annotations

import re
from pathlib import Path

from store.demodata.featured import (
    CURRENT_OUTAGE,
    OPEN_REPAIRS,
    PLANNED_OUTAGE,
    ZHAO_APPLICATION,
)

ROOT = Path(__file__).resolve().parents[2]
NUMBER = re.compile(r"(?<![A-Za-z0-9])(?:TD\d{8}|[TA]\d{10})(?!\d)")


def test_every_number_in_the_docs_is_a_fixed_demo_number() -> None:
    fixed = {ZHAO_APPLICATION, CURRENT_OUTAGE, PLANNED_OUTAGE, *(n for _, _, n in OPEN_REPAIRS)}
    named: dict[str, set[str]] = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number in NUMBER.findall(path.read_text(encoding="utf-8")):
            named.setdefault(number, set()).add(path.name)
    assert named, "the docs name no demo numbers at all"
    unknown = {n: sorted(files) for n, files in named.items() if n not in fixed}
    assert not unknown, f"numbers the seed does not create on every date: {unknown}"
