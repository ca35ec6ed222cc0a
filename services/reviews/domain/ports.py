"""The reviews service's interfaces: HTTP for connectors, the store, credentials, the clock."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.reviews.domain.model import SourceItem, StoredReview


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        import json

        from services.reviews.domain.errors import Malformed

        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise Malformed(f"not JSON ({e.__class__.__name__}): {self.body[:80]!r}", self.status) from e


class Http(Protocol):
    """One HTTP exchange; no retries here (the connectors' limits module decides)."""

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> Response: ...


@dataclass(frozen=True)
class Connection:
    """A shop's link to one source: its settings (ids, brand terms) and its credentials."""

    shop_id: str
    source: str
    settings: Mapping[str, str] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)


class Connector(Protocol):
    """One source. ``pull`` yields items newest first and stops by itself once it has passed
    ``since`` (the stored high-water mark; None: a first pull, bounded by ``max_items``)."""

    source: str

    def pull(
        self, connection: Connection, since: datetime | None, max_items: int
    ) -> Iterator[SourceItem]: ...

    def reply(self, connection: Connection, review: StoredReview, text: str) -> None:
        """Post (or replace) the owner's public reply; raises Unsupported where the source has none."""
        ...

    def check(self, connection: Connection) -> str:
        """One cheap authenticated call; a line for `cxloop reviews connect` to print."""
        ...
