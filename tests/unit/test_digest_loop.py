"""The digest's 'what drives your score' and 'how fast you closed the loop' (decisions 122, 123): the
words the e-mail (HTML and text) and Slack share, with n and margins, and a change called only when it
is larger than the noise."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.notifier.domain.digest import build_digest
from services.notifier.domain.digest_loop import driver_lines, service_line, target_change
from services.notifier.domain.digest_slack import digest_slack
from services.notifier.domain.drivers import drivers
from services.notifier.domain.service_kpis import service_kpis
from services.notifier.rendering import render_digest

END = datetime(2026, 11, 30, tzinfo=UTC)
WEEK = (date(2026, 11, 23), date(2026, 11, 29))
BEFORE = (date(2026, 11, 16), date(2026, 11, 22))


def _quarter() -> dict[str, int]:
    """60 NPS answers: 20 detractors (2) complaining of delivery, 40 promoters (10): NPS 33, the rest
    100; delivery costs 67 points. Packaging: 2 promoters and 2 detractors name it (too few)."""
    counts = {"a_nps_2": 20, "a_nps_10": 40, "xa_nps_2_delivery_shipping": 20}
    counts |= {"xa_nps_10_packaging": 2, "xa_nps_2_packaging": 2}
    return counts


def _digest(week: dict[str, int], before: dict[str, int]):  # type: ignore[no-untyped-def]
    return build_digest("Juniper & Moss", END, []).model_copy(
        update={
            "drivers": drivers(_quarter()),
            "service": service_kpis(week, *WEEK, 24.0),
            "service_previous": service_kpis(before, *BEFORE, 24.0),
        }
    )


WEEK_COUNTS = {"k_open": 10, "k_openc": 10, "k_rc": 1, "k_fr_90": 9, "k_fr_3000": 1, "k_frin": 9}
WEEK_COUNTS |= {"k_rs_600": 6, "k_fcr": 5, "k_res0": 1}


def test_the_costliest_themes_with_their_margin_and_n() -> None:
    digest = _digest(WEEK_COUNTS, {})
    lines = driver_lines(digest)
    assert lines[0] == "Delivery & shipping costs 67 NPS points (±24, 20 of 60 answers) — clear"
    assert lines[1] == (
        "Packaging costs 2 NPS points (too few to say how sure, 4 of 60 answers) — could be chance"
    )


def test_the_week_in_one_sentence_and_a_change_within_the_noise_is_said_so() -> None:
    digest = _digest(WEEK_COUNTS, {"k_fr_60": 8, "k_frin": 7})
    line = service_line(digest)
    assert line.startswith("first reply 2 h median, 2 h for 9 in 10 (target 24 h), 10 cases")
    assert "resolved in 10 h median (6 cases, 83% with one reply)" in line
    assert "10% of 10 cases from a customer unhappy again within 30 days" in line
    assert target_change(digest) == "90% replied within target, 88% the week before (within the noise)."
    slower = _digest({"k_fr_90": 3, "k_fr_3000": 7, "k_frin": 3}, {"k_fr_60": 40, "k_frin": 40})
    assert target_change(slower) == "30% replied within target, 100% the week before."


def test_the_email_and_slack_carry_both() -> None:
    digest = _digest(WEEK_COUNTS, {})
    rendered = render_digest(digest)
    for part in (rendered.html, rendered.text):
        assert "Delivery &amp; shipping costs 67 NPS points" in part or "Delivery & shipping costs 67" in part
        assert "first reply 2 h median" in part
    assert "WHAT DRIVES YOUR SCORE (last 13 weeks)" in rendered.text
    assert "HOW FAST YOU CLOSED THE LOOP" in rendered.text
    slack = str(digest_slack(digest))
    assert "*What drives your score* (13 weeks)" in slack and "How fast you closed the loop" in slack
    quiet = render_digest(build_digest("Quiet", END, []))
    assert "WHAT DRIVES YOUR SCORE" not in quiet.text and "What drives your score" not in quiet.html
