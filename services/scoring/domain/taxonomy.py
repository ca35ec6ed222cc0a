"""Theme taxonomies: which themes a shop's feedback is sorted into, and the words that name them.

A theme is found where one of its keywords occurs (whole tokens, any case, simple plurals added). A
taxonomy may also name a classifier trained on labelled data (``restaurant``: SemEval-2014 aspect
categories; ``airline``: complaint reasons); its labels add themes the keywords miss. A shop without a
taxonomy of its own gets ``ecommerce``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

THEME_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_THEMES = 40
MAX_KEYWORDS = 400


class Theme(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    keywords: tuple[str, ...] = ()
    # The classifier's label that means this theme, if the taxonomy has a classifier.
    label: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not THEME_ID.match(value):
            raise ValueError(
                "a theme id is lower-case letters, digits and _ (at most 40), starting with a letter"
            )
        return value

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(" ".join(k.lower().split()) for k in value if k.strip()))
        if len(cleaned) > MAX_KEYWORDS:
            raise ValueError(f"at most {MAX_KEYWORDS} keywords per theme")
        return cleaned


class Taxonomy(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    themes: tuple[Theme, ...] = Field(min_length=1, max_length=MAX_THEMES)
    # A text classifier shipped in the model (its component name), used beside the keywords.
    classifier: str | None = None

    @field_validator("themes")
    @classmethod
    def _unique(cls, value: tuple[Theme, ...]) -> tuple[Theme, ...]:
        ids = [t.id for t in value]
        if len(set(ids)) != len(ids):
            raise ValueError("theme ids must be unique")
        if not any(t.keywords or t.label for t in value):
            raise ValueError("at least one theme needs keywords")
        return value

    def theme_for_label(self, label: str) -> str | None:
        for theme in self.themes:
            if theme.label == label:
                return theme.id
        return None


ECOMMERCE = Taxonomy(
    name="ecommerce",
    themes=(
        Theme(
            id="delivery_shipping",
            keywords=(
                "delivery",
                "delivered",
                "deliver",
                "shipping",
                "shipped",
                "ship",
                "shipment",
                "arrived",
                "arrive",
                "arrival",
                "courier",
                "postman",
                "post office",
                "dispatch",
                "dispatched",
                "tracking",
                "tracking number",
                "transit",
                "on time",
                "late",
                "delayed",
                "delay",
                "fedex",
                "ups",
                "usps",
                "dhl",
                "royal mail",
                "took weeks",
                "came quickly",
                "fast delivery",
                "quick delivery",
                "next day",
                "never arrived",
                "never received",
                "lost in the post",
            ),
        ),
        Theme(
            id="product_quality",
            keywords=(
                "quality",
                "material",
                "fabric",
                "stitching",
                "seam",
                "seams",
                "broke",
                "broken",
                "ripped",
                "torn",
                "tear",
                "durable",
                "sturdy",
                "flimsy",
                "cheaply made",
                "well made",
                "faulty",
                "defective",
                "works",
                "worked",
                "stopped working",
                "doesn't work",
                "does not work",
                "build",
                "craftsmanship",
                "finish",
                "scratched",
                "cracked",
                "fell apart",
                "battery",
                "performance",
                "product",
            ),
        ),
        Theme(
            id="price_value",
            keywords=(
                "price",
                "priced",
                "pricing",
                "expensive",
                "cheap",
                "cheaper",
                "overpriced",
                "value",
                "value for money",
                "worth",
                "worth it",
                "money",
                "cost",
                "costs",
                "affordable",
                "bargain",
                "deal",
                "discount",
                "sale",
                "rip off",
                "rip-off",
            ),
        ),
        Theme(
            id="customer_service",
            keywords=(
                "customer service",
                "customer support",
                "support",
                "service",
                "staff",
                "helpful",
                "unhelpful",
                "rude",
                "polite",
                "friendly",
                "agent",
                "representative",
                "rep",
                "team",
                "responded",
                "response",
                "resolved",
                "sorted it",
                "went above and beyond",
            ),
        ),
        Theme(
            id="website_checkout",
            keywords=(
                "website",
                "site",
                "web site",
                "checkout",
                "check out",
                "cart",
                "basket",
                "payment",
                "paypal",
                "pay",
                "app",
                "login",
                "log in",
                "account",
                "password",
                "coupon",
                "promo code",
                "discount code",
                "order online",
                "ordering",
                "easy to order",
                "navigate",
                "search",
            ),
        ),
        Theme(
            id="packaging",
            keywords=(
                "packaging",
                "packaged",
                "package",
                "packing",
                "packed",
                "box",
                "boxes",
                "wrapped",
                "wrapping",
                "bubble wrap",
                "parcel",
                "envelope",
                "crushed",
                "dented",
                "plastic",
            ),
        ),
        Theme(
            id="returns_refunds",
            keywords=(
                "return",
                "returns",
                "returned",
                "returning",
                "refund",
                "refunded",
                "refunds",
                "exchange",
                "exchanged",
                "replacement",
                "replaced",
                "money back",
                "store credit",
                "return label",
                "send it back",
                "sent it back",
                "sent back",
            ),
        ),
        Theme(
            id="size_fit",
            keywords=(
                "size",
                "sizes",
                "sizing",
                "fit",
                "fits",
                "fitted",
                "fitting",
                "too small",
                "too big",
                "too large",
                "too tight",
                "too loose",
                "runs small",
                "runs large",
                "true to size",
                "length",
                "tight",
                "loose",
                "waist",
                "small",
                "large",
            ),
        ),
        Theme(
            id="communication",
            keywords=(
                "email",
                "emails",
                "e-mail",
                "update",
                "updates",
                "updated",
                "notification",
                "notified",
                "contact",
                "contacted",
                "reply",
                "replied",
                "no reply",
                "no response",
                "heard back",
                "never heard",
                "communication",
                "communicate",
                "informed",
                "kept me informed",
                "message",
                "phone",
                "call",
                "called",
                "chat",
            ),
        ),
    ),
)

RESTAURANT = Taxonomy(
    name="restaurant",
    classifier="themes_restaurant",
    themes=(
        Theme(
            id="food",
            label="food",
            keywords=(
                "food",
                "dish",
                "dishes",
                "meal",
                "menu",
                "taste",
                "tasty",
                "delicious",
                "flavor",
                "flavour",
                "bland",
                "fresh",
                "portion",
                "portions",
                "pizza",
                "sushi",
                "pasta",
                "dessert",
                "appetizer",
                "entree",
                "chef",
                "cooked",
                "wine",
                "drinks",
                "coffee",
                "bread",
                "salad",
                "chicken",
                "fish",
                "beef",
                "pork",
                "lamb",
                "rice",
                "noodles",
                "soup",
                "sauce",
                "cheese",
                "lobster",
                "duck",
                "shrimp",
                "tuna",
                "steak",
                "dumpling",
                "salmon",
                "seafood",
                "cuisine",
                "spicy",
                "fried",
                "ingredients",
                "roll",
                "sandwich",
                "bagel",
                "beer",
                "sake",
                "dim sum",
                "pad thai",
                "curry",
                "burger",
                "fries",
                "taco",
                "ramen",
                "vegetarian",
                "vegan",
                "cocktail",
                "brunch",
                "breakfast",
                "cake",
                "chocolate",
                "tapas",
                "eggplant",
                "mussels",
                "oysters",
            ),
        ),
        Theme(
            id="service",
            label="service",
            keywords=(
                "service",
                "staff",
                "waitstaff",
                "wait staff",
                "waiter",
                "waitress",
                "server",
                "servers",
                "host",
                "hostess",
                "manager",
                "owner",
                "bartender",
                "rude",
                "attentive",
                "friendly",
                "seated",
                "attitude",
                "treated",
                "promptly",
                "served us",
                "took our order",
            ),
        ),
        Theme(
            id="ambience",
            label="ambience",
            keywords=(
                "ambience",
                "ambiance",
                "atmosphere",
                "decor",
                "decorated",
                "music",
                "noisy",
                "noise",
                "loud",
                "quiet",
                "cozy",
                "cosy",
                "romantic",
                "room",
                "space",
                "seating",
                "view",
                "crowded",
                "vibe",
                "setting",
                "outside",
                "outdoor",
                "outdoors",
                "garden",
                "patio",
                "terrace",
                "interior",
                "cramped",
                "cute",
                "jazz",
                "lighting",
                "candle",
                "hole in the wall",
                "sit outside",
                "feel",
                "scene",
                "comfortable",
                "elegant",
                "classy",
                "trendy",
                "relaxing",
            ),
        ),
        Theme(
            id="price",
            label="price",
            keywords=(
                "price",
                "prices",
                "priced",
                "pricing",
                "expensive",
                "cheap",
                "overpriced",
                "value",
                "worth the money",
                "worth every penny",
                "affordable",
                "cost",
                "reasonable",
                "reasonably",
                "pricey",
                "dollars",
                "$",
                "inexpensive",
                "budget",
                "bucks",
            ),
        ),
    ),
)

AIRLINE = Taxonomy(
    name="airline",
    classifier="themes_airline",
    themes=(
        Theme(id="late_flight", label="Late Flight", keywords=("delayed", "delay", "late", "on time")),
        Theme(
            id="customer_service",
            label="Customer Service Issue",
            keywords=("customer service", "hold", "on hold", "agent", "call back", "rude"),
        ),
        Theme(id="lost_luggage", label="Lost Luggage", keywords=("lost luggage", "lost bag", "lost my bag")),
        Theme(
            id="cancelled_flight",
            label="Cancelled Flight",
            keywords=("cancelled", "canceled", "cancelled flight"),
        ),
        Theme(id="bad_flight", label="Bad Flight", keywords=("seat", "seats", "wifi", "legroom")),
        Theme(
            id="booking_problems",
            label="Flight Booking Problems",
            keywords=("booking", "book", "reservation", "website", "rebook", "change fee"),
        ),
        Theme(
            id="flight_attendants",
            label="Flight Attendant Complaints",
            keywords=("flight attendant", "flight attendants", "crew"),
        ),
        Theme(id="long_lines", label="longlines", keywords=("line", "lines", "queue")),
        Theme(id="damaged_luggage", label="Damaged Luggage", keywords=("damaged", "broken bag", "ripped")),
    ),
)

PRESETS = {t.name: t for t in (ECOMMERCE, RESTAURANT, AIRLINE)}
DEFAULT = ECOMMERCE
