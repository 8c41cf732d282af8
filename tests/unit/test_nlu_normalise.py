"""The NLU tokenizer's normalisation (rasa_addons/normalise.py): one character for one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rasa_addons.normalise import Normaliser, fold_width

ROOT = Path(__file__).resolve().parents[2]

# a stand-in for OpenCC's traditional → simplified (the real one lives in Rasa's environment)
_T2S = {"電": "电", "費": "费", "麼": "么", "這": "这", "貴": "贵"}


def shipped() -> Normaliser:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    [tokenizer] = [c for c in config["pipeline"] if c["name"].endswith("Tokenizer")]
    return Normaliser(tokenizer["typos"], lambda c: _T2S.get(c, c))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("停電了", "停电了"),
        ("電費怎麼這麼貴", "电费怎么这么贵"),
        ("户号３３０１０００００１", "户号3301000001"),
        ("ＡＢＣ　ｄ", "ABC d"),
        ("听电了快来", "停电了快来"),
        ("护号是多少", "户号是多少"),
        ("营业听几点开门", "营业厅几点开门"),
        ("我要保修", "我要报修"),
        ("no power at my house", "no power at my house"),
        ("😀", "😀"),
        ("", ""),
    ],
)
def test_shipped_normalisation(text: str, expected: str) -> None:
    assert shipped()(text) == expected


@pytest.mark.parametrize("text", ["停電了３月", "😀 emoji ＡＢ", "\x00\ufffd", "a" * 3000])
def test_the_length_never_changes(text: str) -> None:
    assert len(shipped()(text)) == len(text)


def test_a_typo_that_changes_the_length_is_refused() -> None:
    with pytest.raises(ValueError, match="keep the length"):
        Normaliser({"听电": "停电了"})


def test_a_conversion_to_several_characters_is_ignored() -> None:
    normalise = Normaliser({}, lambda c: "xx" if c == "甲" else c)
    assert normalise("甲乙") == "甲乙"


def test_fold_width() -> None:
    assert [fold_width(c) for c in "０９ＡＺａｚ！～\u3000中"] == list("09AZaz!~ 中")
