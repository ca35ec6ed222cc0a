"""Which language a text is in, and whether it is clearly enough not English to be flagged.

The model is trained on English; a German review scored as English gets a confident, meaningless
label, so such texts are flagged and not read. A false flag costs a customer's feedback, so a text is
called English unless it is clearly another language (decision 114):

- an identifier (fastText's lid.176, behind ``LanguageIdentifier``) ranks languages for the text's
  words; the top one must be another language with at least the probability its length asks for:
  a one- or two-word text is almost never clear ("im", "au" and "las" are English texts too);
- English words (function words and the chat forms customers type) veto the call, unless the other
  language uses them too: fastText reads "Thanks so much!" as Spanish;
- a text written mostly in a non-Latin script is not English, however short.

Digits, links, @handles, #tags and short all-caps tokens (order numbers, sizes, airport codes) are no
evidence of anything and are dropped first. A text with no words left (``"👍"``, ``"#1234"``) is
English with confidence 0, as before.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.scoring.domain.ports import LanguageIdentifier

ENGLISH = "en"
# (most words, least probability): the top language must reach this to be called.
THRESHOLDS = ((2, 0.99), (5, 0.9))
LONG_THRESHOLD = 0.5
# A text with at least this share of English-only words (and at least one) stays English.
ENGLISH_SHARE = 0.15
# What customers type that no stop-word list holds; all of them English-only except where another
# language's stop words list them too ("im" is German), which the veto accounts for.
CHAT_FORMS = frozenset(
    " ".join(
        (
            "im ive ill dont cant wont didnt doesnt isnt wasnt arent couldnt wouldnt shouldnt thats whats",
            "youre theyre i'm i've i'd i'll don't can't won't didn't doesn't isn't wasn't aren't couldn't",
            "wouldn't shouldn't that's what's you're they're it's there's let's u ur pls plz thx",
            "thanks thank ty lol omg btw idk tbh imo ngl yeah yep nope hi hey hello great good love loved",
            "nice awesome amazing ok okay cool",
        )
    ).split()
)
# Unicode script prefixes of character names → language (or script) code.
SCRIPTS = {
    "CJK": "zh", "HIRAGANA": "ja", "KATAKANA": "ja", "HANGUL": "ko", "CYRILLIC": "ru", "ARABIC": "ar",
    "HEBREW": "he", "GREEK": "el", "DEVANAGARI": "hi", "THAI": "th",
}  # fmt: skip
# Links, @handles, #tags and any token with a digit (order numbers, sizes, flight numbers).
NO_EVIDENCE = re.compile(r"https?://\S+|www\.\S+|(?<!\S)[@#]\S*|\S*\d\S*")
APOSTROPHE = "\u2019"  # a typographic apostrophe, as phones type it
WORD = re.compile(rf"[^\W\d_]+(?:['{APOSTROPHE}][^\W\d_]+)*")
MAX_CHARS = 1000  # the first 1,000 characters decide; fastText's cost grows with the length


@dataclass(frozen=True)
class Guess:
    language: str
    confidence: float  # the identifier's probability for that language; 0 when there was nothing to read


@dataclass(frozen=True)
class Lexicon:
    """English words that keep a text English, and each other language's own stop words (a word that
    language uses too, such as "so" in German, is no evidence against it)."""

    english: frozenset[str]
    stop_words: Mapping[str, frozenset[str]]


def words_of(text: str) -> list[str]:
    """The words that can tell a language: lower-cased, without codes, numbers, links and handles."""
    kept = NO_EVIDENCE.sub(" ", text[:MAX_CHARS])
    found = WORD.findall(kept)
    if kept != kept.upper():  # mixed case: short all-capital words are acronyms or codes (DHL, LAX, XL)
        found = [w for w in found if not (len(w) <= 4 and w.isupper() and w.isascii())]
    return [w.lower().replace(APOSTROPHE, "'") for w in found]


def script_of(text: str) -> str | None:
    """The non-Latin script most of the letters are in, if any."""
    if text.isascii():
        return None
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


def threshold(word_count: int) -> float:
    for most, least in THRESHOLDS:
        if word_count <= most:
            return least
    return LONG_THRESHOLD


def decide(
    words: list[str], ranked: Sequence[tuple[str, float]], lexicon: Lexicon, script: str | None = None
) -> Guess:
    """The call for one text, from its words, the identifier's ranking of them and its script."""
    top, probability = ranked[0] if ranked else (ENGLISH, 0.0)
    if script is not None:
        return Guess(top if top != ENGLISH else script, round(probability, 3))
    if not words:
        return Guess(ENGLISH, 0.0)
    english_p = next((p for lang, p in ranked if lang == ENGLISH), 0.0)
    if top == ENGLISH or probability < threshold(len(words)):
        return Guess(ENGLISH, round(english_p, 3))
    own = lexicon.stop_words.get(top, frozenset())
    short = len(words) <= THRESHOLDS[0][0]
    english = sum(1 for w in words if w in lexicon.english and (short or w not in own))
    if english >= max(1, math.ceil(ENGLISH_SHARE * len(words))):
        return Guess(ENGLISH, round(english_p, 3))
    return Guess(top, round(probability, 3))


def identify(texts: Sequence[str], identifier: LanguageIdentifier, lexicon: Lexicon) -> list[Guess]:
    """One guess per text, in order; the identifier is asked once for the whole batch."""
    cut = [t[:MAX_CHARS] for t in texts]
    words = [words_of(t) for t in cut]
    scripts = [script_of(t) for t in cut]
    asked = [i for i in range(len(cut)) if words[i] or scripts[i]]
    ranked: dict[int, list[tuple[str, float]]] = {}
    if asked:
        inputs = [" ".join(words[i]) if words[i] else cut[i] for i in asked]
        ranked = dict(zip(asked, identifier.rank(inputs), strict=True))
    return [decide(words[i], ranked.get(i, []), lexicon, scripts[i]) for i in range(len(cut))]
