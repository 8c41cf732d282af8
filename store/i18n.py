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
_VOWEL = re.compile(r"[aeiouy]")
_CONSONANT_RUN = re.compile(r"[b-df-hj-np-tv-xz]{5}")

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
        "thanks thank ok okay house home pay paid outage help person agent human account number "
        "no yes sorry light lights off out down broken fix repair report new name change "
        "transfer apply application status check price prices tariff bye goodbye good morning "
        "afternoon evening hey dear sir madam still again today tomorrow yesterday since hour "
        "hours we us me they he she his her village street road near problem issue complain "
        "complaint staff service rude great thanks"
    ).split()
)


# Words Chinese customers type inside Chinese conversations: alone they prove nothing.
_WEAK = frozenset("ok okay hi no yes y n bye ps".split())


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


def _looks_english(word: str) -> bool:
    """A Latin word that could be English: it has a vowel and no run of five consonants
    (keyboard mashing such as 'asdfgh' or 'qwrtz' has neither)."""
    lower = word.lower()
    return bool(_VOWEL.search(lower)) and not _CONSONANT_RUN.search(lower)


def detect_language(text: str, previous: Language = "zh") -> Language:
    """Guess the language of one message; keep the previous one when the text says nothing.

    Switching to English needs a real signal: a common English word, or a sentence of at least
    two English-looking words that are not pinyin. One unknown word ('asdfgh', 'ok123'), digits
    and emoji keep the conversation's language."""
    if text.lstrip().startswith("/"):
        return previous  # a button's payload (/rate_service{"rating": 4}) is not language
    if _CJK.search(text):
        return "zh"
    words = _LATIN_WORD.findall(text)
    if not words:
        return previous  # digits, emoji, punctuation: no signal
    if len(words) == 1 and words[0].lower() in _WEAK:
        return previous  # 'ok', 'hi', 'no': Chinese customers type these too
    if any(w.lower() in _ENGLISH for w in words):
        return "en"
    pinyin = sum(1 for w in words if _is_pinyin_word(w))
    if pinyin / len(words) >= 0.6:
        return "zh"
    english = [w for w in words if not _is_pinyin_word(w) and _looks_english(w)]
    return "en" if len(english) >= 2 else previous


def pick(language: str | None, zh: str, en: str) -> str:
    """Choose the Chinese or English form of a label taken from configuration."""
    return en if language == "en" else zh
