"""`cxloop reviews import FILE --source S`: reviews exported from any platform as CSV.

A row that cannot be read is reported with its line and the rest is read, so one bad row never sinks
an import of thousands. Without an id column the id is a digest of the row's text, date and author, so
importing the same file twice stores each review once.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import ValidationError

from services.reviews.connectors.google import STARS
from services.reviews.domain.model import MAX_TEXT, Source, SourceItem

SOURCE_NAME = re.compile(r"[a-z0-9_-]{1,32}")
BOM = "\ufeff"


# The column names of the usual exports, matched ignoring case, spaces and punctuation ("Review Created
# (UTC)" is reviewcreatedutc), in order of preference. Sources (docs/decisions.md, 80):
# - Judge.me's review CSV: title, body, rating, review_date, reviewer_name (reviewer_email is not read).
# - Yotpo's: Review Title, Review Content, Review Score, Date, Display Name (Yotpo's moderation page
#   names the parts Star Rating, Review Title, Review Content, User Name).
# - Trustpilot: its review fields (stars, title, text, createdAt, the consumer's displayName), the names
#   its API gives and the exports' "Review ..." forms of them.
# - Google: Takeout's (Data Portability) review CSVs: creation_time, title, comment, rating; Business
#   Profile's review fields: starRating (ONE..FIVE), comment, createTime, reviewer displayName.
ALIASES: dict[str, tuple[str, ...]] = {
    "text": ("text", "body", "reviewbody", "reviewcontent", "content", "reviewtext", "review", "comment"),
    "rating": ("rating", "reviewscore", "reviewstars", "stars", "starrating", "reviewrating", "score"),
    "date": ("reviewdate", "createdat", "reviewcreatedutc", "reviewcreated", "creationtime", "createtime",
             "date", "datecreated", "publishedat", "created"),
    "author": ("reviewername", "displayname", "consumername", "reviewerdisplayname", "author",
               "reviewer", "username", "customername", "nickname", "name"),
    "title": ("title", "reviewtitle", "headline", "summary"),
    "id": ("id", "reviewid"),
    "url": ("url", "reviewurl", "link", "reviewlink"),
}  # fmt: skip
FIELDS = tuple(ALIASES)


@dataclass(frozen=True)
class Columns:
    """The file's column names (matched ignoring case and surrounding spaces); None: recognised by the
    usual names of the common exports (ALIASES), or absent. ``rating_scale`` is the top of the file's
    rating scale."""

    text: str | None = None
    id: str | None = None
    rating: str | None = None
    rating_scale: int = 5
    date: str | None = None
    author: str | None = None
    title: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if self.rating_scale < 1:
            raise ValueError(f"rating_scale must be a positive number, not {self.rating_scale}")

    def named(self) -> dict[str, str]:
        return {f: name for f in FIELDS if (name := getattr(self, f)) is not None}


@dataclass(frozen=True)
class RowError:
    line: int  # the file's line where the row starts (the header is line 1)
    reason: str


class _Bad(ValueError):
    """A cell that cannot be read; becomes the row's RowError."""


def read_csv(stream: IO[str], source_name: str, columns: Columns) -> Iterator[SourceItem | RowError]:
    """Items and row errors in file order (see ``open_csv``)."""
    return open_csv(stream, source_name, columns)[1]


def open_csv(
    stream: IO[str], source_name: str, columns: Columns
) -> tuple[dict[str, str], Iterator[SourceItem | RowError]]:
    """The columns read (field → the file's name for it), then items and row errors in file order.
    Open the file with ``newline=""`` (the csv module's rule) so a line break inside a quoted review stays
    in the text. A bad header raises ValueError."""
    if not SOURCE_NAME.fullmatch(source_name):
        raise ValueError(f"source name {source_name!r}: use 1-32 of a-z, 0-9, _ and -")
    reader = csv.reader(stream)
    header = [name.removeprefix(BOM).strip() for name in next(reader, [])]
    index = _header(header, columns)
    return {field: header[i] for field, i in index.items()}, _rows(reader, index, len(header), source_name,
                                                                   columns.rating_scale)  # fmt: skip


def _rows(
    reader: Any, index: dict[str, int], width: int, source_name: str, scale: int
) -> Iterator[SourceItem | RowError]:
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            if reader.line_num < line:  # the reader could not move on
                return
            yield RowError(line, f"not CSV: {e}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        result: SourceItem | RowError
        try:
            result = _item(_cells(row, index, width), source_name, scale)
        except (_Bad, ValidationError) as e:
            result = RowError(line, str(e) if isinstance(e, _Bad) else _first(e))
        yield result


def _header(found: list[str], columns: Columns) -> dict[str, int]:
    """Each field's position: the column named for it (a missing one is the whole file's error, not a
    row's), else the first of its usual names the file has. A file needs words or stars."""
    position: dict[str, int] = {}
    for i, name in enumerate(found):
        position.setdefault(name.casefold(), i)
    loose: dict[str, int] = {}
    for i, name in enumerate(found):
        loose.setdefault(_loose(name), i)
    named = columns.named()
    index: dict[str, int] = {}
    for field in FIELDS:
        if field in named:
            name = named[field]
            if name.strip().casefold() not in position:
                listed = ", ".join(found) or "(none)"
                raise ValueError(f"no {field} column {name!r}; the columns are: {listed}")
            index[field] = position[name.strip().casefold()]
        elif (at := next((loose[a] for a in ALIASES[field] if a in loose), None)) is not None:
            index[field] = at
    if "text" not in index and "rating" not in index:
        raise ValueError(
            f"no column of review text or rating; the columns are: {', '.join(found) or '(none)'} "
            "(name them with --text-column and --rating-column)"
        )
    return index


def _loose(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.casefold())


def _cells(row: list[str], index: Mapping[str, int], width: int) -> dict[str, str]:
    """Short rows read as empty cells; filled cells past the header mean the columns slipped
    (an unquoted comma in the text), and a slipped row would store the wrong words."""
    if any(cell.strip() for cell in row[width:]):
        raise _Bad(f"{len(row)} cells but the header has {width} (is a comma in the text unquoted?)")
    return {field: row[i].strip() if i < len(row) else "" for field, i in index.items()}


def _item(cells: Mapping[str, str], source_name: str, scale: int) -> SourceItem:
    """A review with stars and no words is kept (its rating counts; nothing is read into it)."""
    text, title = cells.get("text", ""), cells.get("title") or None
    rating = _rating(cells.get("rating", ""), scale)
    if not text and not title and rating is None:
        raise _Bad("no text and no rating")
    published = _date(cells.get("date", ""))
    author = cells.get("author") or None
    own_id = cells.get("id") or _digest(text, published, author, [] if text else [title, rating])
    return SourceItem(
        source=Source.CSV,
        source_id=f"{source_name}:{own_id}",
        text=text[:MAX_TEXT],
        title=title,
        rating=rating,
        rating_scale=scale if rating is not None else None,
        author=author,
        url=_url(cells.get("url", "")),
        published_at=published,
    )


def _rating(value: str, scale: int) -> float | None:
    if not value:
        return None
    if value in STARS:  # Google's starRating enum: FIVE
        return float(STARS[value])
    try:
        rating = float(value.replace(",", "."))  # 4,5 from a European spreadsheet
    except ValueError:
        raise _Bad(f"rating {value!r} is not a number") from None
    if not math.isfinite(rating) or not 0 <= rating <= scale:
        raise _Bad(f"rating {value!r} is outside 0-{scale}")
    return rating


def _date(value: str) -> datetime | None:
    """ISO 8601 or YYYY-MM-DD, also with a trailing "UTC" (Judge.me's 2025-03-02 10:12:00 UTC); a time
    without a zone is taken as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(re.sub(r"\s*(UTC|GMT)$", "+00:00", value, flags=re.IGNORECASE))
    except ValueError:
        raise _Bad(f"date {value!r} is not ISO 8601 (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _url(value: str) -> str | None:
    if not value:
        return None
    if not value.lower().startswith(("https://", "http://")):
        raise _Bad(f"url {value[:80]!r} is not http(s)")
    return value


def _digest(text: str, published: datetime | None, author: str | None, more: list[object]) -> str:
    """The id of a row without one; a star-only review adds its title and stars (``more``)."""
    content = [text, published.isoformat() if published else "", author or "", *more]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:24]


def _first(error: ValidationError) -> str:
    first = error.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
