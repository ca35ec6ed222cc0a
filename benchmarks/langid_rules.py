"""The stop-word language rules that decision 113 replaced, frozen here so ``benchmarks/langid.py`` can
measure them beside the identifier in the same run (from services/scoring/domain/language.py at
2e0ee80; not used by the service)."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from services.scoring.adapters.fasttext_language import spacy_stop_words

ENGLISH = "en"
LATIN_LANGUAGES = (
    "en",
    "de",
    "fr",
    "es",
    "it",
    "nl",
    "pt",
    "sv",
    "da",
    "nb",
    "pl",
    "fi",
    "tr",
    "ro",
    "cs",
    "hu",
)
# Letters that English never uses and some languages always do.
LETTERS = {
    "ä": ("de", "sv", "fi"), "ö": ("de", "sv", "fi", "tr", "hu"), "ü": ("de", "tr", "hu"), "ß": ("de",),
    "é": ("fr", "es", "pt", "it", "cs", "hu"), "è": ("fr", "it"), "ê": ("fr", "pt"), "ç": ("fr", "pt", "tr"),
    "à": ("fr", "it", "pt"), "ù": ("fr",), "œ": ("fr",), "ñ": ("es",), "¿": ("es",), "¡": ("es",),
    "ã": ("pt",), "õ": ("pt",), "å": ("sv", "da", "nb"), "ø": ("da", "nb"), "æ": ("da", "nb"),
    "ł": ("pl",), "ś": ("pl",), "ż": ("pl",), "ź": ("pl",), "ę": ("pl",), "ą": ("pl",), "ń": ("pl",),
    "ğ": ("tr",), "ş": ("tr", "ro"), "\u0131": ("tr",), "ț": ("ro",), "ă": ("ro",), "ř": ("cs",),
    "ě": ("cs",), "ů": ("cs",), "ő": ("hu",), "ű": ("hu",),
}  # fmt: skip
LETTER_WEIGHT = 1.5
# Unicode script prefixes of character names → language (or script) code.
SCRIPTS = {
    "CJK": "zh", "HIRAGANA": "ja", "KATAKANA": "ja", "HANGUL": "ko", "CYRILLIC": "ru", "ARABIC": "ar",
    "HEBREW": "he", "GREEK": "el", "DEVANAGARI": "hi", "THAI": "th",
}  # fmt: skip
MIN_EVIDENCE = 1.0
# Another language must be clearly ahead before a text is called not English: short texts share
# words across languages ("ok", "je", "de") and a false flag costs a customer's feedback.
MIN_FOREIGN = 1.5
FOREIGN_MARGIN = 2.0


@dataclass(frozen=True)
class Guess:
    language: str
    confidence: float  # share of the evidence for that language; 0 when there was none


@cache
def _stop_words() -> dict[str, tuple[str, ...]]:
    """word → the languages that list it as a stop word."""
    owners: dict[str, list[str]] = defaultdict(list)
    for code in LATIN_LANGUAGES:
        for word in spacy_stop_words(code):
            owners[word].append(code)
    return {word: tuple(langs) for word, langs in owners.items()}


def _script(text: str) -> str | None:
    counts: dict[str, int] = defaultdict(int)
    letters = 0
    for char in text:
        if not char.isalpha():
            continue
        letters += 1
        if ord(char) < 0x250:  # Latin
            continue
        name = unicodedata.name(char, "")
        for prefix, code in SCRIPTS.items():
            if name.startswith(prefix):
                counts[code] += 1
                break
    if not counts or not letters:
        return None
    code, count = max(counts.items(), key=lambda kv: kv[1])
    return code if count * 2 >= letters else None


def guess(words: list[str]) -> Guess:
    """``words``: the text's tokens, lower-cased."""
    text = " ".join(words)
    script = _script(text)
    if script is not None:
        return Guess(script, 1.0)
    owners = _stop_words()
    evidence: dict[str, float] = defaultdict(float)
    for word in words:
        langs = owners.get(word)
        if langs:
            for lang in langs:
                evidence[lang] += 1.0 / len(langs)
        for char in word:
            marked = LETTERS.get(char)
            if marked:
                for lang in marked:
                    evidence[lang] += LETTER_WEIGHT / len(marked)
    total = sum(evidence.values())
    if total < MIN_EVIDENCE:
        return Guess(ENGLISH, 0.0)
    language, weight = max(evidence.items(), key=lambda kv: (kv[1], kv[0] == ENGLISH))
    english = evidence.get(ENGLISH, 0.0)
    if language == ENGLISH or weight < MIN_FOREIGN or weight < FOREIGN_MARGIN * english:
        return Guess(ENGLISH, round(english / total, 3))
    return Guess(language, round(weight / total, 3))
