"""Which language to answer in: Chinese first, English when the customer writes English.

Pinyin is Latin script but Chinese ("tingdian le", "zhuan rengong"), so Latin text counts as
English only when most of its words cannot be read as pinyin syllables.

Pure functions shared by the action server (reply language of a turn) and the gateway (language
of its own texts: the busy notice, refusals, notifications), so both always agree.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

Language = Literal["zh", "en"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")

_INITIALS = tuple("b p m f d t n l g k h j q x zh ch sh r z c s y w".split())
_FINALS = tuple(
    (
        "a o e i u v ai ei ui ao ou iu ie ue ve er an en in un vn ang eng ing ong "
        "ia iao ian iang iong ua uo uai uan uang"
    ).split()
)

# Common English words that are not pinyin syllables: one of them settles the question.
_ENGLISH = frozenset(
    (
        "the my is are am was i you your how what when where why who can could would should "
        "do does did not no yes to at in on of for and or have has had want need please there "
        "this that it its with from will our their bill power electricity meter hello hi "
        "thanks thank ok okay house home pay paid outage help person agent human account number"
    ).split()
)


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    combos = {i + f for i in _INITIALS for f in _FINALS}
    standalone = {"a", "o", "e", "ai", "ei", "ao", "ou", "an", "en", "ang", "eng", "er"}
    return frozenset(combos | standalone)


def _is_pinyin_word(word: str) -> bool:
    """True when the word splits entirely into pinyin syllables (tingdian = ting+dian)."""
    word = word.lower()
    syllables = _syllables()
    reachable = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            if reachable[start] and word[start:end] in syllables:
                reachable[end] = True
                break
    return reachable[len(word)]


def detect_language(text: str, previous: Language = "zh") -> Language:
    """Guess the language of one message; keep the previous one when the text says nothing."""
    if _CJK.search(text):
        return "zh"
    words = _LATIN_WORD.findall(text)
    if not words:
        return previous  # digits, emoji, punctuation: no signal
    if any(w.lower() in _ENGLISH for w in words):
        return "en"
    pinyin = sum(1 for w in words if _is_pinyin_word(w))
    return "zh" if pinyin / len(words) >= 0.6 else "en"


def pick(language: str | None, zh: str, en: str) -> str:
    """Choose the Chinese or English form of a label taken from configuration."""
    return en if language == "en" else zh
