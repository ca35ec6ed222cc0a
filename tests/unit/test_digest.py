"""The weekly digest's figures: the statistics by hand and from textbooks, and what each section holds."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.digest import (
    MINUS,
    AtRisk,
    Interval,
    ScoreFigure,
    build_digest,
    ces,
    change_of,
    change_text,
    clear_change,
    csat,
    duration_text,
    estimate,
    nps,
    period_text,
    plural,
    score_text,
    shorten,
    sparkline,
)
from services.notifier.domain.model import Case, CaseStatus, Mention, SurveyAnswer
from shared import metrics
from shared.money import money
from shared.sentiment import Label, Sentiment, ThemeScore

END = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday: the digest covers 16-22 Nov
WEEK = timedelta(days=7)
THIS_WEEK = END - timedelta(days=2)
LAST_WEEK = END - timedelta(days=9)
IDS = itertools.count()


def answer(
    score: int,
    at: datetime = THIS_WEEK,
    survey_type: str = "nps",
    invite_id: str | None = None,
    comment: str | None = None,
    label: Label | None = None,
    confidence: float = 0.9,
    themes: tuple[tuple[str, Label], ...] = (),
    revision: int = 1,
) -> SurveyAnswer:
    return SurveyAnswer(
        invite_id=invite_id or f"inv-{next(IDS)}",
        revision=revision,
        survey_type=survey_type,
        score=score,
        answered_at=at,
        comment=comment,
        first_name="Ana",
        order_name="#1042",
        sentiment=Sentiment(label=label, score=0.0, confidence=confidence) if label else None,
        themes=[ThemeScore(theme=t, sentiment=s, score=0.0) for t, s in themes],
    )


def mention(
    source: str = "trustpilot",
    rating: float | None = 5.0,
    at: datetime = THIS_WEEK,
    excerpt: str = "",
    label: Label | None = None,
    themes: tuple[tuple[str, Label], ...] = (),
    mention_id: str | None = None,
) -> Mention:
    return Mention(
        mention_id=mention_id or f"m-{next(IDS)}",
        revision=1,
        source=source,
        rating=rating,
        excerpt=excerpt,
        sentiment=Sentiment(label=label, score=0.0, confidence=0.9) if label else None,
        themes=[ThemeScore(theme=t, sentiment=s, score=0.0) for t, s in themes],
        scored_at=at,
    )


def case(
    case_id: str,
    opened_at: datetime,
    target_hours: float = 24,
    replied_after_hours: float | None = None,
    status: CaseStatus = CaseStatus.OPEN,
) -> Case:
    return Case(
        case_id=case_id,
        shop_id="shop-1",
        subject="response",
        subject_id=case_id,
        status=status,
        opened_at=opened_at,
        target_at=opened_at + timedelta(hours=target_hours),
        first_reply_at=opened_at + timedelta(hours=replied_after_hours)
        if replied_after_hours is not None
        else None,
        first_name="Ben",
        survey_type="nps",
        score=2,
        comment="Late again",
    )


def nps_answers(
    promoters: int, passives: int, detractors: int, at: datetime = THIS_WEEK
) -> list[SurveyAnswer]:
    return (
        [answer(10, at) for _ in range(promoters)]
        + [answer(8, at) for _ in range(passives)]
        + [answer(3, at) for _ in range(detractors)]
    )


# ------------------------------------------------------------------------------------------- statistics


def test_nps_by_hand() -> None:
    """10 answers, 3 promoters and 2 detractors: NPS 30 % - 20 % = 10, variance 0.3 + 0.2 - 0.1² = 0.49."""
    found = nps([10, 9, 9, 8, 8, 7, 7, 7, 6, 0])
    assert found is not None
    assert found.value == pytest.approx(10.0)
    half = metrics.Z95 * 100 * math.sqrt((0.3 + 0.2 - (0.3 - 0.2) ** 2) / 10)
    assert half == pytest.approx(43.386, abs=1e-2)
    assert found.interval is not None
    assert found.interval.low == pytest.approx(10 - half)
    assert found.interval.high == pytest.approx(10 + half)
    assert found.standard_error == pytest.approx(100 * math.sqrt(0.049))
    assert found.n == 10


def test_nps_interval_is_clipped_to_the_scale() -> None:
    """One promoter and one passive: NPS 50 ± z·100·sqrt(0.25/2) = 50 ± 69.3, clipped at 100."""
    found = nps([10, 8])
    assert found is not None and found.interval is not None
    assert found.value == 50
    assert found.interval.low == pytest.approx(50 - metrics.Z95 * 100 * math.sqrt(0.125))
    assert found.interval.high == 100


@pytest.mark.parametrize(("scores", "value"), [([10], 100.0), ([0], -100.0), ([7], 0.0)])
def test_nps_of_one_answer_spans_the_whole_scale_as_on_the_dashboard(scores: list[int], value: float) -> None:
    """Issue 17: the digest said "95% range -100 to -100" for one detractor where the dashboard and
    `report` said -100 to +100. One method now, `shared.metrics`."""
    found = nps(scores)
    assert found is not None
    assert found.value == value
    assert found.interval == Interval(low=-100.0, high=100.0)


def test_no_answers_no_estimate() -> None:
    assert nps([]) is None
    assert csat([]) is None
    assert ces([]) is None


def test_csat_is_the_share_of_4_and_5_with_a_wilson_interval() -> None:
    found = csat([5, 5, 4, 4, 4, 5, 4, 5, 3, 1])
    assert found is not None and found.interval is not None
    assert found.value == pytest.approx(80.0)
    # Wilson for 8 of 10 by hand: (0.8 + 0.19208 ± 1.96·sqrt(0.016 + 0.0096040)) / 1.38416.
    z = metrics.Z95
    centre, margin, scale = (
        0.8 + z**2 / 20,
        z * math.sqrt(0.8 * 0.2 / 10 + z**2 / 400),
        1 + z**2 / 10,
    )
    assert found.interval.low == pytest.approx(100 * (centre - margin) / scale)
    assert found.interval.high == pytest.approx(100 * (centre + margin) / scale)
    assert found.interval.low == pytest.approx(49.02, abs=0.01)
    assert found.interval.high == pytest.approx(94.33, abs=0.01)


def test_ces_t_interval_by_hand() -> None:
    """2, 3, 4, 5, 6: mean 4, s = sqrt(2.5), t(0.975, 4) = 2.776: 4 ± 2.776·sqrt(2.5)/sqrt(5) = 4 ± 1.963."""
    found = ces([2, 3, 4, 5, 6])
    assert found is not None and found.interval is not None
    assert found.value == 4.0
    t = metrics.t_critical_95(4)  # 2.776
    assert found.interval.low == pytest.approx(4 - t * math.sqrt(2.5) / math.sqrt(5))
    assert found.interval.high == pytest.approx(t * math.sqrt(0.5) + 4)
    assert found.interval.low == pytest.approx(2.037, abs=1e-3)


def test_ces_interval_is_clipped_and_one_answer_has_none() -> None:
    found = ces([1, 7])
    assert found is not None and found.interval == Interval(low=1.0, high=7.0)
    single = ces([3])
    assert single is not None
    assert single.value == 3.0 and single.interval is None and single.standard_error is None


def test_ces_of_thirty_uses_the_same_t_as_everywhere() -> None:
    thirty = [3, 5] * 15
    found = ces(thirty)
    assert found is not None and found.interval is not None
    t = metrics.t_critical_95(29)
    assert found.interval.high - found.value == pytest.approx(t * found.standard_error)  # type: ignore[operator]


@given(st.sampled_from(("nps", "csat", "ces")), st.lists(st.integers(min_value=0, max_value=10), max_size=60))
def test_the_digest_shows_the_dashboards_figure_and_interval(survey_type: str, scores: list[int]) -> None:
    """One method, one presentation: the digest's estimate is `shared.metrics`' (the dashboard's and
    `cxloop report`'s), figure and interval alike."""
    low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[survey_type]
    kept = [x for x in scores if low <= x <= high]
    found, shared = estimate(survey_type, kept), getattr(metrics, survey_type)(kept)
    if not kept:
        assert found is None and shared.value is None
        return
    assert found is not None and found.value == shared.value and found.n == shared.n
    if shared.low is None:
        assert found.interval is None
    else:
        assert found.interval == Interval(low=shared.low, high=shared.high)


def test_scores_outside_the_scale_are_left_out() -> None:
    assert estimate("csat", [5, 0, 9]) == csat([5])
    assert estimate("ces", [4, 8]) == ces([4])
    assert estimate("nps", [10, 11, -1]) == nps([10])


def test_a_change_is_clear_only_beyond_the_combined_noise() -> None:
    big_now, big_before = nps([10] * 80 + [0] * 20), nps([10] * 20 + [0] * 80)
    assert clear_change(big_now, big_before) is True
    assert clear_change(nps([10, 10, 0]), nps([10, 0, 0])) is False
    assert clear_change(ces([3]), ces([4, 5])) is None
    assert clear_change(None, nps([10])) is None


@given(st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=300))
def test_nps_stays_on_its_scale_inside_its_interval(scores: list[int]) -> None:
    found = nps(scores)
    assert found is not None and found.interval is not None
    assert -100 <= found.interval.low <= found.value <= found.interval.high <= 100


@given(st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=300))
def test_csat_stays_inside_its_wilson_interval(scores: list[int]) -> None:
    found = csat(scores)
    assert found is not None and found.interval is not None
    assert 0 <= found.interval.low <= found.value <= found.interval.high <= 100


@given(st.lists(st.integers(min_value=1, max_value=7), min_size=2, max_size=300))
def test_ces_stays_inside_its_t_interval(scores: list[int]) -> None:
    found = ces(scores)
    assert found is not None and found.interval is not None
    assert 1 <= found.interval.low <= found.value <= found.interval.high <= 7


# --------------------------------------------------------------------------------------------- figures


def test_scores_this_week_against_last_week() -> None:
    now = nps_answers(3, 5, 2)  # NPS 10
    before = nps_answers(2, 4, 4, at=LAST_WEEK)  # NPS -20
    digest = build_digest("Shop", END, [*now, *before], sent={"nps": 40}, sent_previous={"nps": 20})
    [figure] = digest.scores
    assert (figure.survey_type, figure.label) == ("nps", "NPS")
    assert figure.score == pytest.approx(10)
    assert figure.previous == pytest.approx(-20)
    assert figure.change == pytest.approx(30)
    assert figure.n == 10 and figure.previous_n == 10
    assert figure.response_rate == pytest.approx(0.25)
    assert figure.previous_response_rate == pytest.approx(0.5)
    noise = 1.96 * math.hypot(100 * math.sqrt(0.49 / 10), 100 * math.sqrt((0.2 + 0.4 - 0.04) / 10))
    assert figure.change_is_clear is (noise < 30) is False
    assert figure.higher_is_better


def test_the_period_is_the_seven_days_before_its_end() -> None:
    inside = [answer(10, END - WEEK), answer(10, END - timedelta(microseconds=1))]
    outside = [answer(0, END), answer(0, END - WEEK - timedelta(microseconds=1))]
    digest = build_digest("Shop", END, [*inside, *outside])
    [figure] = digest.scores
    assert figure.n == 2 and figure.score == 100
    assert figure.previous_n == 1 and figure.previous == -100
    assert (digest.period_start, digest.period_end, digest.previous_start) == (
        END - WEEK,
        END,
        END - 2 * WEEK,
    )


def test_no_previous_answers_no_change() -> None:
    [figure] = build_digest("Shop", END, nps_answers(1, 0, 0)).scores
    assert figure.previous is None and figure.change is None and figure.change_is_clear is None
    assert figure.previous_n == 0


def test_answers_only_last_week_show_an_empty_figure() -> None:
    [figure] = build_digest("Shop", END, [answer(4, LAST_WEEK, "csat")]).scores
    assert figure.score is None and figure.n == 0 and figure.interval is None
    assert figure.previous == 100.0
    assert figure.change is None


@pytest.mark.parametrize(
    ("sent", "rate"), [(None, None), ({}, None), ({"nps": 0}, None), ({"nps": 3}, 1.0), ({"nps": 8}, 0.5)]
)
def test_response_rate(sent: dict[str, int] | None, rate: float | None) -> None:
    [figure] = build_digest("Shop", END, nps_answers(2, 1, 1), sent=sent).scores
    assert figure.response_rate == rate
    assert figure.sent == ((sent or {}).get("nps") or None)


def test_each_survey_type_in_order_and_ces_lower_is_better() -> None:
    answers = [answer(2, survey_type="ces"), answer(5, survey_type="csat"), answer(10)]
    figures = build_digest("Shop", END, answers).scores
    assert [f.survey_type for f in figures] == ["nps", "csat", "ces"]
    assert [f.higher_is_better for f in figures] == [True, True, False]


def test_the_newest_revision_of_an_answer_counts() -> None:
    answers = [answer(10, invite_id="a", revision=1), answer(2, invite_id="a", revision=2)]
    [figure] = build_digest("Shop", END, reversed(answers)).scores
    assert figure.n == 1 and figure.score == -100


def test_empty_week() -> None:
    digest = build_digest("Shop", END, [])
    assert digest.scores == [] and digest.trend is None and digest.themes == [] and digest.comments == []
    assert (
        digest.reviews.total == 0 and digest.reviews.histogram == [0] * 5 and digest.reviews.average is None
    )
    assert (
        digest.cases.opened == 0 and digest.cases.median_hours_to_reply is None and digest.cases.overdue == []
    )
    assert digest.at_risk == [] and digest.answers == 0


# ---------------------------------------------------------------------------------------------- themes


def test_themes_with_their_sentiment_and_movement() -> None:
    said = [
        answer(2, themes=(("delivery_shipping", "negative"),), comment="late"),
        answer(3, themes=(("delivery_shipping", "negative"), ("packaging", "negative"))),
        mention(themes=(("delivery_shipping", "positive"),)),
        # Named twice in one text: counted once, as first read.
        mention(themes=(("packaging", "positive"), ("packaging", "negative"))),
        answer(10, at=LAST_WEEK, themes=(("packaging", "positive"),)),
        answer(10, at=LAST_WEEK, themes=(("packaging", "positive"),)),
        answer(10, at=LAST_WEEK, themes=(("packaging", "positive"),)),
        answer(10, at=LAST_WEEK, themes=(("price_value", "positive"),)),
    ]
    answers = [s for s in said if isinstance(s, SurveyAnswer)]
    mentions = [s for s in said if isinstance(s, Mention)]
    themes = build_digest("Shop", END, answers, mentions).themes
    assert [t.theme for t in themes] == ["delivery_shipping", "packaging"]
    delivery, packaging = themes
    assert delivery.label == "Delivery & shipping"
    assert (delivery.count, delivery.negative, delivery.neutral, delivery.positive) == (3, 2, 0, 1)
    assert delivery.negative_share == pytest.approx(2 / 3) and delivery.positive_share == pytest.approx(1 / 3)
    assert (delivery.previous, delivery.change) == (0, 3)
    assert (packaging.count, packaging.negative, packaging.positive) == (2, 1, 1)
    assert (packaging.previous, packaging.change) == (3, -1)


def test_at_most_five_themes_the_most_named_first() -> None:
    answers = [
        answer(
            5, themes=tuple((f"theme_{i}", "neutral") for i in range(k + 1))
        )  # theme_0 in all, theme_6 in one
        for k in range(7)
    ]
    themes = build_digest("Shop", END, answers).themes
    assert [t.theme for t in themes] == ["theme_0", "theme_1", "theme_2", "theme_3", "theme_4"]
    assert [t.count for t in themes] == [7, 6, 5, 4, 3]
    assert themes[0].label == "Theme 0"


# -------------------------------------------------------------------------------------------- comments


def test_notable_comments_by_confidence_then_length() -> None:
    answers = [
        answer(2, comment="Short and sure.", label="negative", confidence=0.95),
        answer(1, comment="A longer complaint, equally sure of itself.", label="negative", confidence=0.91),
        answer(3, comment="Unsure.", label="negative", confidence=0.6),
        answer(0, comment="Least sure of all.", label="negative", confidence=0.5),
        answer(10, comment="Lovely!", label="positive", confidence=0.99),
        answer(9, comment="Great.", label="positive", confidence=0.8),
        answer(9, comment="Fine.", label="positive", confidence=0.7),
        answer(8, comment="Neutral words", label="neutral", confidence=0.99),
        answer(10, comment="   ", label="positive", confidence=1.0),
        answer(0, comment="Last week's.", label="negative", confidence=1.0, at=LAST_WEEK),
    ]
    comments = build_digest("Shop", END, answers).comments
    assert [c.text for c in comments] == [
        "A longer complaint, equally sure of itself.",
        "Short and sure.",
        "Unsure.",
        "Lovely!",
        "Great.",
    ]
    assert [c.sentiment for c in comments] == ["negative"] * 3 + ["positive"] * 2
    assert comments[0].author == "Ana" and comments[0].detail == "NPS 1 · order #1042"


def test_comments_are_shortened_and_not_repeated() -> None:
    long = "word " * 100
    mentions = [
        mention(source="google", rating=1, excerpt=long, label="negative"),
        mention(source="trustpilot", rating=1, excerpt=long.upper(), label="negative"),
    ]
    [comment] = build_digest("Shop", END, [], mentions).comments
    assert len(comment.text) <= 220 and comment.text.endswith("…")
    assert comment.author in {"Google", "Trustpilot"} and comment.detail == "1 of 5 stars"


def test_shorten() -> None:
    assert shorten("  one\n two  ") == "one two"
    assert shorten("abcdef ghij", 8) == "abcdef…"
    assert shorten("abcdefghij", 5) == "abcd…"


# --------------------------------------------------------------------------------------------- reviews


def test_reviews_by_source_with_average_and_histogram() -> None:
    mentions = [
        mention("google", 5),
        mention("google", 4),
        mention("trustpilot", 4.5),  # half up: 5 stars
        mention("trustpilot", 1),
        mention("trustpilot", 2),
        mention("reddit", None),  # a mention without a rating
        mention("google", 1, at=LAST_WEEK),
    ]
    reviews = build_digest("Shop", END, [], mentions).reviews
    assert reviews.total == 6 and reviews.previous_total == 1
    assert reviews.average == pytest.approx((5 + 4 + 4.5 + 1 + 2) / 5)
    assert reviews.histogram == [1, 1, 0, 1, 2]
    assert [(s.label, s.count) for s in reviews.sources] == [("Trustpilot", 3), ("Google", 2), ("Reddit", 1)]
    trustpilot, google, reddit = reviews.sources
    assert trustpilot.average == pytest.approx(2.5) and trustpilot.histogram == [1, 1, 0, 0, 1]
    assert google.average == pytest.approx(4.5)
    assert reddit.average is None and reddit.histogram == [0] * 5


# ----------------------------------------------------------------------------------------------- cases


def test_cases_past_target_oldest_first_with_this_weeks_counts() -> None:
    cases = [
        case("late-old", END - timedelta(days=12)),  # opened two weeks ago, never answered
        case("late-new", END - timedelta(days=3)),
        case("not-yet-due", END - timedelta(hours=2)),
        case("fast", END - timedelta(days=4), replied_after_hours=2, status=CaseStatus.REPLIED),
        case("slow", END - timedelta(days=5), replied_after_hours=30, status=CaseStatus.REPLIED),
        case("mid", END - timedelta(days=6), replied_after_hours=10, status=CaseStatus.RESOLVED),
        case("resolved-unreplied", END - timedelta(days=5), status=CaseStatus.RESOLVED),
    ]
    summary = build_digest("Shop", END, [], cases=cases).cases
    assert [c.case_id for c in summary.overdue] == ["late-old", "late-new"]
    assert summary.overdue_total == 2
    assert summary.overdue[0].hours_late == pytest.approx(11 * 24)
    assert summary.overdue[0].who == "Ben" and summary.overdue[0].what == "NPS 2"
    # Opened this week: late-new, not-yet-due, fast, slow, mid, resolved-unreplied.
    assert summary.opened == 6
    assert summary.replied == 3
    assert summary.replied_within_target == 2
    assert summary.median_hours_to_reply == 10


def test_at_most_ten_cases_past_target_are_listed() -> None:
    cases = [case(f"c{i:02d}", END - timedelta(days=2, hours=i)) for i in range(14)]
    summary = build_digest("Shop", END, [], cases=cases).cases
    assert summary.overdue_total == 14
    assert [c.case_id for c in summary.overdue] == [f"c{i:02d}" for i in range(13, 3, -1)]


# ----------------------------------------------------------------------------------------- risk, trend


def test_top_five_customers_at_risk() -> None:
    people = [AtRisk(name=f"C{i}", risk=i / 10, spend_year=100.0 * i, reasons=["r"]) for i in range(1, 8)]
    digest = build_digest("Shop", END, [], at_risk=people)
    assert [p.name for p in digest.at_risk] == ["C7", "C6", "C5", "C4", "C3"]
    assert digest.at_risk_total == 7


def test_weekly_trend_over_up_to_eight_weeks() -> None:
    answers = [
        *nps_answers(1, 0, 0, at=END - 9 * WEEK),  # too old
        *nps_answers(2, 0, 0, at=END - 5 * WEEK - timedelta(days=1)),  # week -6: 100
        *nps_answers(1, 0, 1, at=END - 3 * WEEK - timedelta(days=1)),  # week -4: 0
        *nps_answers(0, 1, 1, at=THIS_WEEK),  # this week: -50
    ]
    trend = build_digest("Shop", END, answers).trend
    assert trend is not None and trend.survey_type == "nps"
    assert [p.value for p in trend.points] == [100.0, None, 0.0, None, None, -50.0]
    assert [p.n for p in trend.points] == [2, 0, 2, 0, 0, 2]
    assert trend.points[-1].week_end == END and trend.points[0].week_start == END - 6 * WEEK


def test_trend_falls_back_to_the_first_type_with_answers_and_needs_two_weeks() -> None:
    csat_only = [answer(5, THIS_WEEK, "csat"), answer(2, LAST_WEEK, "csat"), answer(9, LAST_WEEK)]
    trend = build_digest("Shop", END, csat_only).trend
    assert trend is None  # NPS has one week only: the first type with answers decides
    trend = build_digest("Shop", END, csat_only[:2]).trend
    assert (
        trend is not None and trend.survey_type == "csat" and [p.value for p in trend.points] == [0.0, 100.0]
    )
    assert build_digest("Shop", END, [answer(5, THIS_WEEK, "csat")]).trend is None


# ------------------------------------------------------------------------------------------------ text


def figure(kind: str, score: float | None, previous: float | None) -> ScoreFigure:
    return ScoreFigure(survey_type=kind, label=kind.upper(), score=score, n=1, interval=None, sent=None,
                       response_rate=None, previous_response_rate=None, previous=previous, previous_n=1,
                       change=None if score is None or previous is None else score - previous,
                       change_is_clear=None, higher_is_better=kind != "ces")  # fmt: skip


def test_figures_as_text() -> None:
    assert score_text("nps", -12.4) == f"{MINUS}12"
    assert score_text("nps", -0.4) == "0"
    assert score_text("csat", 69.23) == "69%"
    assert score_text("ces", 2.857) == "2.9"
    # The change between the figures as shown: 57 against 38 is 19, although 57.4 - 37.6 is 19.8.
    assert change_of(figure("nps", 57.4, 37.6)) == 19
    assert change_text(figure("nps", 57.4, 37.6)) == "▲ 19 pts"
    assert change_text(figure("ces", 2.3, 2.86)) == "▼ 0.6"
    assert change_text(figure("csat", 80.2, 79.9)) == "no change"
    assert change_text(figure("nps", 10, None)) == ""


def test_period_text() -> None:
    assert period_text(END - WEEK, END) == "16\u201322 Nov 2026"
    assert period_text(datetime(2026, 11, 28), datetime(2026, 12, 5)) == "28 Nov \u2013 4 Dec 2026"
    assert period_text(datetime(2026, 12, 29), datetime(2027, 1, 5)) == "29 Dec 2026 \u2013 4 Jan 2027"


def test_small_text_helpers() -> None:
    assert sparkline([0, None, 50, 100], 0, 100) == "▁ ▅█"
    assert money(1240.5, "EUR") == "€1,240" and money(80, "chf") == "80 CHF" and money(3, None) == "3"
    assert duration_text(0.2) == "12 min" and duration_text(11.4) == "11 h" and duration_text(72) == "3 days"
    assert (
        plural(0, "case") == "no cases" and plural(1, "case") == "1 case" and plural(3, "case") == "3 cases"
    )
