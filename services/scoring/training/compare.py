"""What a shop's own answers change: the base and the adapted model on the same dev rows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.scoring.training.data import Example, split_of
from services.scoring.training.metrics import accuracy, macro_f1

BINARY = ("positive", "negative")


def binary_scores(model: Path, examples: Sequence[Example]) -> tuple[float, float]:
    """(accuracy, macro-F1) of positive-vs-negative on the examples' own labels."""
    from services.scoring.scorer import Scorer, Text

    scorer = Scorer(model)
    rows = [e for e in examples if e.sentiment in BINARY]
    scored = scorer.score([Text(e.id, e.text) for e in rows])
    predicted = [
        ("positive" if s.sentiment.score >= 0 else "negative") if s.sentiment else "none" for s in scored
    ]
    gold = [str(e.sentiment) for e in rows]
    return accuracy(gold, predicted), macro_f1(gold, predicted, BINARY)


def compare_on_shop(shop_id: str, examples: Sequence[Example], base: Path, adapted: Path) -> list[str]:
    source = f"shop:{shop_id}"
    shop_dev = [e for e in examples if e.source == source and split_of(e.source, e.id) == "dev"]
    pooled_dev = [e for e in examples if e.source != source and split_of(e.source, e.id) == "dev"]
    lines = [f"dev rows: {len(shop_dev)} of the shop's, {len(pooled_dev)} of the public sets"]
    for name, rows in (("shop dev", shop_dev), ("public dev", pooled_dev)):
        if not rows:
            lines.append(f"{name}: no labelled rows")
            continue
        (ba, bf), (aa, af) = binary_scores(base, rows), binary_scores(adapted, rows)
        lines.append(
            f"{name}: base acc {100 * ba:.1f} macro-F1 {100 * bf:.1f}  →  adapted acc {100 * aa:.1f} "
            f"macro-F1 {100 * af:.1f}"
        )
    return lines
