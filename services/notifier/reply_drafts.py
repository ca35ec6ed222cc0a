"""Replies to unhappy customers, drafted from jinja2 templates with their name, their order and what
they complained about (the negative themes the scoring service read in their comment)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from services.notifier.domain.model import Case
from shared import templates

if TYPE_CHECKING:
    import jinja2

# Theme ids of the built-in taxonomies → how a person would say it. Unknown ids read as their words.
COMPLAINTS = {
    "delivery_shipping": "the delivery",
    "product_quality": "the quality of what you received",
    "price_value": "the value for money",
    "customer_service": "how our service treated you",
    "website_checkout": "the trouble with our website",
    "packaging": "the packaging",
    "returns_refunds": "the return and refund",
    "size_fit": "the size and fit",
    "communication": "how we kept you informed",
    "food": "the food",
    "service": "the service",
    "ambience": "the atmosphere",
    "price": "the price",
}


@dataclass(frozen=True)
class Draft:
    subject: str
    text: str
    html: str


def _env() -> jinja2.Environment:
    return templates.environment(Path(__file__).resolve().parent / "templates")


def complaint(themes: list[str]) -> str:
    """'the delivery and the packaging' from the case's negative themes (at most two, as people say it)."""
    phrases = [COMPLAINTS.get(t, t.replace("_", " ")) for t in themes][:2]
    return " and ".join(phrases)


def _context(case: Case, shop_name: str, signature: str) -> dict[str, object]:
    comment = " ".join((case.comment or "").split())
    return {
        "first_name": (case.first_name or "").strip() or None,
        "order_name": case.order_name or case.order_id,
        "complaint": complaint(case.negative_themes),
        "comment": comment if len(comment) <= 300 else comment[:299] + "…",
        "shop_name": shop_name,
        "signature": signature or shop_name,
    }


def draft(case: Case, shop_name: str, signature: str = "") -> Draft:
    """The reply for a case: an e-mail to the customer, or the public answer to a review. ``shop_name``
    is the brand the customer knows; a public answer names no address (anyone can read it)."""
    context = _context(case, shop_name, signature)
    if case.subject == "mention":
        text = _env().get_template("review_reply.txt").render(context).strip() + "\n"
        return Draft(subject="", text=text, html="")
    order = context["order_name"]
    subject = f"About your order {order}" if order else f"Your feedback to {shop_name}"
    text = _env().get_template("reply.txt").render(context)
    return Draft(subject=subject, text=text, html=html_of(subject, text))


def html_of(subject: str, text: str) -> str:
    """The HTML part of a reply as written (or edited by the owner): its paragraphs, escaped."""
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    return _env().get_template("reply.html").render(subject=subject, paragraphs=paragraphs)
