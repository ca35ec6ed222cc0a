"""The committed model loads and reads clear-cut texts right (a regression guard, not a benchmark)."""

from __future__ import annotations

import pytest

from services.scoring.domain.taxonomy import AIRLINE, ECOMMERCE, RESTAURANT
from services.scoring.scorer import MODEL_DIR, Scorer


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(MODEL_DIR)


def test_the_committed_model_is_small_and_versioned(scorer: Scorer) -> None:
    size = sum(f.stat().st_size for f in MODEL_DIR.rglob("*") if f.is_file())
    assert size <= 15 * 1024 * 1024
    assert scorer.version.startswith("cxloop_feedback-")
    assert set(scorer.nlp.pipe_names) == {"sentiment", "themes_restaurant", "themes_airline"}


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love it, great quality and it arrived quickly. Highly recommend!", "positive"),
        ("Excellent service, thank you so much!", "positive"),
        ("Terrible. It broke after one day and nobody answers my emails.", "negative"),
        ("Worst purchase ever, complete waste of money.", "negative"),
    ],
)
def test_clear_sentiment(scorer: Scorer, text: str, label: str) -> None:
    (reading,) = scorer.score([("1", text)])
    assert reading.sentiment is not None
    assert reading.sentiment.label == label
    assert (reading.sentiment.score > 0) == (label == "positive")
    assert 0.0 <= reading.sentiment.confidence <= 1.0


def test_mixed_text_gets_a_sentiment_per_theme(scorer: Scorer) -> None:
    (reading,) = scorer.score([("1", "Fast delivery, but the seams ripped after one wash.")], ECOMMERCE)
    themes = {t.theme: t.sentiment for t in reading.themes}
    assert themes["delivery_shipping"] == "positive"
    assert themes["product_quality"] == "negative"


def test_restaurant_taxonomy(scorer: Scorer) -> None:
    (reading,) = scorer.score([("1", "The pasta was delicious but our waiter was rude.")], RESTAURANT)
    themes = {t.theme: t.sentiment for t in reading.themes}
    assert themes["food"] == "positive"
    assert themes["service"] == "negative"


def test_airline_classifier_finds_a_reason_the_keywords_miss(scorer: Scorer) -> None:
    (reading,) = scorer.score(
        [("1", "@united my suitcase never showed up at baggage claim. Third time!")], AIRLINE
    )
    assert "lost_luggage" in {t.theme for t in reading.themes}


def test_non_english_is_flagged_not_scored(scorer: Scorer) -> None:
    readings = scorer.score(
        [("de", "Die Lieferung kam schnell, aber die Nähte sind gerissen."), ("en", "Great, thanks!")]
    )
    assert readings[0].sentiment is None
    assert readings[0].flags == ["not_english"]
    assert readings[0].language == "de"
    assert readings[1].sentiment is not None and readings[1].flags == []


def test_order_and_ids_are_kept(scorer: Scorer) -> None:
    texts = [
        (str(i), t) for i, t in enumerate(["Awful.", "Lovely!", "Bonjour, le colis est arrivé cassé."] * 100)
    ]
    readings = scorer.score(texts)
    assert [r.id for r in readings] == [i for i, _ in texts]
