"""Emerging topics (decision 124): the phrases of texts no theme caught, a rise beyond chance against
the shop's own weeks before, on hand-made and synthetic texts with a known new phrase."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta

from services.notifier.domain.emerging import STOPWORDS, Said, counts, emerging, phrases, rising

MONDAY = date(2026, 11, 30)
NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def test_phrases_are_adjacent_words_without_stopwords_once_a_text() -> None:
    found = phrases("The buttons were missing, missing buttons everywhere! Missing buttons.")
    assert found == {"missing buttons", "buttons everywhere"}  # never across a comma or a full stop
    assert phrases("It was not what I wanted") == set()


def test_only_texts_no_theme_caught_are_counted() -> None:
    said = [
        Said("a", NOW, "missing buttons on the coat", themed=False),
        Said("b", NOW, "missing buttons, late delivery", themed=True),
    ]
    assert counts(said) == {"missing buttons": 1}


def test_a_rise_beyond_chance_and_not_otherwise() -> None:
    assert rising({"missing buttons": 7}, [{}, {}, {}, {}]) == [("missing buttons", 7, 0)]
    usual = [{"soft fabric": 2}] * 4
    assert rising({"soft fabric": 3}, usual) == []  # 3 where 2 are usual: chance
    assert rising({"soft fabric": 9}, usual) == [("soft fabric", 9, 8)]
    assert rising({"odd phrase": 2}, [{}] * 4) == []  # fewer than 3 texts: never


def test_the_topic_says_what_the_owner_reads_with_examples() -> None:
    week = [
        Said(f"a{i}", NOW - timedelta(hours=i), f"Coat {i} arrived with missing buttons again", False)
        for i in range(7)
    ]
    found = emerging(week, [{}, {}, {}, {}], MONDAY, NOW)
    (topic,) = [t for t in found.topics if t.phrase == "missing buttons"]
    assert topic.text() == "new: missing buttons, 7 mentions, 0 last month"
    assert topic.examples[0] == "Coat 0 arrived with missing buttons again"  # newest first
    assert len(topic.examples) == 3 and found.texts == 7


VOCAB = [
    w for w in ("".join(p) for p in itertools.product("bdfgkmpt", "aeiou", "lnrs")) if w not in STOPWORDS
][:60]


def _background(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(VOCAB) for _ in range(8)) for _ in range(n)]


def test_a_known_new_phrase_in_synthetic_weeks_is_found_and_little_else() -> None:
    rng = random.Random(11)
    history = [
        dict(counts(Said(str(i), NOW, t, False) for i, t in enumerate(_background(rng, 150))))
        for _ in range(4)
    ]
    texts = _background(rng, 150)
    for i in range(6):
        texts[i] += " missing buttons"
    week = [Said(str(i), NOW, t, False) for i, t in enumerate(texts)]
    found = emerging(week, history, MONDAY, NOW)
    assert found.topics[0].phrase == "missing buttons" and found.topics[0].mentions == 6
    assert len(found.topics) <= 2  # of about 3,600 background pairs, at most one more by chance
