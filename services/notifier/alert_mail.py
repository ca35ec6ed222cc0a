"""An alert batch as an e-mail the owner reads on a phone: each alert as a card with what the customer
wrote, the score on its scale (or the review's stars), the order, and one button to act on it.

Built like the survey e-mail (tables for layout, inline styles, 600 px at most and fluid below, a text
part beside the HTML), so it reads the same in Gmail, Outlook and Apple Mail. Links are buttons, never
written out in the HTML: a signed link is 150 characters with no place to break. The text part is the
batch as ``slack_messages.plain_message`` writes it (links in full: a text part has no buttons).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.notifier.domain.model import MAX_SAMPLES, Alert, AlertBatch
from services.notifier.domain.rules import SCORE_LABELS
from services.notifier.domain.slack_messages import headline, more_count, plain_message
from shared import templates
from shared.mail.message import RenderedMail

TEMPLATES = Path(__file__).resolve().parent / "templates"
# (lowest, highest) of each survey's scale, as the survey asks it.
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
STARS = 5


@dataclass(frozen=True)
class AlertCard:
    title: str
    score: str  # "NPS 3 of 10", "2 of 5 stars", or ""
    unhappy: bool  # the score is a detractor's, or the stars are low: shown in red
    order: str
    comment: str
    button: str  # the one action's label ("" when there is nothing to open)
    url: str


def score_text(alert: Alert) -> str:
    """The score on its scale, so the owner need not know what "CES 6" means."""
    if alert.score is not None and alert.survey_type in SCALES:
        top = SCALES[alert.survey_type][1]
        return f"{SCORE_LABELS[alert.survey_type]} {alert.score} of {top}"
    if alert.rating is not None:
        scale = STARS if alert.rating <= STARS else 10
        return f"{alert.rating:g} of {scale} stars"
    return ""


def _card(alert: Alert) -> AlertCard:
    linkable = [u for u in (alert.approve_url, alert.url) if u and u.startswith(("https://", "http://"))]
    button = ""
    if linkable:
        button = "Open the case and reply" if linkable[0] == alert.approve_url else "Open the review"
    title = " ".join(alert.title.split()) or "(untitled)"
    return AlertCard(
        title=title,
        score=score_text(alert),
        unhappy=alert.score is not None or alert.rating is not None,
        order="" if alert.order_name in title else alert.order_name,  # the title may name it already
        comment=" ".join(alert.text.split()),
        button=button,
        url=linkable[0] if linkable else "",
    )


def render_alert_mail(shop_name: str, destination: str, batch: AlertBatch) -> RenderedMail:
    plain = plain_message(batch)
    subject = f"[{shop_name}] {plain.subject}"
    context = {
        "subject": subject,
        "shop_name": shop_name,
        "destination": destination,
        "headline": headline(batch),
        "cards": [_card(a) for a in batch.samples[:MAX_SAMPLES]],
        "more": more_count(batch),
    }
    environment = templates.environment(TEMPLATES)
    return RenderedMail(
        subject=subject,
        html=environment.get_template("alerts.html").render(context),
        text=plain.text,
    )
