"""An alert batch as one Slack message (Block Kit) and as plain text: counts, escaping, links, limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifier.domain.model import MAX_SAMPLES, Alert, AlertBatch, Delivery, RuleKind
from services.notifier.domain.slack_messages import (
    headline,
    mrkdwn_escape,
    plain_message,
    slack_payload,
)

AT = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
APPROVE = "https://feedback.brand.example/approve/shop-a/case-1?t=abc&sig=def"
REVIEW = "https://www.trustpilot.com/reviews/abc123"


def alert(i: int = 0, **changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "shop_id": "shop-a",
        "key": f"detractor#response:inv-{i}",
        "rule": RuleKind.DETRACTOR,
        "delivery": Delivery.HOURLY,
        "at": AT,
        "title": f"NPS 3 from Ana (order #{1040 + i})",
        "text": "The parcel arrived late and damaged.",
    }
    return Alert.model_validate(fields | changes)


def batch(samples: list[Alert], count: int | None = None, **changes: Any) -> AlertBatch:
    fields: dict[str, Any] = {
        "shop_id": "shop-a",
        "destination": "owner-alerts",
        "window": "hourly#2026-11-22T18:00",
        "due_at": AT,
        "count": len(samples) if count is None else count,
        "by_rule": {"detractor": len(samples) if count is None else count},
        "samples": samples,
    }
    return AlertBatch.model_validate(fields | changes)


def of_type(payload: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in payload["blocks"] if b["type"] == kind]


def buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in of_type(payload, "actions") for e in b["elements"]]


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_header_counts_each_rule_in_the_window() -> None:
    samples = [alert(i) for i in range(5)] + [
        alert(9, rule=RuleKind.NEGATIVE_MENTION, title="1★ on Trustpilot")
    ]
    b = batch(samples, count=7, by_rule={"negative_mention": 2, "detractor": 5})
    payload = slack_payload(b)
    header = payload["blocks"][0]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "5 detractors and 2 negative reviews in the last hour"},
    }
    assert payload["text"] == "5 detractors and 2 negative reviews in the last hour"
    assert of_type(payload, "context")[0]["elements"][0]["text"] == "Detractors: 5 · Negative reviews: 2"
    assert of_type(payload, "context")[-1]["elements"][0]["text"] == "… and 1 more"
    titles = [s["text"]["text"].split("\n")[0] for s in of_type(payload, "section")]
    assert titles == [f"*NPS 3 from Ana (order #{1040 + i})*" for i in range(5)] + ["*1★ on Trustpilot*"]


def test_headline_singular_three_rules_and_other_windows() -> None:
    one = batch([alert()], window="daily#2026-11-22")
    assert headline(one) == "1 detractor in the last day"
    three = batch([alert()], count=6, by_rule={"keyword": 1, "detractor": 2, "churn_risk": 3})
    three = three.model_copy(update={"window": "immediate#2026-11-22T18:01"})
    assert headline(three) == (
        "2 detractors, 1 watched-word alert and 3 customers at risk of churn in the last minute"
    )


def test_a_headline_too_long_for_a_header_says_how_many_alerts() -> None:
    by_rule = {kind.value: 11 for kind in RuleKind} | {"x" * 40: 1}
    b = batch([alert()], count=sum(by_rule.values()), by_rule=by_rule)
    expected = f"{11 * len(RuleKind) + 1} alerts in the last hour"
    assert headline(b) == expected
    assert slack_payload(b)["blocks"][0]["text"]["text"] == expected


def test_no_more_line_when_every_alert_is_shown() -> None:
    payload = slack_payload(batch([alert(i) for i in range(3)]))
    assert not any("more" in c["elements"][0]["text"] for c in of_type(payload, "context"))
    assert "more" not in plain_message(batch([alert(i) for i in range(3)])).text


def test_at_most_max_samples_shown_the_rest_counted() -> None:
    b = batch([alert(i) for i in range(MAX_SAMPLES + 4)], count=40)
    payload = slack_payload(b)
    assert len(of_type(payload, "section")) == MAX_SAMPLES
    assert of_type(payload, "context")[-1]["elements"][0]["text"] == f"… and {40 - MAX_SAMPLES} more"


def test_approve_and_review_buttons_carry_their_urls() -> None:
    payload = slack_payload(batch([alert(0, url=REVIEW, approve_url=APPROVE), alert(1)]))
    found = buttons(payload)
    assert [(b["text"]["text"], b["url"]) for b in found] == [
        ("Open review", REVIEW),
        ("Approve reply", APPROVE),
    ]
    assert found[1]["style"] == "primary"
    assert len(of_type(payload, "actions")) == 1  # the second alert has nothing to click


def test_a_url_that_is_not_http_gets_no_button() -> None:
    payload = slack_payload(batch([alert(url="javascript:alert(1)", approve_url="ftp://x.example/a")]))
    assert buttons(payload) == []


def test_user_text_is_escaped_so_it_cannot_mention_or_link() -> None:
    evil = alert(title="<!channel> & <@U123|boss>", text="see <https://evil.example|your bank> > now")
    section = of_type(slack_payload(batch([evil])), "section")[0]["text"]
    assert section == {
        "type": "mrkdwn",
        "text": "*&lt;!channel&gt; &amp; &lt;@U123|boss&gt;*\n"
        ">see &lt;https://evil.example|your bank&gt; &gt; now",
    }
    assert mrkdwn_escape("a&b<c>d") == "a&amp;b&lt;c&gt;d"


def test_long_text_is_shortened_without_cutting_an_entity() -> None:
    b = batch([alert(text="&" * 5000, title="T" * 1000)])
    text = of_type(slack_payload(b), "section")[0]["text"]["text"]
    title, quoted = text.split("\n")
    assert title.startswith("*TTT") and title.endswith("…*") and len(title) <= 302
    assert quoted.startswith(">&amp;") and quoted.endswith("&amp;…")
    assert len(text) <= 3000


def test_plain_message_for_email() -> None:
    samples = [
        alert(0, url=REVIEW, approve_url=APPROVE, text="Late <again> & broken\n\nreally"),
        alert(1, text=""),
    ]
    message = plain_message(batch(samples, count=5))
    assert message.subject == "5 detractors in the last hour"
    assert message.text == (
        "5 detractors in the last hour\n"
        "\n"
        "Detractors: 5\n"
        "\n"
        "- NPS 3 from Ana (order #1040)\n"
        '  "Late <again> & broken really"\n'
        f"  Review: {REVIEW}\n"
        f"  Approve reply: {APPROVE}\n"
        "\n"
        "- NPS 3 from Ana (order #1041)\n"
        "\n"
        "… and 3 more\n"
    )


RULE_KEYS = st.one_of(st.sampled_from([k.value for k in RuleKind]), st.text(max_size=60))
URLS = st.one_of(st.none(), st.just(APPROVE), st.text(max_size=50).map(lambda s: "https://x.example/" + s))
ALERTS = st.builds(
    alert,
    i=st.integers(0, 10_000),
    title=st.text(max_size=4000),
    text=st.text(max_size=8000),
    url=URLS,
    approve_url=URLS,
)


@settings(max_examples=150, deadline=None)
@given(
    samples=st.lists(ALERTS, max_size=MAX_SAMPLES + 3),
    extra=st.integers(0, 10_000),
    by_rule=st.dictionaries(RULE_KEYS, st.integers(0, 10_000), max_size=12),
    window=st.sampled_from(["immediate#t", "hourly#t", "daily#t", "weekly#t", ""]),
)
def test_any_batch_fits_block_kit(
    samples: list[Alert], extra: int, by_rule: dict[str, int], window: str
) -> None:
    b = batch(samples, count=len(samples) + extra, by_rule=by_rule, window=window)
    payload = slack_payload(b)  # to_dict() inside has validated every block against the SDK's limits
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert 0 < utf16(payload["text"]) <= 3000
    assert blocks[0]["type"] == "header" and 0 < utf16(blocks[0]["text"]["text"]) <= 150
    sections = of_type(payload, "section")
    assert len(sections) == min(len(samples), MAX_SAMPLES)
    for s in sections:
        text = s["text"]["text"]
        assert 0 < utf16(text) <= 3000
        # Only the quote marker after the title is ours; everything else of the user's is escaped.
        assert "<" not in text and ">" not in text.replace("*\n>", "", 1)
    for c in of_type(payload, "context"):
        assert utf16(c["elements"][0]["text"]) <= 3000
    more = b.count - min(len(samples), MAX_SAMPLES)
    assert (f"… and {more} more" in plain_message(b).text) == (more > 0)
    subject = plain_message(b).subject
    assert "\n" not in subject and "\r" not in subject
