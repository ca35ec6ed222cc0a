"""Survey metrics: hand-computed values and intervals, the t table, and properties of every interval."""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared import metrics
from shared.metrics import Z95, Metric, ces, csat, nps, response_rate, summarise, t_critical_95

pytestmark = pytest.mark.unit

# Per survey type: the metric, its scale and the scale of its value and interval.
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
RANGES = {"nps": (-100.0, 100.0), "csat": (0.0, 100.0), "ces": (1.0, 7.0), "response_rate": (0.0, 100.0)}
METRICS = {"nps": nps, "csat": csat, "ces": ces}
TYPES = sorted(SCALES)


def answers(survey_type: str, min_size: int = 0, max_size: int = 120):
    lowest, highest = SCALES[survey_type]
    return st.lists(st.integers(lowest, highest), min_size=min_size, max_size=max_size)


def width(metric: Metric) -> float:
    assert metric.low is not None and metric.high is not None
    return metric.high - metric.low


# --- Known values -------------------------------------------------------------------------------


def test_nps_of_five_promoters_three_passives_two_detractors():
    metric = nps([9, 10, 10, 9, 10, 7, 8, 8, 0, 6])
    assert (metric.promoters, metric.passives, metric.detractors) == (5, 3, 2)
    assert metric.n == 10
    assert metric.value == pytest.approx(30.0)
    # Answers as +1/0/-1: variance 0.5 + 0.2 - 0.3^2 = 0.61; sqrt(0.61 / 10) = 0.2469818;
    # x 1.959964 x 100 = 48.4075 points either side of 30.
    assert metric.low == pytest.approx(-18.4075, abs=1e-3)
    assert metric.high == pytest.approx(78.4075, abs=1e-3)


def test_nps_counts_passives_and_the_boundaries_of_each_group():
    metric = nps([6, 7, 8, 9])
    assert (metric.promoters, metric.passives, metric.detractors) == (1, 2, 1)
    assert metric.value == pytest.approx(0.0)


def test_nps_of_one_answer_spans_the_whole_scale():
    metric = nps([10])
    assert (metric.value, metric.low, metric.high, metric.n) == (100.0, -100.0, 100.0, 1)


def test_nps_interval_is_clipped_to_the_scale():
    metric = nps([10, 10, 10, 0])  # 50 +- 1.959964 * 100 * sqrt((1 - 0.25) / 4) = 50 +- 84.9
    assert metric.value == pytest.approx(50.0)
    assert metric.low == pytest.approx(50 - 84.8689, abs=1e-3)
    assert metric.high == 100.0


def test_empty_metrics_have_no_value_and_no_interval():
    for metric in (nps([]), csat([]), ces([]), response_rate(0, 0)):
        assert (metric.value, metric.low, metric.high, metric.n) == (None, None, None, 0)
    assert (nps([]).promoters, nps([]).passives, nps([]).detractors) == (0, 0, 0)
    assert csat([]).promoters is None


def test_csat_wilson_interval_of_eight_satisfied_in_ten():
    metric = csat([5, 5, 5, 5, 4, 4, 4, 4, 3, 1])
    assert metric.value == pytest.approx(80.0)
    assert metric.n == 10
    # Wilson: centre (0.8 + 3.8415/20) / 1.38415 = 0.71668, half 1.959964 * sqrt(0.016 + 0.0096037)
    # / 1.38415 = 0.22657, so 49.0 % to 94.3 %.
    assert metric.low == pytest.approx(49.016, abs=1e-3)
    assert metric.high == pytest.approx(94.332, abs=1e-3)


def test_csat_counts_only_four_and_five_as_satisfied():
    assert csat([3, 3, 4, 5]).value == pytest.approx(50.0)


def test_csat_all_satisfied_has_wilson_lower_bound_below_100():
    metric = csat([5, 4, 5])
    assert metric.value == 100.0
    assert metric.high == 100.0
    assert metric.low == pytest.approx(100 * 3 / (3 + Z95**2), abs=1e-9)  # 43.85 %


def test_ces_t_interval_of_one_to_five():
    metric = ces([1, 2, 3, 4, 5])
    assert metric.value == pytest.approx(3.0)
    # s = sqrt(2.5) = 1.581139, t(0.975, 4) = 2.776445: 3 +- 2.776445 * 1.581139 / sqrt(5) = 3 +- 1.963243.
    assert metric.low == pytest.approx(1.036757, abs=1e-5)
    assert metric.high == pytest.approx(4.963243, abs=1e-5)


def test_ces_of_one_answer_has_no_interval():
    metric = ces([3])
    assert (metric.value, metric.n, metric.low, metric.high) == (3.0, 1, None, None)


def test_ces_interval_is_clipped_to_the_scale():
    metric = ces([1, 7])  # 4 +- 12.706 * 4.243 / 1.414 = 4 +- 38.1
    assert (metric.value, metric.low, metric.high) == (4.0, 1.0, 7.0)


def test_response_rate_wilson_interval():
    metric = response_rate(94, 400)
    assert metric.value == pytest.approx(23.5)
    assert metric.n == 400
    # centre (0.235 + 3.8415/800) / 1.0096037 = 0.237522; half 1.959964 * sqrt(0.00044944 + 0.0000060)
    # / 1.0096037 = 0.041430.
    assert metric.low == pytest.approx(19.609, abs=1e-3)
    assert metric.high == pytest.approx(27.895, abs=1e-3)


def test_response_rate_of_nothing_answered_is_zero_with_an_upper_bound():
    metric = response_rate(0, 20)
    assert (metric.value, metric.low) == (0.0, 0.0)
    assert metric.high == pytest.approx(100 * Z95**2 / (20 + Z95**2), abs=1e-9)  # 16.1 %


# --- Student t ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("df", "expected"),
    [
        (1, 12.706),
        (5, 2.571),
        (10, 2.228),
        (30, 2.042),
        (31, 2.040),
        (40, 2.021),
        (60, 2.000),
        (100, 1.984),
        (120, 1.980),
        (1000, 1.962),
    ],
)
def test_t_critical_values(df, expected):
    assert t_critical_95(df) == pytest.approx(expected, abs=0.0006)  # the published 3 decimals, rounded


@pytest.mark.parametrize(
    ("df", "expected"),  # scipy.stats.t.ppf(0.975, df), 7 decimals
    [(30, 2.0422725), (31, 2.0395134), (40, 2.0210754), (100, 1.9839715), (1000, 1.9623391)],
)
def test_t_critical_values_precisely_either_side_of_the_table(df, expected):
    assert t_critical_95(df) == pytest.approx(expected, abs=2e-7)


def test_t_critical_falls_with_df_towards_the_normal_value():
    values = [t_critical_95(df) for df in range(1, 400)]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert values[-1] > Z95
    assert t_critical_95(10**6) == pytest.approx(Z95, abs=1e-5)


def test_t_critical_refuses_zero_degrees_of_freedom():
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_critical_95(0)


# --- describe -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "text"),
    [
        (
            Metric(name="nps", value=42.0, n=57, low=30.1, high=53.9),
            "NPS +42.0 (95% CI +30.1 to +53.9, n=57)",
        ),
        (
            Metric(name="nps", value=-0.04, n=3, low=-80.0, high=79.96),
            "NPS +0.0 (95% CI -80.0 to +80.0, n=3)",
        ),
        (
            Metric(name="csat", value=81.28, n=32, low=70.2, high=89.0),
            "CSAT 81.3% (95% CI 70.2% to 89.0%, n=32)",
        ),
        (Metric(name="ces", value=2.41, n=40, low=2.1, high=2.72), "CES 2.41 (95% CI 2.10 to 2.72, n=40)"),
        (Metric(name="ces", value=3.0, n=1), "CES 3.00 (n=1)"),
        (
            Metric(name="response_rate", value=23.5, n=400, low=19.61, high=27.89),
            "Response rate 23.5% (95% CI 19.6% to 27.9%, n=400 sent)",
        ),
        (Metric(name="nps", value=None, n=0), "NPS — (n=0)"),
        (Metric(name="response_rate", value=None, n=0), "Response rate — (n=0 sent)"),
    ],
)
def test_describe(metric, text):
    assert metric.describe() == text


def test_describe_of_computed_metrics():
    assert nps([10, 9, 10, 9, 10, 8, 7, 8, 0, 6]).describe() == "NPS +30.0 (95% CI -18.4 to +78.4, n=10)"
    assert response_rate(94, 400).describe() == "Response rate 23.5% (95% CI 19.6% to 27.9%, n=400 sent)"


def test_metric_is_frozen():
    metric = nps([9])
    with pytest.raises(ValidationError):
        metric.value = 0.0  # type: ignore[misc]


# --- summarise ----------------------------------------------------------------------------------


def test_summarise_returns_the_metric_then_the_response_rate():
    first, rate = summarise("ces", [2, 3, 4], sent=12)
    assert first == ces([2, 3, 4])
    assert rate == response_rate(3, 12)
    assert [m.name for m in summarise("nps", [9], 5)] == ["nps", "response_rate"]
    assert [m.name for m in summarise("csat", [], 0)] == ["csat", "response_rate"]


def test_summarise_refuses_an_unknown_survey_type():
    with pytest.raises(ValueError, match="'nes'"):
        summarise("nes", [1], 1)


def test_summarise_refuses_more_answers_than_sends():
    with pytest.raises(ValueError, match="3 answered of 2 sent"):
        summarise("csat", [5, 5, 5], 2)


# --- Invalid input ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(data=st.data(), survey_type=st.sampled_from(TYPES))
def test_scores_outside_the_scale_raise_naming_the_score(data, survey_type):
    lowest, highest = SCALES[survey_type]
    valid = data.draw(answers(survey_type, max_size=20))
    bad = data.draw(st.integers(max_value=lowest - 1) | st.integers(min_value=highest + 1))
    position = data.draw(st.integers(0, len(valid)))
    scores = [*valid[:position], bad, *valid[position:]]
    with pytest.raises(ValueError, match=re.escape(f"{survey_type.upper()} score {bad} ")):
        METRICS[survey_type](scores)


@pytest.mark.parametrize("bad", [9.5, True, "9", None])
def test_scores_that_are_not_whole_numbers_raise(bad):
    with pytest.raises(ValueError, match="NPS score"):
        nps([9, bad])


@pytest.mark.parametrize(("answered", "sent"), [(3, 2), (-1, 5), (0, -1), (-2, -1)])
def test_impossible_response_counts_raise(answered, sent):
    with pytest.raises(ValueError, match="response rate"):
        response_rate(answered, sent)


# --- Properties ---------------------------------------------------------------------------------


def assert_sound(metric: Metric) -> None:
    """Value and interval are present together (CES of one answer aside), inside the scale, in order."""
    floor, ceiling = RANGES[metric.name]
    if metric.n == 0:
        assert (metric.value, metric.low, metric.high) == (None, None, None)
        return
    assert metric.value is not None
    assert floor <= metric.value <= ceiling
    if metric.name == "ces" and metric.n == 1:
        assert (metric.low, metric.high) == (None, None)
        return
    assert metric.low is not None and metric.high is not None
    assert floor <= metric.low <= metric.value <= metric.high <= ceiling
    assert all(math.isfinite(x) for x in (metric.value, metric.low, metric.high))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), survey_type=st.sampled_from(TYPES))
def test_interval_contains_the_value_and_lies_in_the_scale(data, survey_type):
    scores = data.draw(answers(survey_type))
    metric = METRICS[survey_type](scores)
    assert metric.n == len(scores)
    assert_sound(metric)


@settings(max_examples=300, deadline=None)
@given(sent=st.integers(0, 100_000), data=st.data())
def test_response_rate_interval_contains_the_value(sent, data):
    answered = data.draw(st.integers(0, sent))
    metric = response_rate(answered, sent)
    assert metric.n == sent
    assert_sound(metric)
    if sent:
        assert metric.value == pytest.approx(100 * answered / sent)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), survey_type=st.sampled_from(TYPES), extra=st.integers(1, 1000))
def test_unanswered_sends_change_only_the_response_rate(data, survey_type, extra):
    scores = data.draw(answers(survey_type))
    sent = len(scores) + data.draw(st.integers(0, 50))
    metric, rate = summarise(survey_type, scores, sent)
    more_metric, more_rate = summarise(survey_type, scores, sent + extra)
    assert more_metric == metric
    assert more_rate.n == sent + extra
    assert more_rate != rate
    if scores:
        assert rate.value is not None and more_rate.value is not None
        assert more_rate.value < rate.value


@settings(max_examples=200, deadline=None)
@given(data=st.data(), survey_type=st.sampled_from(TYPES))
def test_order_of_answers_does_not_matter(data, survey_type):
    scores = data.draw(answers(survey_type))
    shuffled = data.draw(st.permutations(scores))
    assert METRICS[survey_type](shuffled) == METRICS[survey_type](scores)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), survey_type=st.sampled_from(TYPES), copies=st.integers(2, 6))
def test_more_answers_in_the_same_proportions_narrow_the_interval(data, survey_type, copies):
    scores = data.draw(answers(survey_type, min_size=2 if survey_type == "ces" else 1, max_size=40))
    metric = METRICS[survey_type](scores)
    larger = METRICS[survey_type](scores * copies)
    assert larger.value == pytest.approx(metric.value)
    floor, ceiling = RANGES[survey_type]
    if _no_spread(survey_type, larger) or (larger.low, larger.high) == (floor, ceiling):
        # Identical answers (as NPS groups them) leave nothing to narrow; nor does an interval
        # still clipped to the whole scale on both sides.
        assert width(larger) <= width(metric)
    else:
        assert width(larger) < width(metric)


def _no_spread(survey_type: str, metric: Metric) -> bool:
    if survey_type == "nps":
        return max(metric.promoters or 0, metric.passives or 0, metric.detractors or 0) == metric.n
    if survey_type == "ces":
        return width(metric) == 0
    return False  # Wilson narrows even at 0 % and 100 %


def test_ten_times_the_answers_narrow_the_nps_interval_by_sqrt_ten():
    small = nps([10] * 5 + [8] * 3 + [0] * 2)
    large = nps(([10] * 5 + [8] * 3 + [0] * 2) * 10)
    assert large.value == pytest.approx(small.value)
    assert width(large) == pytest.approx(width(small) / math.sqrt(10), rel=1e-9)


def test_answers_all_in_one_group_still_have_an_uncertain_interval() -> None:
    five = nps([10, 9, 10, 9, 10])
    assert five.value == 100.0
    assert five.high == 100.0
    assert five.low is not None and five.low < 60.0
    many = nps([10] * 200)
    assert many.low is not None and five.low < many.low < 100.0  # more answers, narrower
    assert nps([0] * 5).high is not None and nps([0] * 5).high > -60.0  # type: ignore[operator]


@given(
    survey_type=st.sampled_from(["nps", "csat", "ces"]),
    data=st.data(),
)
def test_a_histogram_gives_the_same_figure_as_its_answers(survey_type: str, data: st.DataObject) -> None:
    low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[survey_type]
    scores = data.draw(st.lists(st.integers(low, high), max_size=60))
    by_answers = {"nps": metrics.nps, "csat": metrics.csat, "ces": metrics.ces}[survey_type](scores)
    counts = Counter(scores)
    by_counts = metrics.from_histogram(survey_type, counts | {low: counts.get(low, 0)})  # zeros allowed
    assert by_counts.n == by_answers.n
    if survey_type == "ces" and len(scores) > 1:  # against the standard library, not our own code
        assert by_counts.value == pytest.approx(statistics.mean(scores), rel=1e-12)
        half = by_counts.high - by_counts.low if by_counts.high and by_counts.low else None
        spread = 2 * t_critical_95(len(scores) - 1) * statistics.stdev(scores) / math.sqrt(len(scores))
        if half is not None and by_counts.low > 1.0 and by_counts.high < 7.0:
            assert half == pytest.approx(spread, rel=1e-9)
    for field in ("value", "low", "high"):
        mine, theirs = getattr(by_counts, field), getattr(by_answers, field)
        assert (mine is None and theirs is None) or mine == pytest.approx(theirs, rel=1e-12, abs=1e-12)


def test_a_histogram_outside_the_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="nps score 11"):
        metrics.from_histogram("nps", {11: 1})
