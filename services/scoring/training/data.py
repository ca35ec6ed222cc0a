"""The labelled sets in ``../shared/data``, read into one shape and split the same way on every run.

Splits are by a digest of each row's source and id, never by file order: ``dev`` (15 %) is only ever
evaluated, ``tune`` (10 %) picks the best checkpoint during training, ``train`` (75 %) is learned from.
The shipped model is trained on ``train`` alone, so its dev figures are the ones the model card quotes.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Split = Literal["train", "tune", "dev"]
DEV_PERCENT = 15
TUNE_PERCENT = 10

SENTIMENT_FILES = (
    "uci_amazon",
    "uci_yelp",
    "uci_imdb",
    "amazon_books",
    "amazon_dvd",
    "amazon_electronics",
    "amazon_kitchen",
    "airline_tweets",
)
LABELS = {"pos": "positive", "neg": "negative", "neu": "neutral"}
SEMEVAL_FILES = {"semeval_restaurants": "Restaurants_Train_v2.xml", "semeval_laptops": "Laptop_Train_v2.xml"}
SEMEVAL_POLARITY = {"positive": "positive", "negative": "negative", "neutral": "neutral"}
RESTAURANT_CATEGORIES = ("food", "service", "price", "ambience", "anecdotes/miscellaneous")
AIRLINE_REASONS = (
    "Late Flight",
    "Customer Service Issue",
    "Lost Luggage",
    "Cancelled Flight",
    "Bad Flight",
    "Flight Booking Problems",
    "Flight Attendant Complaints",
    "longlines",
    "Damaged Luggage",
    "Can't Tell",
)


@dataclass(frozen=True)
class Example:
    source: str
    id: str
    text: str
    sentiment: str | None = None  # positive / neutral / negative
    categories: tuple[str, ...] = ()  # restaurant aspect categories
    reason: str | None = None  # airline complaint reason
    three_class: bool = False  # the source labels neutral too
    extra: dict[str, Any] = field(default_factory=dict)


def split_of(source: str, row_id: str) -> Split:
    bucket = int.from_bytes(hashlib.sha256(f"{source}:{row_id}".encode()).digest()[:4], "big") % 100
    if bucket < DEV_PERCENT:
        return "dev"
    if bucket < DEV_PERCENT + TUNE_PERCENT:
        return "tune"
    return "train"


def default_data_dir() -> Path:
    """``../shared/data`` beside the project root (CI and the developers' machines have it)."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def sentiment_rows(data_dir: Path, source: str) -> Iterator[Example]:
    path = data_dir / "sentiment" / f"{source}.train.jsonl"
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            reason = row.get("reason") or None
            yield Example(
                source=source,
                id=str(row["id"]),
                text=row["text"],
                sentiment=LABELS[row["label"]],
                reason=reason if row["label"] == "neg" else None,
                three_class=source == "airline_tweets",
            )


def semeval_rows(data_dir: Path, source: str) -> Iterator[Example]:
    """Sentences with their aspect categories; a sentence-level sentiment where the aspects agree."""
    root = ET.parse(data_dir / "absa" / SEMEVAL_FILES[source]).getroot()  # noqa: S314
    for sentence in root.iter("sentence"):
        text = (sentence.findtext("text") or "").strip()
        categories = tuple(c.get("category", "") for c in sentence.iter("aspectCategory"))
        polarities = {
            p.get("polarity", "")
            for p in [*sentence.iter("aspectCategory"), *sentence.iter("aspectTerm")]
            if p.get("polarity") in SEMEVAL_POLARITY
        }
        conflict = any(
            p.get("polarity") == "conflict"
            for p in [*sentence.iter("aspectCategory"), *sentence.iter("aspectTerm")]
        )
        sentiment = SEMEVAL_POLARITY[polarities.pop()] if len(polarities) == 1 and not conflict else None
        yield Example(
            source=source,
            id=sentence.get("id", ""),
            text=text,
            sentiment=sentiment,
            categories=categories,
            three_class=True,
            extra={
                "terms": "|".join(t.get("term", "") for t in sentence.iter("aspectTerm")),
                "category_polarity": {
                    c.get("category", ""): c.get("polarity", "") for c in sentence.iter("aspectCategory")
                },
            },
        )


def load(data_dir: Path, split: Split | None = None, sources: tuple[str, ...] | None = None) -> list[Example]:
    """Every example (of one split), in a fixed order."""
    wanted = sources or (*SENTIMENT_FILES, *SEMEVAL_FILES)
    examples: list[Example] = []
    for source in wanted:
        rows = semeval_rows(data_dir, source) if source in SEMEVAL_FILES else sentiment_rows(data_dir, source)
        examples.extend(e for e in rows if e.text and (split is None or split_of(e.source, e.id) == split))
    return examples
