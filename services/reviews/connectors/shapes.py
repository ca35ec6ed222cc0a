"""What every connector does the same way: read the sources' JSON strictly (an object where an object
is documented, an ISO time where a time is; anything else is Malformed, named after the source, so a
changed API fails loudly), and walk pages newest first within a pull's bounds."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from services.reviews.domain.errors import Malformed
from services.reviews.domain.model import SourceItem


def obj(value: Any, source: str) -> Mapping[str, Any]:
    """An object, or {} where the field is absent (null)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{source}: expected an object, got {type(value).__name__}")
    return value


def when(value: Any, source: str) -> datetime | None:
    """ISO 8601 (``Z`` or an offset); a time without a zone is taken as UTC; absent or "" is None."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Malformed(f"{source}: a time that is not a string: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise Malformed(f"{source}: not an ISO time: {value!r}") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def bounded(
    pages: Iterator[list[SourceItem]], since: datetime | None, max_items: int
) -> Iterator[SourceItem]:
    """Newest first until ``since`` is passed or ``max_items`` are out, each id once per pull."""
    seen: set[str] = set()
    if max_items <= 0:
        return
    mark = since.replace(tzinfo=since.tzinfo or UTC) if since is not None else None
    for page in pages:
        if page and all(item.source_id in seen for item in page):
            return  # a page with nothing new: the source repeats itself, asking on would loop
        for item in page:
            if mark is not None and item.moment is not None and item.moment <= mark:
                return
            if item.source_id in seen:
                continue  # the list moved under the pages (a new review shifted it by one)
            seen.add(item.source_id)
            yield item
            if len(seen) >= max_items:
                return
