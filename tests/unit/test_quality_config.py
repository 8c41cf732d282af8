"""conf/quality.yml: every figure the computation makes is named there and defined in
docs/quality.md, and a wrong value stops start-up naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from store import quality
from store.config import PROJECT_ROOT
from store.configuration.quality import read_quality
from store.configuration.yamlfile import ConfigError
from store.quality import applications, complaints, conversations, outages, repairs

CONF = PROJECT_ROOT / "conf" / "quality.yml"


def computed_keys() -> set[str]:
    """The keys the four sections produce."""
    return {
        *repairs.MEASURES, *outages.MEASURES,
        *applications.MEASURES, *complaints.MEASURES, "complaints.per_10k",
        *(s.key for s in read_quality(CONF.parent).figures if s.section == "conversations"),
    }  # fmt: skip


def test_every_computed_figure_is_configured_and_the_reverse() -> None:
    assert set(quality.figure_keys()) == computed_keys()
    chats = {k for k in computed_keys() if k.startswith("conversations.")}
    assert chats == {*conversations._COUNTS, *conversations._RATES, *conversations._PERCENTILES}


def test_every_figure_is_defined_in_the_docs() -> None:
    docs = (PROJECT_ROOT / "docs" / "quality.md").read_text(encoding="utf-8")
    missing = [
        k for k in [*quality.figure_keys(), *quality.scorecard_keys()] if f"`{k}`" not in docs
    ]
    assert missing == []


def test_labels_and_targets() -> None:
    assert quality.label("repairs.arrival_on_time_rate") == "到达及时率"
    assert quality.label("repairs.arrival_on_time_rate", "en") == "On-time arrival rate"
    assert quality.label("agent.csat") == "满意度"
    assert quality.scorecard_keys("crew")[0] == "crew.tickets"
    with pytest.raises(KeyError):
        quality.label("repairs.speed")
    spec = read_quality(CONF.parent).spec("repairs.arrival_minutes")
    assert (spec.commitment, spec.target) == (True, None)


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = CONF.read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "quality.yml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("unit: rate, better: higher, target: 0.95}", "unit: rate, better: higher, target: 1.5}",
         "between 0 and 1"),
        ("hour_bucket: 2", "hour_bucket: 5", "a divisor of 24"),
        ("satisfied_from: 4", "satisfied_from: 6", "a rating from 1 to 5"),
        ("{miss}集中在", "{missing}集中在", "sentence"),
        ("    repairs.callback_rate: {zh: 未回访, en: Repairs without a callback}\n", "",
         "bottlenecks.misses.repairs.callback_rate is missing"),
        ("unit: count, better: lower}", "unit: pieces, better: lower}", "one of"),
    ],
)  # fmt: skip
def test_wrong_values_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_quality(_broken(tmp_path, old, new))
