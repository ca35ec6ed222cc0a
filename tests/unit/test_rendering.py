"""The survey e-mail and the answer pages: links, languages, escaping, structure, contrast."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest

from services.feedback import rendering
from services.feedback.domain.surveys.programme import LANGUAGES, SCALES, SurveyType
from services.feedback.domain.surveys.views import InvitationEmail, Page, PageView, ScoreLink
from services.feedback.rendering import end_labels, render_email, render_page, text_colour

pytestmark = pytest.mark.unit

# `&` in every URL: the HTML must escape it (and the parser unescape it), the text part must not.
URL = "https://fb.example/r/tok.en-{s}?score={s}&src=mail"
UNSUBSCRIBE = "https://fb.example/u/tok.un?a=1&b=2"
FORM_ACTION = "https://fb.example/r/tok.en?x=1&y=2"
LOGO = "https://cdn.example/logo.png"
PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
ESCAPED = {
    PAYLOADS[0]: "&lt;script&gt;alert(1)&lt;/script&gt;",
    PAYLOADS[1]: "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;",
}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
PAGES = [p for p in Page if p is not Page.NOT_FOUND]


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    ancestors: tuple[int, ...]
    text: str = ""


class Tree(HTMLParser):
    """Every element with its attributes, its ancestors (indices) and the text inside it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.data: list[str] = []
        self._open: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}, tuple(self._open)))
        if tag not in VOID:
            self._open.append(len(self.elements) - 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}, tuple(self._open)))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self.elements[self._open.pop()].tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self.data.append(data)
        for i in self._open:
            self.elements[i].text += data

    def all(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e for e in self.elements if e.tag == tag and all(e.attrs.get(k) == v for k, v in attrs.items())
        ]

    def inside(self, outer: Element, tag: str) -> list[Element]:
        index = self.elements.index(outer)
        return [e for e in self.elements if e.tag == tag and index in e.ancestors]

    @property
    def text(self) -> str:
        return " ".join("".join(self.data).split())


def parse(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    tree.close()
    return tree


def scale(survey_type: SurveyType) -> list[ScoreLink]:
    low, high = SCALES[survey_type]
    return [ScoreLink(score=s, url=URL.format(s=s)) for s in range(low, high + 1)]


def email(**changes: Any) -> InvitationEmail:
    values: dict[str, Any] = {
        "survey_type": SurveyType.NPS,
        "question": "How likely are you to recommend Acme to a friend or colleague?",
        "first_name": "Jane",
        "order_name": "#1042",
        "brand_name": "Acme",
        "unsubscribe_url": UNSUBSCRIBE,
    }
    values.update(changes)
    values.setdefault("scale", scale(values["survey_type"]))
    return InvitationEmail(**values)


def page_view(**changes: Any) -> PageView:
    values: dict[str, Any] = {
        "survey_type": SurveyType.NPS,
        "question": "How likely are you to recommend Acme to a friend or colleague?",
        "brand_name": "Acme",
        "score": 7,
        "follow_up_question": "What could we do better?",
        "comment": "The parcel was late.",
        "follow_up_answer": "Faster shipping.",
        "form_action": FORM_ACTION,
        "max_comment_chars": 500,
    }
    values.update(changes)
    values.setdefault("scale", scale(values["survey_type"]) if values["survey_type"] else [])
    return PageView(**values)


def score_links(tree: Tree, survey_type: SurveyType) -> list[Element]:
    urls = {link.url for link in scale(survey_type)}
    return [a for a in tree.all("a") if a.attrs.get("href") in urls]


def style_px(element: Element, prop: str) -> int:
    found = re.search(rf"(?:^|;)\s*{prop}\s*:\s*(\d+)px", element.attrs.get("style", ""))
    assert found, f"{prop} not set in px on {element}"
    return int(found.group(1))


def assert_inert(html: str, logo: str | None = None) -> Tree:
    """No script, no event handler, no image but the logo: whatever the view held stayed text."""
    tree = parse(html)
    assert tree.all("script") == []
    assert [img.attrs.get("src") for img in tree.all("img")] == ([logo] if logo else [])
    handlers = [(e.tag, name) for e in tree.elements for name in e.attrs if name.startswith("on")]
    assert handlers == []
    for payload in PAYLOADS:
        assert payload not in html
    return tree


# --------------------------------------------------------------------------------------------- e-mail


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("survey_type", list(SurveyType))
def test_email_has_one_link_per_score_with_exact_urls(survey_type: SurveyType, language: str) -> None:
    rendered = render_email(email(survey_type=survey_type, language=language))
    tree = parse(rendered.html)

    hrefs = [a.attrs["href"] for a in tree.all("a")]
    assert hrefs == [link.url for link in scale(survey_type)] + [UNSUBSCRIBE]
    low_score, high_score = SCALES[survey_type]
    links = score_links(tree, survey_type)
    assert [a.text.strip() for a in links] == [str(s) for s in range(low_score, high_score + 1)]
    low, high = end_labels(language, survey_type)
    assert links[0].attrs["aria-label"] == f"{low_score} — {low}"
    assert links[-1].attrs["aria-label"] == f"{high_score} — {high}"
    for a in links[1:-1]:
        assert a.attrs["aria-label"].startswith(a.text.strip() + " ")
    # The end labels are visible text too, not only in the accessible names.
    assert f"{low_score} — {low}" in tree.text
    assert f"{high_score} — {high}" in tree.text
    unsubscribe = tree.all("a", href=UNSUBSCRIBE)[0]
    assert unsubscribe.text.strip() == rendering.STRINGS[language]["unsubscribe"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("survey_type", list(SurveyType))
def test_text_part_lists_every_url_and_the_unsubscribe_url(survey_type: SurveyType, language: str) -> None:
    view = email(survey_type=survey_type, language=language)
    text = render_email(view).text
    lines = text.splitlines()

    for link in view.scale:
        line = next(line for line in lines if line.endswith(" " + link.url))
        assert line.startswith(f"{link.score}")
    low, high = end_labels(language, survey_type)
    low_score, high_score = SCALES[survey_type]
    assert any(line.startswith(f"{low_score} ({low})") for line in lines)
    assert any(line.startswith(f"{high_score} ({high})") for line in lines)
    assert any(line.endswith(" " + UNSUBSCRIBE) for line in lines)
    assert view.question in lines
    assert "&amp;" not in text and "<" not in text


@pytest.mark.parametrize(
    ("survey_type", "low", "high"),
    [
        (SurveyType.NPS, "0 — Not at all likely", "10 — Extremely likely"),
        (SurveyType.CSAT, "1 — Very dissatisfied", "5 — Very satisfied"),
        (SurveyType.CES, "1 — Very little effort", "7 — A great deal of effort"),
    ],
)
def test_english_end_labels(survey_type: SurveyType, low: str, high: str) -> None:
    links = score_links(parse(render_email(email(survey_type=survey_type)).html), survey_type)
    assert (links[0].attrs["aria-label"], links[-1].attrs["aria-label"]) == (low, high)


@pytest.mark.parametrize(
    ("language", "named", "neutral"),
    [("en", "Hi Jane,", "Hello,"), ("de", "Hallo Jane,", "Guten Tag,"), ("fr", "Bonjour Jane,", "Bonjour,")],
)
def test_greeting_uses_the_first_name_when_given(language: str, named: str, neutral: str) -> None:
    with_name = render_email(email(language=language))
    assert named in parse(with_name.html).text
    assert with_name.text.splitlines()[0] == named
    for first_name in (None, "", "   "):
        without = render_email(email(language=language, first_name=first_name))
        assert without.text.splitlines()[0] == neutral
        assert neutral in parse(without.html).text
        assert "Jane" not in without.html


def test_the_order_is_named_and_the_question_is_the_heading() -> None:
    view = email()
    rendered = render_email(view)
    tree = parse(rendered.html)
    assert "about your order #1042" in tree.text
    assert "about your order #1042" in rendered.text
    assert [h.text for h in tree.all("h1")] == [view.question]
    no_order = render_email(email(order_name=""))
    assert "#" not in no_order.subject
    assert no_order.subject == "Quick question from Acme"


@pytest.mark.parametrize("language", LANGUAGES)
def test_reminder_has_its_own_subject_and_intro(language: str) -> None:
    first = render_email(email(language=language))
    reminder = render_email(email(language=language, reminder=True))
    assert first.subject != reminder.subject
    assert "#1042" in first.subject and "#1042" in reminder.subject
    assert first.text.splitlines()[2] != reminder.text.splitlines()[2]
    if language == "en":
        assert first.subject == "Quick question about your order #1042"
        assert reminder.subject.startswith("Reminder: ")


@pytest.mark.parametrize("reminder", [False, True])
@pytest.mark.parametrize("language", LANGUAGES)
def test_subject_is_one_line_even_if_the_order_name_is_not(language: str, reminder: bool) -> None:
    view = email(language=language, reminder=reminder, order_name="#1042\r\nBcc: victim@example.com\n")
    subject = render_email(view).subject
    assert "\n" not in subject and "\r" not in subject
    assert "#1042 Bcc: victim@example.com" in subject
    assert subject == subject.strip()


def test_email_layout_for_mail_clients() -> None:
    view = email(logo_url=LOGO, language="de")
    tree = parse(render_email(view).html)

    assert tree.all("html")[0].attrs["lang"] == "de"
    tables = tree.all("table")
    assert tables and all(t.attrs.get("role") == "presentation" for t in tables)
    assert any("max-width:600px" in e.attrs.get("style", "") for e in tables)
    preheader = next(e for e in tree.all("div") if "display:none" in e.attrs.get("style", ""))
    assert preheader.text.startswith(view.question)
    assert tree.elements.index(preheader) < tree.elements.index(tree.all("h1")[0])
    # Styles are inline: the only <style> is the small progressive media query.
    for style in tree.all("style"):
        assert style.text.strip().startswith("@media")
    (logo,) = tree.all("img")
    assert logo.attrs["alt"] == "Acme"
    assert logo.attrs["src"] == LOGO


def test_no_logo_shows_the_brand_name_and_a_non_https_logo_is_dropped() -> None:
    for logo_url in (None, "http://cdn.example/logo.png", "javascript:alert(1)"):
        tree = parse(render_email(email(logo_url=logo_url)).html)
        assert tree.all("img") == []
        assert "Acme" in tree.text


def test_score_buttons_are_big_enough_and_the_nps_row_fits_a_phone() -> None:
    tree = parse(render_email(email(survey_type=SurveyType.NPS)).html)
    links = score_links(tree, SurveyType.NPS)
    for a in links:
        assert style_px(a, "width") >= 36
        assert style_px(a, "height") >= 36
        assert "display:inline-block" in a.attrs["style"]
    # The buttons wrap in whole groups: none wider than a 320px phone leaves (2 x 8px of padding on the
    # page and on the cell), and together they still make one row of 11 within 600px.
    groups = [e for e in tree.elements if e.tag == "div" and "white-space:nowrap" in e.attrs.get("style", "")]
    assert len(groups) >= 2
    per_group = [len([a for a in tree.inside(g, "a") if a in links]) for g in groups]
    assert sum(per_group) == 11
    step = style_px(links[0], "width") + 2 * style_px(links[0], "margin")
    assert max(per_group) * step <= 320 - 4 * 8
    assert 11 * step <= 600 - 2 * 8


@pytest.mark.parametrize(("colour", "ink"), [("#ffff00", "#000000"), ("#1f2937", "#ffffff")])
def test_button_text_contrasts_with_the_brand_colour(colour: str, ink: str) -> None:
    """CES buttons wear the brand colour (NPS and CSAT shade red to green: see test_survey_shades)."""
    assert text_colour(colour) == ink
    tree = parse(render_email(email(colour=colour, survey_type=SurveyType.CES)).html)
    for a in score_links(tree, SurveyType.CES):
        style = a.attrs["style"]
        assert f"background-color:{colour}" in style
        assert f"color:{ink}" in style.replace("background-color", "")
    assert f"--on-brand:{ink}" in render_page(Page.CHOOSE, page_view(colour=colour))


def test_text_colour_picks_the_higher_contrast() -> None:
    assert text_colour("#ffffff") == "#000000"
    assert text_colour("#000000") == "#ffffff"
    assert text_colour("#1f6feb") == "#ffffff"  # the default brand colour keeps white text
    assert text_colour("#FFD700") == "#000000"


def test_a_brand_colour_that_is_not_a_colour_never_reaches_the_css() -> None:
    evil = "red;background:url(https://evil.example/x)"
    html = render_email(email(colour=evil)).html
    assert "evil.example" not in html
    assert "evil.example" not in render_page(Page.ANSWER, page_view(colour=evil))


# ------------------------------------------------------------------------------------------- escaping


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_the_email_view_is_escaped_in_html_and_verbatim_in_text(payload: str) -> None:
    view = email(first_name=payload, order_name=payload, question=payload, brand_name=payload, logo_url=LOGO)
    rendered = render_email(view)

    tree = assert_inert(rendered.html, logo=LOGO)
    assert ESCAPED[payload] in rendered.html
    assert payload in tree.text  # shown as typed
    assert tree.all("img")[0].attrs["alt"] == payload
    assert rendered.text.splitlines()[0] == rendering.STRINGS["en"]["greeting_named"].format(name=payload)
    assert f"your order {payload}" in rendered.text
    assert payload in rendered.text.splitlines()
    assert payload in rendered.subject


@pytest.mark.parametrize("page", list(Page))
@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_a_page_view_is_escaped(page: Page, payload: str) -> None:
    view = page_view(
        comment=payload,
        follow_up_answer=payload,
        question=payload,
        follow_up_question=payload,
        brand_name=payload,
        score=None if page is Page.CHOOSE else 7,
    )
    html = render_page(page, view)
    tree = assert_inert(html)
    if page is Page.NOT_FOUND:
        assert "alert(1)" not in html
        return
    assert ESCAPED[payload] in html
    assert payload in tree.text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_comment_is_shown_back_as_typed(payload: str) -> None:
    comment = f"Line one\n{payload}\nLine three"
    tree = parse(render_page(Page.COMMENTED, page_view(comment=comment)))
    quotes = [q.text for q in tree.all("blockquote")]
    assert comment in quotes
    answer = parse(render_page(Page.ANSWER, page_view(comment=comment)))
    assert answer.all("textarea", name=rendering.COMMENT_FIELD)[0].text == comment


# --------------------------------------------------------------------------------------------- pages


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("page", list(Page))
def test_every_page_is_a_complete_accessible_document(page: Page, language: str) -> None:
    view = page_view(language=language)
    tree = parse(render_page(page, view))

    html = tree.all("html")
    assert len(html) == 1 and html[0].attrs.get("lang")
    if page is not Page.NOT_FOUND:
        assert html[0].attrs["lang"] == language
    viewport = tree.all("meta", name="viewport")
    assert len(viewport) == 1 and "width=device-width" in viewport[0].attrs["content"]
    assert len(tree.all("main")) == 1
    headings = tree.inside(tree.all("main")[0], "h1")
    assert len(headings) == 1 and headings[0].text.strip()
    labels = {label.attrs.get("for"): label.text.strip() for label in tree.all("label")}
    for textarea in tree.all("textarea"):
        assert labels.get(textarea.attrs["id"]), f"textarea {textarea.attrs} has no label"
        assert textarea.attrs["maxlength"] == "500"
        note = tree.all("p", id=textarea.attrs["aria-describedby"])[0]
        assert "500" in note.text
    # Nothing is fetched from anywhere: no stylesheets, scripts, images or fonts.
    assert tree.all("link") == [] and tree.all("script") == [] and tree.all("img") == []
    assert "@import" not in "".join(s.text for s in tree.all("style"))
    assert "url(" not in "".join(s.text for s in tree.all("style"))


def test_answer_page_has_the_comment_and_the_follow_up_question_as_labelled_fields() -> None:
    tree = parse(render_page(Page.ANSWER, page_view(comment=None, follow_up_answer=None)))
    (form,) = tree.all("form")
    assert form.attrs["method"] == "post" and form.attrs["action"] == FORM_ACTION
    names = [t.attrs["name"] for t in tree.inside(form, "textarea")]
    assert names == [rendering.COMMENT_FIELD, rendering.FOLLOW_UP_FIELD]
    labels = {label.attrs["for"]: label.text for label in tree.all("label")}
    follow_up = tree.all("textarea", name=rendering.FOLLOW_UP_FIELD)[0]
    assert "What could we do better?" in labels[follow_up.attrs["id"]]
    assert "Up to 500 characters." in tree.text
    assert tree.inside(form, "button")[0].attrs["type"] == "submit"

    without = parse(render_page(Page.ANSWER, page_view(follow_up_question=None)))
    assert [t.attrs["name"] for t in without.all("textarea")] == [rendering.COMMENT_FIELD]


@pytest.mark.parametrize("score", [0, 7, 10])
def test_answer_page_thanks_and_marks_the_current_score(score: int) -> None:
    tree = parse(render_page(Page.ANSWER, page_view(score=score)))
    assert tree.all("h1")[0].text == f"Thanks — you answered {score}"
    links = score_links(tree, SurveyType.NPS)
    assert [a.attrs["href"] for a in links] == [link.url for link in scale(SurveyType.NPS)]
    current = [a for a in links if a.attrs.get("aria-current") == "true"]
    assert [a.attrs["href"] for a in current] == [URL.format(s=score)]
    assert "10 — Extremely likely" in tree.text


@pytest.mark.parametrize("survey_type", list(SurveyType))
def test_choose_page_shows_the_question_and_the_scale(survey_type: SurveyType) -> None:
    view = page_view(survey_type=survey_type, score=None, question="How was it?")
    tree = parse(render_page(Page.CHOOSE, view))
    assert tree.all("h1")[0].text == "How was it?"
    links = score_links(tree, survey_type)
    assert [a.attrs["href"] for a in links] == [link.url for link in scale(survey_type)]
    assert not any("aria-current" in a.attrs for a in links)
    low, high = end_labels("en", survey_type)
    assert low in tree.text and high in tree.text


def test_commented_page_says_when_the_answer_was_already_complete() -> None:
    done = parse(render_page(Page.COMMENTED, page_view()))
    again = parse(render_page(Page.COMMENTED, page_view(already_complete=True)))
    assert rendering.STRINGS["en"]["already_complete"] in again.text
    assert rendering.STRINGS["en"]["already_complete"] not in done.text
    assert "The parcel was late." in done.text and "Faster shipping." in done.text
    bare = parse(render_page(Page.COMMENTED, page_view(comment=None, follow_up_answer=None)))
    assert bare.all("blockquote") == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_unsubscribe_page_posts_one_click_to_the_form_action(language: str) -> None:
    tree = parse(render_page(Page.UNSUBSCRIBE, PageView(form_action=FORM_ACTION, language=language)))
    (form,) = tree.all("form")
    assert form.attrs["method"].lower() == "post"
    assert form.attrs["action"] == FORM_ACTION
    hidden = tree.inside(form, "input")
    assert [(i.attrs["type"], i.attrs["name"], i.attrs["value"]) for i in hidden] == [
        ("hidden", "List-Unsubscribe", "One-Click")
    ]
    (button,) = tree.inside(form, "button")
    assert button.attrs["type"] == "submit"
    assert button.text.strip() == rendering.STRINGS[language]["unsubscribe_button"]


def test_unsubscribed_page_confirms() -> None:
    tree = parse(render_page(Page.UNSUBSCRIBED, PageView(brand_name="Acme", language="fr")))
    assert tree.all("h1")[0].text == "Vous êtes désabonné(e)"
    assert "Acme" in tree.text
    assert tree.all("form") == []


def test_not_found_is_one_page_whatever_the_view() -> None:
    one = render_page(Page.NOT_FOUND, PageView())
    other = render_page(
        Page.NOT_FOUND,
        page_view(language="de", brand_name="Secret Shop", colour="#ffff00", form_action="https://x/r/T0K3N"),
    )
    assert one == other
    assert "Secret Shop" not in other and "T0K3N" not in other
    tree = parse(one)
    assert "This link is not valid or has expired." in tree.text
    assert tree.all("form") == [] and tree.all("a") == []


# ------------------------------------------------------------------------------------- strings, import


def test_every_language_has_every_string() -> None:
    keys = set(rendering.STRINGS["en"])
    assert set(rendering.STRINGS) == set(LANGUAGES)
    for language, strings in rendering.STRINGS.items():
        assert set(strings) == keys, language
        assert all(value.strip() for value in strings.values()), language
    for survey_type in SurveyType:
        labels = {end_labels(language, survey_type) for language in LANGUAGES}
        assert len(labels) == len(LANGUAGES), survey_type


def test_an_unknown_language_falls_back_to_english() -> None:
    rendered = render_email(email(language="xx"))
    assert rendered.subject == "Quick question about your order #1042"
    assert parse(rendered.html).all("html")[0].attrs["lang"] == "en"


def test_import_is_cheap() -> None:
    probe = (
        "import json, sys; import services.feedback.rendering, shared.templates as t; "
        "print(json.dumps(['jinja2' in sys.modules, t.environment.cache_info().currsize]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, 0]
