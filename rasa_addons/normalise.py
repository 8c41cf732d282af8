"""Text normalisation for NLU features: one character in, one character out.

Customers type traditional characters (停電), full-width digits and letters (３３０１, ＡＢＣ) and
well-known homophone typos (听电 for 停电, 护号 for 户号). The model should see one spelling of
each. Every mapping here keeps the text's length, so the character offsets of tokens and of
annotated entities stay valid: the normalised text is used for the model's features only, the
message itself (what the customer wrote, what actions and staff read) is never changed.

Standard library only: this module runs inside Rasa's environment and is unit-tested from the
main one. The traditional → simplified table is passed in (OpenCC inside Rasa).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache

CharMap = Callable[[str], str]


def _identity(char: str) -> str:
    return char


def fold_width(char: str) -> str:
    """Full-width ASCII forms and the ideographic space to their half-width forms."""
    if "\uff01" <= char <= "\uff5e":
        return chr(ord(char) - 0xFEE0)
    if char == "\u3000":
        return " "
    return char


class Normaliser:
    """Maps text to its normal spelling, keeping its length (see the module doc)."""

    def __init__(self, typos: Mapping[str, str], to_simplified: CharMap = _identity) -> None:
        for wrong, right in typos.items():
            if len(wrong) != len(right) or not wrong:
                raise ValueError(f"typo {wrong!r} → {right!r} must keep the length")
        # longest first: 营业听 before 听
        self._typos = sorted(typos.items(), key=lambda item: -len(item[0]))
        self._char = lru_cache(maxsize=8192)(self._one_char(to_simplified))

    @staticmethod
    def _one_char(to_simplified: CharMap) -> CharMap:
        def convert(char: str) -> str:
            folded = fold_width(char)
            if folded != char:
                return folded
            if "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff":
                simple = to_simplified(char)
                return simple if len(simple) == 1 else char
            return char

        return convert

    def __call__(self, text: str) -> str:
        text = "".join(self._char(c) for c in text)
        for wrong, right in self._typos:
            text = text.replace(wrong, right)
        return text
