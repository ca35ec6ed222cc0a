"""One label per theme, everywhere: the catalogue of theme ids and the words an owner reads for them.

The scoring service sorts feedback into theme ids (``delivery_shipping``); the dashboard, the digest,
the alerts, the API and the CLI show each id by the label here, so the owner sees one name for one
theme wherever they look (and a filter offers the same names). A shop's own taxonomy may add ids this
catalogue does not know: they read as the id in words ("late_flight" → "Late flight").
"""

from __future__ import annotations

# The presets' themes (services/scoring/domain/taxonomy.py: ecommerce, restaurant, airline).
LABELS: dict[str, str] = {
    "delivery_shipping": "Delivery & shipping",
    "product_quality": "Product quality",
    "price_value": "Price & value",
    "customer_service": "Customer service",
    "website_checkout": "Website & checkout",
    "packaging": "Packaging",
    "returns_refunds": "Returns & refunds",
    "size_fit": "Size & fit",
    "communication": "Communication",
    "food": "Food",
    "service": "Service",
    "ambience": "Ambience",
    "price": "Price",
    "late_flight": "Late flight",
    "lost_luggage": "Lost luggage",
    "cancelled_flight": "Cancelled flight",
    "bad_flight": "Bad flight",
    "booking_problems": "Booking problems",
    "flight_attendants": "Flight attendants",
    "long_lines": "Long lines",
    "damaged_luggage": "Damaged luggage",
}


def theme_label(theme: str) -> str:
    """The label of a theme id; an id the catalogue does not know, in words."""
    return LABELS.get(theme) or theme.replace("_", " ").strip().capitalize()


def theme_id(given: str, known: set[str] | frozenset[str] | None = None) -> str | None:
    """The id meant by ``given``, an id or its label as shown (any case, spaces or _): None if it is
    neither an id of ``known`` (default: the catalogue) nor the label of one."""
    ids = set(LABELS) if known is None else set(known)
    raw = given.strip()
    if raw in ids:
        return raw
    folded = " ".join(raw.replace("_", " ").split()).casefold()
    return next((i for i in sorted(ids) if theme_label(i).casefold() == folded), None)
