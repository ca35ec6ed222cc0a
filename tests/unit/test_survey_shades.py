"""NPS and CSAT score buttons shade from red (worst) to green (best), in the e-mail and on the answer
pages, with readable text on each and the end labels in words for readers who cannot tell the colours
apart; CES keeps the brand colour; the logo shows when set."""

from __future__ import annotations

import colorsys
import re

import pytest

from services.feedback.domain.surveys.programme import LANGUAGES, SCALES, SurveyType
from services.feedback.domain.surveys.views import Page, PageView
from services.feedback.rendering import end_labels, relative_luminance, render_email, render_page
from tests.unit.test_rendering import LOGO, email, parse, scale, score_links

pytestmark = pytest.mark.unit

SHADED = (SurveyType.NPS, SurveyType.CSAT)


def _style(value: str, prop: str) -> str:
    found = re.search(rf"(?:^|;){prop}:(#[0-9a-f]{{6}})", value)
    assert found, (prop, value)
    return found.group(1)


def _hue(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _email_buttons(survey_type: SurveyType, language: str = "en") -> list[tuple[str, str]]:
    tree = parse(render_email(email(survey_type=survey_type, language=language)).html)
    links = score_links(tree, survey_type)
    assert len(links) == SCALES[survey_type][1] - SCALES[survey_type][0] + 1
    return [(_style(a.attrs["style"], "background-color"), _style(a.attrs["style"], "color")) for a in links]


@pytest.mark.parametrize("survey_type", SHADED)
def test_the_scale_runs_from_red_to_green(survey_type: SurveyType) -> None:
    shades = [bg for bg, _ in _email_buttons(survey_type)]
    hues = [_hue(c) for c in shades]
    assert hues[0] < 15 or hues[0] > 340, ("the lowest score is red", shades[0])
    assert 90 <= hues[-1] <= 160, ("the highest score is green", shades[-1])
    # Never back towards red on the way up: hue (red 0 → green ~140) does not fall.
    unwrapped = [h - 360 if h > 300 else h for h in hues]
    assert unwrapped == sorted(unwrapped), shades
    assert len(set(shades)) == len(shades)


def test_nps_shades_its_three_groups_as_readers_expect() -> None:
    hues = [_hue(bg) for bg, _ in _email_buttons(SurveyType.NPS)]
    detractors, passives, promoters = hues[:7], hues[7:9], hues[9:]
    assert all(h < 25 or h > 340 for h in detractors)  # red to red-orange
    assert all(25 <= h < 60 for h in passives)  # amber
    assert all(90 <= h <= 160 for h in promoters)  # green


@pytest.mark.parametrize("survey_type", list(SurveyType))
def test_every_button_text_is_readable_on_its_shade(survey_type: SurveyType) -> None:
    for background, ink in _email_buttons(survey_type):
        assert _contrast(background, ink) >= 4.5, (background, ink)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("survey_type", SHADED)
def test_the_ends_are_labelled_in_words(survey_type: SurveyType, language: str) -> None:
    html = render_email(email(survey_type=survey_type, language=language)).html
    low, high = end_labels(language, survey_type)
    first, last = SCALES[survey_type]
    assert f"{first} — {low}" in html and f"{last} — {high}" in html


def test_ces_keeps_the_brand_colour() -> None:
    assert {bg for bg, _ in _email_buttons(SurveyType.CES)} == {"#1f6feb"}


@pytest.mark.parametrize("survey_type", SHADED)
def test_the_answer_pages_shade_the_same(survey_type: SurveyType) -> None:
    view = PageView(survey_type=survey_type, question="Q?", scale=scale(survey_type), score=None)
    html = render_page(Page.CHOOSE, view)
    page = re.findall(r'style="background:(#[0-9a-f]{6});color:(#[0-9a-f]{6})"', html)
    assert page == _email_buttons(survey_type)


def test_the_logo_shows_when_set_and_the_name_when_not() -> None:
    with_logo = parse(render_email(email(logo_url=LOGO)).html)
    images = [e for e in with_logo.all("img") if e.attrs.get("src") == LOGO]
    assert len(images) == 1 and images[0].attrs["alt"] == "Acme"
    without = render_email(email()).html
    assert "<img" not in without and ">Acme</p>" in without
