"""The digest as an e-mail (HTML, text, charts as inline PNGs) and as a Slack message."""

from __future__ import annotations

import base64
import json
import random
import re
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from services.notifier.digest_charts import WIDTH, Chart, render_charts
from services.notifier.domain.digest import AtRisk, Digest, build_digest
from services.notifier.domain.digest_slack import FIELD_CHARS, HEADER_CHARS, SECTION_CHARS, digest_slack
from services.notifier.domain.model import Case, CaseStatus, Mention, SurveyAnswer
from services.notifier.rendering import RenderedDigest, content_id, preview_html, render_digest
from shared.mail.message import CONTENT_ID, InlineImage
from shared.sentiment import Label, Sentiment, ThemeScore

END = datetime(2026, 11, 23, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
THEMES = ("delivery_shipping", "product_quality", "customer_service", "packaging", "price_value", "size_fit")
NEGATIVE = (
    "My parcel arrived a week late and the box was crushed. Nobody answered my e-mail for three days, "
    "which is not what I expect after paying for express shipping.",
    "The jacket's zip broke on the second day. I would like a refund please.",
    "Sizes run small; I had to send it back and the return label cost me money.",
)
POSITIVE = (
    "Lovely quality, fast delivery and the packaging was beautiful — will order again!",
    "Customer service sorted out my wrong size within a day. Great people.",
)
NAMES = ("Ana", "Ben", "Chloé", "Dev", "Emma", "Farid", "Greta", "Hugo", "Inès", "Jon")


def _label(score: int) -> Label:
    return "positive" if score >= 9 else "negative" if score <= 6 else "neutral"


def _answers(rnd: random.Random) -> list[SurveyAnswer]:
    answers = []
    for week in range(8):
        for i in range(rnd.randint(24, 40)):
            at = END - timedelta(days=7 * week + rnd.uniform(0, 7))
            score = (
                rnd.choice((10, 10, 9, 9, 9, 8, 8, 7, 6, 4, 2))
                if week
                else rnd.choice((10, 10, 9, 9, 8, 7, 3))
            )
            label = _label(score)
            comment = (
                rnd.choice(NEGATIVE if label == "negative" else POSITIVE) if label != "neutral" else None
            )
            answers.append(
                SurveyAnswer(
                    invite_id=f"nps-{week}-{i}",
                    revision=1,
                    survey_type="nps",
                    score=score,
                    answered_at=at,
                    comment=comment if rnd.random() < 0.6 else None,
                    first_name=rnd.choice(NAMES),
                    order_name=f"#{1000 + 40 * week + i}",
                    sentiment=Sentiment(label=label, score=0.0, confidence=round(rnd.uniform(0.6, 0.99), 2)),
                    themes=[ThemeScore(theme=rnd.choice(THEMES), sentiment=label, score=0.0)],
                )
            )
        for kind, scale in (("csat", (5, 5, 5, 4, 4, 3, 2)), ("ces", (1, 2, 2, 3, 3, 4, 6))):
            for i in range(rnd.randint(6, 14)):
                at = END - timedelta(days=7 * week + rnd.uniform(0, 7))
                answers.append(
                    SurveyAnswer(
                        invite_id=f"{kind}-{week}-{i}",
                        revision=1,
                        survey_type=kind,
                        score=rnd.choice(scale),
                        answered_at=at,
                    )
                )
    return answers


def _mentions(rnd: random.Random) -> list[Mention]:
    mentions = []
    for week in range(2):
        for i in range(rnd.randint(9, 15)):
            rating = rnd.choice((5, 5, 5, 4, 4, 3, 2, 1))
            label: Label = "positive" if rating >= 4 else "negative" if rating <= 2 else "neutral"
            mentions.append(
                Mention(
                    mention_id=f"m-{week}-{i}",
                    revision=1,
                    source=rnd.choice(("google", "trustpilot", "trustpilot", "app_store")),
                    rating=rating,
                    url=f"https://www.trustpilot.com/reviews/{week}-{i}",
                    excerpt=rnd.choice(NEGATIVE if label == "negative" else POSITIVE),
                    sentiment=Sentiment(label=label, score=0.0, confidence=round(rnd.uniform(0.6, 0.99), 2)),
                    themes=[ThemeScore(theme=rnd.choice(THEMES), sentiment=label, score=0.0)],
                    scored_at=END - timedelta(days=7 * week + rnd.uniform(0, 7)),
                )
            )
    return mentions


def _cases() -> list[Case]:
    cases = []
    for i, (days_ago, replied_after) in enumerate(
        ((9, None), (4, None), (3.5, None), (5, 3), (2, 30), (1, 8))
    ):
        opened = END - timedelta(days=days_ago)
        review = i % 2 == 0
        cases.append(
            Case(
                case_id=f"case-{i}",
                shop_id="shop-1",
                subject="mention" if review else "response",
                subject_id=f"s-{i}",
                status=CaseStatus.OPEN if replied_after is None else CaseStatus.REPLIED,
                opened_at=opened,
                target_at=opened + timedelta(hours=24),
                first_reply_at=opened + timedelta(hours=replied_after) if replied_after else None,
                first_name=None if review else NAMES[i],
                survey_type=None if review else "nps",
                score=None if review else 2,
                comment=NEGATIVE[i % 3],
                order_name="" if review else f"#15{i:02d}",
                source="trustpilot" if review else None,
                rating=1.0 if review else None,
                url=f"https://www.trustpilot.com/reviews/case-{i}" if review else None,
            )
        )
    return cases


AT_RISK = [
    AtRisk(
        name="Margaret O'Neill",
        risk=0.86,
        spend_year=1240.5,
        reasons=["later than their usual reorder interval", "their last survey score was low"],
    ),
    AtRisk(name="Tom Becker", risk=0.79, spend_year=860.0, reasons=["an unresolved case"]),
    AtRisk(
        name="Yuki Tanaka",
        risk=0.74,
        spend_year=2310.0,
        reasons=["complaints in their feedback", "a long time since the last order"],
    ),
]


def realistic_digest(shop_name: str = "Juniper & Moss") -> Digest:
    """Eight weeks of a small shop's answers, two of reviews, a handful of cases (seeded: always the same)."""
    rnd = random.Random(7)
    return build_digest(
        shop_name,
        END,
        _answers(rnd),
        _mentions(rnd),
        _cases(),
        sent={"nps": 210, "csat": 80, "ces": 60},
        sent_previous={"nps": 190, "csat": 70},
        at_risk=AT_RISK,
        currency="EUR",
    )


@cache
def realistic() -> tuple[Digest, dict[str, Chart], RenderedDigest]:
    digest = realistic_digest()
    charts = render_charts(digest)
    return digest, charts, render_digest(digest, charts)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, which must come first."""
    signature, _length, chunk, width, height = struct.unpack(">8sI4sII", data[:24])
    assert signature == PNG_SIGNATURE
    assert chunk == b"IHDR"
    return width, height


# ----------------------------------------------------------------------------------------------- e-mail


def test_html_and_text_carry_the_figures() -> None:
    digest, _charts, rendered = realistic()
    nps, csat, ces = digest.scores
    assert nps.score is not None and csat.score is not None and ces.score is not None
    assert nps.interval is not None
    figures = [
        f"{nps.score:.0f}",
        f"{csat.score:.0f}%",
        f"{ces.score:.1f}",
        f"{nps.n} answers",
        f"{nps.response_rate:.0%} of 210 invited",
        f"95% range {nps.interval.low:.0f} to {nps.interval.high:.0f}",
        f"{digest.reviews.total} new reviews",
        "16\u201322 Nov 2026",
        "Margaret O",
        "€1,240",
    ]
    for part in (rendered.html, rendered.text):
        for figure in figures:
            assert figure in part, figure
        for theme in digest.themes:
            assert theme.label.split(" ")[0] in part
        for case in digest.cases.overdue:
            assert case.who in part
    ampersand = next(t.label for t in digest.themes if "&" in t.label)
    assert ampersand.replace("&", "&amp;") in rendered.html and ampersand in rendered.text
    assert "Juniper &amp; Moss" in rendered.html
    assert rendered.subject.startswith("Juniper & Moss, 16\u201322 Nov 2026: NPS ")
    assert "\n" not in rendered.subject


def test_every_cid_has_its_png_and_every_png_is_shown() -> None:
    digest, charts, rendered = realistic()
    assert set(charts) == {"trend", "themes", "ratings"}
    assert charts["trend"].width == charts["themes"].width == WIDTH
    shown = {content_id(digest, name): chart for name, chart in charts.items()}
    cids = re.findall(r'src="cid:([^"]+)"', rendered.html)
    images = {image.content_id: image for image in rendered.images}
    assert sorted(cids) == sorted(images)
    for image in rendered.images:
        assert re.fullmatch(CONTENT_ID, image.content_id)
        width, height = png_size(image.png)
        assert width == 2 * shown[image.content_id].width and height > 100
        assert len(image.png) < 60_000  # a palette PNG: small enough for any inbox
        assert image.filename.endswith(".png")
        InlineImage(
            content_id=image.content_id, filename=image.filename, data=image.png
        )  # the mailer's shape
    for tag in re.findall(r"<img [^>]+>", rendered.html):
        cid = re.search(r'src="cid:([^"]+)"', tag)
        assert cid and f'width="{shown[cid.group(1)].width}"' in tag, tag
        assert re.search(r'alt="[^"]{20,}"', tag), tag


def test_the_html_is_self_contained() -> None:
    html = realistic()[2].html
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert all(src.startswith("cid:") for src in re.findall(r'src="([^"]*)"', html))
    assert all(href.startswith("https://") for href in re.findall(r'href="([^"]*)"', html))
    assert "max-width:600px" in html and 'name="viewport"' in html


def test_preview_swaps_cids_for_data_uris() -> None:
    rendered = realistic()[2]
    preview = preview_html(rendered)
    assert "cid:" not in preview
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', preview)
    assert sorted(base64.b64decode(u) for u in uris) == sorted(i.png for i in rendered.images)


def test_comments_are_escaped_in_html_and_verbatim_in_text() -> None:
    evil = '<script>alert("x")</script> & <b>bold</b>'
    answer = SurveyAnswer(
        invite_id="i",
        revision=1,
        survey_type="nps",
        score=0,
        answered_at=END - timedelta(days=1),
        comment=evil,
        first_name="<img src=x onerror=alert(1)>",
        sentiment=Sentiment(label="negative", score=-0.9, confidence=0.9),
    )
    rendered = render_digest(build_digest("Shop <b>", END, [answer]))
    assert (
        "<script>" not in rendered.html and "<img src=x" not in rendered.html and "<b>" not in rendered.html
    )
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in rendered.html
    assert evil in rendered.text
    assert "Shop &lt;b&gt;" in rendered.html


def test_an_empty_week_renders_without_charts() -> None:
    digest = build_digest("Quiet Shop", END, [])
    assert render_charts(digest) == {}
    rendered = render_digest(digest, render_charts(digest))
    assert rendered.images == [] and "cid:" not in rendered.html
    assert "No themes this week." in rendered.html and "No themes this week." in rendered.text
    assert "No customers answered surveys, no new reviews came in" in rendered.text
    assert rendered.subject == "Quiet Shop, 16\u201322 Nov 2026: no new reviews"


def test_charts_are_deterministic() -> None:
    digest = realistic()[0]
    first, second = render_charts(digest), render_charts(digest)
    assert {k: c.png for k, c in first.items()} == {k: c.png for k, c in second.items()}
    assert b"tEXt" not in first["trend"].png and b"tIME" not in first["trend"].png


def test_importing_the_digest_loads_neither_matplotlib_nor_jinja2() -> None:
    """Other notifier handlers import this package: its charts and templates load at the first use only."""
    probe = (
        "import json, sys\n"
        "import services.notifier.digest_charts, services.notifier.rendering\n"
        "import services.notifier.domain.digest, services.notifier.domain.digest_slack\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    roots = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert {"matplotlib", "jinja2", "PIL", "numpy"}.isdisjoint(roots)


# ------------------------------------------------------------------------------------------------ Slack


def _texts(block: dict[str, object]) -> list[str]:
    found = []
    for key in ("text", "fields", "elements"):
        value = block.get(key)
        items = value if isinstance(value, list) else [value] if value else []
        found += [item["text"] for item in items if isinstance(item, dict)]
    return found


def test_slack_summary_within_block_kit_limits() -> None:
    digest = realistic()[0]
    payload = digest_slack(digest)
    blocks = payload["blocks"]
    assert 0 < len(blocks) <= 50
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= HEADER_CHARS
    body = json.dumps(payload, ensure_ascii=False)
    assert "*NPS*" in body and ("▲" in body or "▼" in body)
    assert f"*Cases past target*: {digest.cases.overdue_total}" in body
    assert f"*Customers at risk of leaving*: {digest.at_risk_total}" in body
    assert "Margaret" not in body  # names of customers at risk stay out of the channel
    assert re.search("`[▁▂▃▄▅▆▇█ ]{8}`", body)
    assert payload["text"].startswith("Juniper &amp; Moss, 16\u201322 Nov 2026: NPS ")
    for block in blocks:
        for text in _texts(block):
            assert len(text) <= SECTION_CHARS


def test_slack_escapes_and_cuts_whatever_it_is_given() -> None:
    theme = ThemeScore(theme="x" * 40, sentiment="negative", score=-1)
    answers = [
        SurveyAnswer(
            invite_id=f"i{i}",
            revision=1,
            survey_type=kind,
            score=1,
            answered_at=END - timedelta(days=1),
            themes=[theme],
        )
        for i, kind in enumerate(("nps", "csat", "ces"))
    ]
    digest = build_digest("<!channel> & " + "Shop " * 100, END, answers)
    payload = digest_slack(digest)
    mrkdwn = json.dumps(
        [payload["text"], *(text for block in payload["blocks"][1:] for text in _texts(block))]
    )
    assert "<!channel>" not in mrkdwn and "&lt;!channel&gt; &amp; " in payload["text"]
    assert len(payload["blocks"][0]["text"]["text"]) <= HEADER_CHARS
    fields = payload["blocks"][2]["fields"]
    assert len(fields) == 3 and all(len(f["text"]) <= FIELD_CHARS for f in fields)


def test_slack_for_an_empty_week() -> None:
    payload = digest_slack(build_digest("Quiet Shop", END, []))
    body = json.dumps(payload, ensure_ascii=False)
    assert "every case had its first reply in time" in body
    assert "fields" not in body


@pytest.mark.parametrize("limit", [10, 50])
def test_slack_fit_never_breaks_an_entity(limit: int) -> None:
    from services.notifier.domain.digest_slack import fit

    text = "a &amp; b &lt; c " * 20
    cut = fit(text, limit)
    assert len(cut) <= limit and cut.endswith("…")
    assert not re.search(r"&[a-z]*…$", cut)


def test_the_at_risk_list_says_money_with_its_currency_the_address_and_when_it_was_computed() -> None:
    """Issue 17 (5): "65 spent this year" had no currency, no address to write to, no time."""
    computed = datetime(2026, 11, 23, 7, 5, tzinfo=UTC)
    lou = AtRisk(name="Lou", risk=0.81, spend_year=160.0, spend_total=320.0, orders=4,
                 email="lou@example.net", reasons=["later than their usual reorder interval"])  # fmt: skip
    digest = build_digest("Blue Kiln", datetime(2026, 11, 23, tzinfo=UTC), [], at_risk=[lou], currency="EUR",
                          at_risk_computed_at=computed, at_risk_valuable_from=120.5)  # fmt: skip
    rendered = render_digest(digest)
    for part in (rendered.text, rendered.html):
        assert "€320 in 4 orders, €160 in the last year" in part
        assert "lou@example.net" in part
        assert "Computed 23 Nov 2026 07:05 UTC, for customers with two orders or more" in part
        assert "€120.50 or more spent (your top quarter)" in part
