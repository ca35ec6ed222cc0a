"""The scoring service's rules without the model: clauses, normalisation, taxonomies,
per-theme sentiment, metrics, labelled shop answers and which events carry text to score."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.scoring.domain import clauses
from services.scoring.domain.scoring import Subject, score_all, scored_event, subject_of
from services.scoring.domain.taxonomy import DEFAULT, PRESETS, RESTAURANT, Taxonomy, Theme
from services.scoring.domain.text import normalise
from services.scoring.domain.themes import Found, Probs, theme_scores
from services.scoring.scorer import plural_variants
from services.scoring.training.metrics import accuracy, macro_f1, micro_f1
from services.scoring.training.shop import label_for, shop_examples
from shared import events
from shared.errors import BadRequest
from shared.sentiment import Scored, Sentiment, label_of

WHEN = datetime(2026, 11, 1, tzinfo=UTC)


def words(text: str) -> list[str]:
    return normalise(text).replace(".", " . ").replace(",", " , ").split()


# --- clauses ----------------------------------------------------------------------------------------


def test_a_contrast_word_opens_a_new_clause_and_stays_with_it() -> None:
    tokens = words("fast delivery but the seams ripped")
    spans = clauses.boundaries(tokens)
    assert [tokens[a:b] for a, b in spans] == [["fast", "delivery"], ["but", "the", "seams", "ripped"]]


def test_sentences_end_clauses_and_empty_ones_are_dropped() -> None:
    tokens = words("Great shoes. . Terrible box!")
    spans = clauses.boundaries([*tokens[:-1], "!"])
    assert [" ".join(tokens[a:b]).strip(" .!") for a, b in spans] == ["great shoes", "terrible box"]


def test_a_leading_contrast_word_does_not_make_an_empty_clause() -> None:
    assert clauses.boundaries(["but", "it", "broke"]) == [(0, 3)]


@given(st.lists(st.sampled_from(["good", "bad", "but", ".", "however", "box", ";", "\n"]), max_size=30))
def test_clauses_never_overlap_and_each_holds_a_word(tokens: list[str]) -> None:
    spans = clauses.boundaries(tokens)
    for (_a, b), (c, _) in itertools.pairwise(spans):
        assert b <= c
    for a, b in spans:
        assert 0 <= a < b <= len(tokens)
        assert any(t.isalnum() for t in tokens[a:b])


# --- normalisation ----------------------------------------------------------------------------------


def test_normalise_lowercases_and_replaces_handles_and_links() -> None:
    assert normalise("@United  LOST my bag https://t.co/x\tagain") == "@user lost my bag http again"
    assert normalise("mail me at a@b.com") == "mail me at a@b.com"


def test_normalise_caps_the_length() -> None:
    assert len(normalise("a" * 100_000)) == 5000


# --- taxonomies -------------------------------------------------------------------------------------


def test_presets_are_valid_and_the_default_is_ecommerce() -> None:
    assert DEFAULT.name == "ecommerce"
    assert {t.id for t in DEFAULT.themes} == {
        "delivery_shipping", "product_quality", "price_value", "customer_service", "website_checkout",
        "packaging", "returns_refunds", "size_fit", "communication",
    }  # fmt: skip
    assert {t.id for t in RESTAURANT.themes} == {"food", "service", "ambience", "price"}
    for taxonomy in PRESETS.values():
        assert Taxonomy.model_validate_json(taxonomy.model_dump_json()) == taxonomy


def test_a_shop_taxonomy_is_validated() -> None:
    with pytest.raises(ValidationError, match="theme ids must be unique"):
        Taxonomy(name="x", themes=(Theme(id="a", keywords=("k",)), Theme(id="a", keywords=("j",))))
    with pytest.raises(ValidationError, match="lower-case"):
        Theme(id="Delivery", keywords=("k",))
    with pytest.raises(ValidationError, match="at least one theme needs keywords"):
        Taxonomy(name="x", themes=(Theme(id="a"),))
    theme = Theme(id="a", keywords=("  Fast   Shipping ", "fast shipping", ""))
    assert theme.keywords == ("fast shipping",)


def test_plural_variants() -> None:
    assert plural_variants("seam") == ["seam", "seams"]
    assert plural_variants("delivery") == ["deliveries", "delivery"]
    assert plural_variants("box") == ["box", "boxes"]
    assert plural_variants("customer service") == ["customer service", "customer services"]
    assert plural_variants("seams") == ["seams"]
    assert plural_variants("$") == ["$"]


# --- per-theme sentiment ----------------------------------------------------------------------------

POS, NEG, NEU = Probs(0.9, 0.05, 0.05), Probs(0.1, 0.1, 0.8), Probs(0.2, 0.6, 0.2)


def test_each_theme_takes_its_own_clause() -> None:
    found = [Found("delivery_shipping", 0), Found("product_quality", 1)]
    scores = theme_scores(found, {0: POS, 1: NEG}, whole=NEU)
    assert [(s.theme, s.sentiment) for s in scores] == [
        ("delivery_shipping", "positive"),
        ("product_quality", "negative"),
    ]
    assert scores[0].score == pytest.approx(0.85)


def test_a_theme_in_two_clauses_averages_them_and_classifier_themes_take_the_whole() -> None:
    found = [Found("food", None), Found("service", 2), Found("service", 0), Found("service", 0)]
    scores = theme_scores(found, {0: POS, 2: NEG}, whole=NEU)
    assert [s.theme for s in scores] == ["service", "food"]
    assert scores[0].score == pytest.approx(((0.9 - 0.05) + (0.1 - 0.8)) / 2)
    assert scores[1].sentiment == "neutral"


def test_label_of_prefers_the_largest() -> None:
    assert label_of(0.2, 0.5, 0.3) == "neutral"
    assert label_of(0.4, 0.2, 0.4) == "positive"
    assert Probs(0.0, 0.0, 1.0).sentiment() == Sentiment(label="negative", score=-1.0, confidence=1.0)


# --- metrics ----------------------------------------------------------------------------------------


def test_metrics_by_hand() -> None:
    gold = ["positive", "positive", "negative", "negative"]
    predicted = ["positive", "negative", "negative", "negative"]
    assert accuracy(gold, predicted) == 0.75
    # positive: P 1, R 0.5 → F1 2/3; negative: P 2/3, R 1 → F1 0.8
    assert macro_f1(gold, predicted) == pytest.approx((2 / 3 + 0.8) / 2)
    assert macro_f1(gold, predicted, ["positive", "negative", "neutral"]) == pytest.approx((2 / 3 + 0.8) / 3)
    # tp 2 (a, b), fp 1 (c), fn 1 (d) → P 2/3, R 2/3
    assert micro_f1([{"a"}, {"b", "d"}], [{"a", "c"}, {"b"}]) == pytest.approx(2 / 3)
    assert micro_f1([set()], [set()]) == 0.0


# --- a shop's answers as labelled data --------------------------------------------------------------


class Answered:
    def __init__(self, invite_id: str, survey_type: str, score: int | None, comment: str | None) -> None:
        self.invite_id, self.survey_type, self.score, self.comment = invite_id, survey_type, score, comment


def test_only_the_ends_of_each_scale_label_a_comment() -> None:
    assert [label_for("nps", s) for s in (0, 2, 3, 8, 9, 10)] == [
        "negative", "negative", None, None, "positive", "positive",
    ]  # fmt: skip
    assert (label_for("csat", 1), label_for("csat", 3), label_for("csat", 5)) == (
        "negative",
        None,
        "positive",
    )
    assert (label_for("ces", 1), label_for("ces", 7)) == ("positive", "negative")
    answers = [
        Answered("i1", "nps", 1, "Never arrived"),
        Answered("i2", "nps", 10, "Lovely"),
        Answered("i3", "nps", 10, None),
        Answered("i4", "nps", 5, "meh"),
        Answered("i5", "nps", None, "no score"),
    ]
    examples = shop_examples("s1", answers)  # type: ignore[arg-type]
    assert [(e.id, e.sentiment, e.source) for e in examples] == [
        ("i1", "negative", "shop:s1"),
        ("i2", "positive", "shop:s1"),
    ]


# --- events → subjects → FeedbackScored -------------------------------------------------------------


def envelope(name: str, data: dict[str, object], shop: str = "s1") -> events.Envelope:
    return events.Envelope(name=name, shop_id=shop, correlation_id="c1", data=data)


def response(**over: object) -> dict[str, object]:
    data: dict[str, object] = {
        "invite_id": "inv1", "revision": 2, "survey_type": "nps", "score": 3, "answered_at": WHEN.isoformat(),
        "comment": "Late again", "order_id": "o1", "platform": "shopify",
    }  # fmt: skip
    return {**data, **over}


def test_a_comment_and_a_follow_up_answer_are_scored_together() -> None:
    subject = subject_of(
        events.RESPONSE_RECORDED, envelope("ResponseRecorded", response(follow_up_answer=" Box "))
    )
    assert subject is not None
    assert (subject.subject, subject.subject_id, subject.key) == ("response", "inv1", "inv1#2")
    assert subject.text == "Late again\nBox"
    assert subject.context == {"survey_type": "nps", "score": 3, "order_id": "o1"}


def test_a_score_without_words_has_nothing_to_score() -> None:
    assert subject_of(events.RESPONSE_RECORDED, envelope("ResponseRecorded", response(comment="  "))) is None


def test_a_mention_is_scored_with_its_title() -> None:
    data = {"mention_id": "g:1", "source": "google", "title": "Meh", "text": "Slow delivery", "rating": 2.0}
    subject = subject_of(events.MENTION_INGESTED, envelope("MentionIngested", data))
    assert subject is not None
    assert (subject.text, subject.key, subject.context["source"]) == ("Meh\nSlow delivery", "g:1#1", "google")
    no_reply = data | {"takes_replies": False}
    imported = subject_of(events.MENTION_INGESTED, envelope("MentionIngested", no_reply))
    assert imported is not None and imported.context["takes_replies"] is False  # on to FeedbackScored


def test_malformed_or_foreign_events_are_bad_requests() -> None:
    with pytest.raises(BadRequest, match="ResponseRecorded data is malformed"):
        subject_of(events.RESPONSE_RECORDED, envelope("ResponseRecorded", {"invite_id": "x"}))
    with pytest.raises(BadRequest, match="not an event the scoring service reads"):
        subject_of("OrderPlaced", envelope("OrderPlaced", {}))


class Taxonomies:
    def __init__(self, by_shop: dict[str, Taxonomy]) -> None:
        self.by_shop = by_shop
        self.asked: list[str] = []

    def get(self, shop_id: str) -> Taxonomy | None:
        self.asked.append(shop_id)
        return self.by_shop.get(shop_id)

    def put(self, shop_id: str, taxonomy: Taxonomy) -> None:
        self.by_shop[shop_id] = taxonomy

    def delete(self, shop_id: str) -> None:
        self.by_shop.pop(shop_id, None)


def subject(shop: str, key: str) -> Subject:
    return Subject(shop, "c", "response", key, 1, key, f"text {key}", {})


def test_score_all_makes_one_call_per_shop_with_its_taxonomy() -> None:
    calls: list[tuple[list[str], str]] = []

    def score(items: object, taxonomy: Taxonomy) -> list[Scored]:
        pairs = list(items)  # type: ignore[call-overload]
        calls.append(([k for k, _ in pairs], taxonomy.name))
        return [Scored(id=k, sentiment=None, language="de", flags=["not_english"]) for k, _ in pairs]

    store = Taxonomies({"s2": RESTAURANT})
    readings = score_all([subject("s1", "a"), subject("s2", "b"), subject("s1", "c")], score, store)
    assert sorted(calls) == [(["a", "c"], "ecommerce"), (["b"], "restaurant")]
    assert set(readings) == {"a", "b", "c"}
    event = scored_event(subject("s1", "a"), readings["a"], WHEN)
    assert event.sentiment is None and event.flags == ["not_english"]
    assert event.excerpt == "text a"


def test_a_star_only_review_goes_on_unread_so_its_rating_counts() -> None:
    """Issue 17, item 12: stars and no words are passed on with the flag no_text, not scored."""
    data = {"mention_id": "csv:judgeme:9", "source": "judgeme", "text": "", "rating": 1.0}
    star_only = subject_of(events.MENTION_INGESTED, envelope("MentionIngested", data))
    assert star_only is not None and star_only.text == "" and star_only.context["rating"] == 1.0
    assert subject_of(events.MENTION_INGESTED, envelope("MentionIngested", {**data, "rating": None})) is None

    def score(items: object, taxonomy: Taxonomy) -> list[Scored]:
        pairs = list(items)  # type: ignore[call-overload]
        assert all(text for _, text in pairs), "a text-less review reached the model"
        return [Scored(id=k, sentiment=None, language="en") for k, _ in pairs]

    readings = score_all([star_only, subject("s1", "a")], score, Taxonomies({}))
    event = scored_event(star_only, readings[star_only.key], WHEN)
    assert (event.sentiment, event.flags, event.rating, event.excerpt) == (None, ["no_text"], 1.0, "")
