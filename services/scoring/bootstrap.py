"""The scoring service's composition root: the model is loaded once per container, on first use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared import aws
from shared.settings import ScoringSettings, load
from shared.wiring import Built

if TYPE_CHECKING:
    from services.scoring.domain.ports import Publisher, TaxonomyStore
    from services.scoring.domain.scoring import Score


@dataclass(frozen=True)
class Scoring:
    score: Score
    taxonomies: TaxonomyStore
    publisher: Publisher
    model_version: str


def build_scoring(settings: ScoringSettings, **overrides: Any) -> Scoring:
    from services.scoring.adapters.dynamo_taxonomies import DynamoTaxonomyStore
    from shared.events import EventBridgePublisher

    scorer = overrides.get("scorer")
    if scorer is None:
        from services.scoring.scorer import MODEL_DIR, Scorer

        scorer = Scorer(Path(settings.model_dir) if settings.model_dir else MODEL_DIR)
    taxonomies = overrides.get("taxonomies") or DynamoTaxonomyStore(
        aws.client("dynamodb", settings.aws), settings.shops_table, settings.taxonomy_cache_seconds
    )
    publisher = overrides.get("publisher") or EventBridgePublisher(
        aws.client("events", settings.aws), settings.event_bus_name, "scoring"
    )
    return Scoring(
        score=scorer.score, taxonomies=taxonomies, publisher=publisher, model_version=scorer.version
    )


scoring: Built[Scoring] = Built(lambda: build_scoring(load(ScoringSettings)))
