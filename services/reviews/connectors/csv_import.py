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
from typing import IO

from pydantic import ValidationError

from services.reviews.domain.model import MAX_TEXT, Source, SourceItem

SOURCE_NAME = re.compile(r"[a-z0-9_-]{1,32}")
BOM = "\ufeff"


@dataclass(frozen=True)
class Columns:
    """The file's column names (matched ignoring case and surrounding spaces); None: not in the file.
    ``rating_scale`` is a number, the top of the file's rating scale."""

    text: str = "text"
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
        fields = ("text", "id", "rating", "date", "author", "title", "url")
        return {f: name for f in fields if (name := getattr(self, f)) is not None}


@dataclass(frozen=True)
class RowError:
    line: int  # the file's line where the row starts (the header is line 1)
    reason: str


class _Bad(ValueError):
    """A cell that cannot be read; becomes the row's RowError."""


def read_csv(stream: IO[str], source_name: str, columns: Columns) -> Iterator[SourceItem | RowError]:
    """Items and row errors in file order. Open the file with ``newline=""`` (the csv module's rule)
    so a line break inside a quoted review stays in the text. A bad header raises ValueError."""
    if not SOURCE_NAME.fullmatch(source_name):
        raise ValueError(f"source name {source_name!r}: use 1-32 of a-z, 0-9, _ and -")
    reader = csv.reader(stream)
    header = next(reader, [])
    index = _header(header, columns)
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
            result = _item(_cells(row, index, len(header)), source_name, columns.rating_scale)
        except (_Bad, ValidationError) as e:
            result = RowError(line, str(e) if isinstance(e, _Bad) else _first(e))
        yield result


def _header(names: list[str], columns: Columns) -> dict[str, int]:
    """Each wanted field's position; a missing column is the whole file's error, not a row's."""
    found = [name.removeprefix(BOM).strip() for name in names]
    position: dict[str, int] = {}
    for i, name in enumerate(found):
        position.setdefault(name.casefold(), i)
    index: dict[str, int] = {}
    for field, name in columns.named().items():
        if name.strip().casefold() not in position:
            raise ValueError(f"no {field} column {name!r}; the columns are: {', '.join(found) or '(none)'}")
        index[field] = position[name.strip().casefold()]
    return index


def _cells(row: list[str], index: Mapping[str, int], width: int) -> dict[str, str]:
    """Short rows read as empty cells; filled cells past the header mean the columns slipped
    (an unquoted comma in the text), and a slipped row would store the wrong words."""
    if any(cell.strip() for cell in row[width:]):
        raise _Bad(f"{len(row)} cells but the header has {width} (is a comma in the text unquoted?)")
    return {field: row[i].strip() if i < len(row) else "" for field, i in index.items()}


def _item(cells: Mapping[str, str], source_name: str, scale: int) -> SourceItem:
    text = cells["text"]
    if not text:
        raise _Bad("no text")
    rating = _rating(cells.get("rating", ""), scale)
    published = _date(cells.get("date", ""))
    author = cells.get("author") or None
    own_id = cells.get("id") or _digest(text, published, author)
    return SourceItem(
        source=Source.CSV,
        source_id=f"{source_name}:{own_id}",
        text=text[:MAX_TEXT],
        title=cells.get("title") or None,
        rating=rating,
        rating_scale=scale if rating is not None else None,
        author=author,
        url=_url(cells.get("url", "")),
        published_at=published,
    )


def _rating(value: str, scale: int) -> float | None:
    if not value:
        return None
    try:
        rating = float(value.replace(",", "."))  # 4,5 from a European spreadsheet
    except ValueError:
        raise _Bad(f"rating {value!r} is not a number") from None
    if not math.isfinite(rating) or not 0 <= rating <= scale:
        raise _Bad(f"rating {value!r} is outside 0-{scale}")
    return rating


def _date(value: str) -> datetime | None:
    """ISO 8601 or YYYY-MM-DD; a time without a zone is taken as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"date {value!r} is not ISO 8601 (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _url(value: str) -> str | None:
    if not value:
        return None
    if not value.lower().startswith(("https://", "http://")):
        raise _Bad(f"url {value[:80]!r} is not http(s)")
    return value


def _digest(text: str, published: datetime | None, author: str | None) -> str:
    content = [text, published.isoformat() if published else "", author or ""]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:24]


def _first(error: ValidationError) -> str:
    first = error.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
