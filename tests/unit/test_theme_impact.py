"""What a theme costs the score (shared/impact.py, decision 122): hand-computed cases, the delta
method's standard error against a numerical gradient, coverage of the interval on synthetic answers
with a known effect, and the figures from the day totals equal to a recount from the raw answers."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifier.domain.drivers import cost_text, drivers
from services.notifier.domain.model import Mention, SurveyAnswer
from services.notifier.domain.tallies import DayTotals, answer_tally, mention_tally, summed
from shared import metrics
from shared.impact import Impact, cost, impact, nps_values, ranked
from shared.sentiment import ThemeScore

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def test_a_hand_computed_case() -> None:
    # 10 answers: 4 complain of delivery (3 detractors, 1 passive), 6 do not (4 promoters, 2 passives).
    total = {-100.0: 3, 0.0: 3, 100.0: 4}
    theme = {-100.0: 3, 0.0: 1}
    found = impact("delivery_shipping", "nps", total, theme)
    assert found.score == pytest.approx(10.0)  # (4 - 3) / 10
    assert found.score_theme == pytest.approx(-75.0)
    assert found.score_rest == pytest.approx(400 / 6)
    assert found.cost == pytest.approx(400 / 6 - 10)  # = 0.4 · (66.7 + 75)
    assert found.cost == pytest.approx(0.4 * (400 / 6 + 75))
    assert (found.n, found.n_theme) == (10, 4)
    assert found.low is None  # 4 naming it: too few for an interval


def _numeric_se(total: dict[float, int], theme: dict[float, int]) -> float:
    """The delta method done by finite differences on the six cells' proportions."""
    cells = [(x, True) for x in theme] + [(x, False) for x in total]
    counts = [theme[x] for x in theme] + [total[x] - theme.get(x, 0) for x in total]
    n = sum(counts)
    p = [c / n for c in counts]

    def g(q: list[float]) -> float:
        s_all = sum(qi for qi in q)
        m_all = sum(qi * x for qi, (x, _) in zip(q, cells, strict=True)) / s_all
        rest = [(qi, x) for qi, (x, t) in zip(q, cells, strict=True) if not t]
        m_r = sum(qi * x for qi, x in rest) / sum(qi for qi, _ in rest)
        return m_r - m_all

    h = 1e-6
    grad = []
    for i in range(len(p)):
        up, down = list(p), list(p)
        up[i] += h
        down[i] -= h
        grad.append((g(up) - g(down)) / (2 * h))
    var = sum(p[i] * grad[i] ** 2 for i in range(len(p))) - sum(p[i] * grad[i] for i in range(len(p))) ** 2
    return math.sqrt(var / n)


@pytest.mark.parametrize(
    ("total", "theme"),
    [
        ({-100.0: 30, 0.0: 25, 100.0: 45}, {-100.0: 12, 0.0: 4, 100.0: 2}),
        ({1.0: 9, 2.0: 4, 3.0: 6, 4.0: 10, 5.0: 31}, {1.0: 6, 2.0: 2, 3.0: 1, 5.0: 1}),
    ],
)
def test_the_standard_error_is_the_delta_method(total: dict[float, int], theme: dict[float, int]) -> None:
    value, se = cost(total, theme)
    assert value is not None and se is not None
    assert se == pytest.approx(_numeric_se(total, theme), rel=1e-4)


def test_nothing_to_estimate_when_a_side_is_empty_and_bad_parts_are_refused() -> None:
    assert cost({100.0: 3}, {}) == (None, None)
    assert cost({100.0: 3}, {100.0: 3}) == (None, None)
    with pytest.raises(ValueError, match="part of all answers"):
        cost({100.0: 3}, {-100.0: 1})


def _draw(
    rng: random.Random, n: int, share: float, theme_p: tuple[float, float], rest_p: tuple[float, float]
):
    """n answers; a share name the theme; (promoter, detractor) probabilities of each group."""
    total: Counter[float] = Counter()
    theme: Counter[float] = Counter()
    for _ in range(n):
        named = rng.random() < share
        pro, det = theme_p if named else rest_p
        u = rng.random()
        value = 100.0 if u < pro else (-100.0 if u < pro + det else 0.0)
        total[value] += 1
        if named:
            theme[value] += 1
    return dict(total), dict(theme)


def test_the_interval_covers_a_known_effect_in_most_draws() -> None:
    # A fifth of the answers complain; they are 20 % promoters / 60 % detractors (NPS -40), the rest
    # 60 % / 15 % (NPS +45): the complaints cost 0.2 · 85 = 17 points.
    rng = random.Random(19)
    truth = 0.2 * (45 - -40)
    covered, estimates = 0, []
    for _ in range(400):
        total, theme = _draw(rng, 300, 0.2, (0.2, 0.6), (0.6, 0.15))
        found = impact("delivery_shipping", "nps", total, theme)
        assert found.low is not None and found.high is not None and found.cost is not None
        covered += found.low <= truth <= found.high
        estimates.append(found.cost)
    assert 0.90 <= covered / 400 <= 0.98  # 0.942 over 3,000 draws (decision 122)
    assert sum(estimates) / len(estimates) == pytest.approx(truth, abs=1.0)


def test_a_theme_that_costs_nothing_is_mostly_not_called_costly() -> None:
    rng = random.Random(7)
    clear = 0
    for _ in range(300):
        total, theme = _draw(rng, 200, 0.3, (0.5, 0.2), (0.5, 0.2))
        clear += impact("packaging", "nps", total, theme).clear
    assert clear / 300 <= 0.06  # one-sided: about 2.5 % expected


def test_stars_covered_too() -> None:
    rng = random.Random(3)
    covered = 0
    for _ in range(300):
        total: Counter[float] = Counter()
        theme: Counter[float] = Counter()
        for _ in range(250):
            named = rng.random() < 0.25
            stars = float(rng.choice([1, 1, 2, 3, 4]) if named else rng.choice([3, 4, 5, 5, 5]))
            total[stars] += 1
            theme[stars] += named
        found = impact("product_quality", "stars", dict(total), {k: v for k, v in theme.items() if v})
        # 0.25 · (mean 4.4 - mean 2.2)
        covered += found.low is not None and found.high is not None and found.low <= 0.55 <= found.high
    assert covered / 300 >= 0.92


def test_ranked_costliest_first_and_said_in_words() -> None:
    a = Impact(theme="a", unit="nps", n=100, n_theme=10, score=0, score_theme=0, score_rest=0, cost=3.0)
    b = Impact(theme="b", unit="nps", n=100, n_theme=30, score=0, score_theme=0, score_rest=0, cost=12.0)
    c = Impact(theme="c", unit="nps", n=100, n_theme=0, score=0, score_theme=None, score_rest=0, cost=None)
    assert [i.theme for i in ranked([a, c, b])] == ["b", "a", "c"]
    d = b.model_copy(update={"low": 7.0, "high": 17.0})
    assert cost_text(d) == "costs 12 NPS points (±5, 30 of 100 answers)"
    assert "too few" in cost_text(a)


def _answer(i: int, score: int, themes: list[tuple[str, str]]) -> SurveyAnswer:
    return SurveyAnswer(
        invite_id=f"i{i}",
        revision=1,
        survey_type="nps",
        score=score,
        answered_at=T0 + timedelta(hours=7 * i),
        themes=[ThemeScore(theme=t, sentiment=s, score=0.0) for t, s in themes],
    )


THEMES = ("delivery_shipping", "product_quality", "price_value")
LABELS = ("positive", "neutral", "negative")
raw_answers = st.lists(
    st.tuples(
        st.integers(0, 10),
        st.lists(st.tuples(st.sampled_from(THEMES), st.sampled_from(LABELS)), max_size=3),
    ),
    min_size=1,
    max_size=40,
)


def _negative(themes: list[tuple[str, str]]) -> set[str]:
    last = dict(themes)  # the last reading of a theme counts
    return {t for t, s in last.items() if s == "negative"}


@settings(max_examples=120, deadline=None)
@given(raw=raw_answers)
def test_the_day_totals_give_the_same_cost_as_a_recount_of_the_answers(
    raw: list[tuple[int, list[tuple[str, str]]]],
) -> None:
    answers = [_answer(i, score, themes) for i, (score, themes) in enumerate(raw)]
    by_day: dict[str, Counter[str]] = {}
    for a in answers:
        tally = answer_tally(a)
        by_day.setdefault(tally.day, Counter()).update(tally.counts)
    days = [DayTotals(day=datetime.fromisoformat(d).date(), counts=dict(c)) for d, c in by_day.items()]
    found = {i.theme: i for i in drivers(summed(days)).nps}
    all_scores = [a.score for a in answers]
    for theme in THEMES:
        rest = [s for (s, th) in raw if theme not in _negative(th)]
        named = len(raw) - len(rest)
        if not named:
            assert theme not in found
            continue
        row = found[theme]
        assert (row.n, row.n_theme) == (len(raw), named)
        if not rest:
            assert row.cost is None
            continue
        recount = metrics.nps(rest).value - metrics.nps(all_scores).value  # type: ignore[operator]
        assert row.cost == pytest.approx(recount, abs=1e-9)


def test_stars_from_reviews_day_totals() -> None:
    mentions = [
        Mention(
            mention_id=f"m{i}",
            revision=1,
            source="google",
            rating=stars,
            scored_at=T0,
            themes=[ThemeScore(theme="delivery_shipping", sentiment="negative", score=-0.5)] if bad else [],
        )
        for i, (stars, bad) in enumerate(
            [(1, True), (2, True), (5, False), (4, False), (5, False), (3, False)]
        )
    ]
    counts: Counter[str] = Counter()
    for m in mentions:
        counts.update(mention_tally(m).counts)
    (row,) = drivers(counts).stars
    assert row.theme == "delivery_shipping" and row.label == "Delivery & shipping"
    assert row.score == pytest.approx(20 / 6) and row.score_rest == pytest.approx(17 / 4)
    assert row.cost == pytest.approx(17 / 4 - 20 / 6)
    assert drivers(counts).nps == []
    assert nps_values({9: 2, 7: 1, 3: 4}) == {100.0: 2, 0.0: 1, -100.0: 4}
