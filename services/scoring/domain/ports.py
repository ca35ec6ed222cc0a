"""What the scoring service needs from the outside world, as small interfaces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from services.scoring.domain.taxonomy import Taxonomy


class TaxonomyStore(Protocol):
    def get(self, shop_id: str) -> Taxonomy | None: ...
    def put(self, shop_id: str, taxonomy: Taxonomy) -> None: ...
    def delete(self, shop_id: str) -> None: ...


class Publisher(Protocol):
    def publish(
        self, detail_type: str, shop_id: str, detail: dict[str, Any], correlation_id: str
    ) -> None: ...


class LanguageIdentifier(Protocol):
    """Ranks languages for each text: (ISO 639 code, probability) pairs, likeliest first."""

    def rank(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]: ...
