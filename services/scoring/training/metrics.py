"""Accuracy and F1, as the benchmark and the model card report them (no scikit-learn at runtime)."""

from __future__ import annotations

from collections.abc import Sequence


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    if not gold:
        return 0.0
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def f1(tp: int, fp: int, fn: int) -> float:
    if tp == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> float:
    """The mean F1 over ``labels`` (default: the labels present in ``gold``)."""
    wanted = list(labels) if labels is not None else sorted(set(gold))
    if not wanted:
        return 0.0
    scores = []
    for label in wanted:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        scores.append(f1(tp, fp, fn))
    return sum(scores) / len(scores)


def micro_f1(gold: Sequence[set[str]], predicted: Sequence[set[str]]) -> float:
    """Multi-label: every (text, label) decision pooled."""
    tp = sum(len(g & p) for g, p in zip(gold, predicted, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, predicted, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, predicted, strict=True))
    return f1(tp, fp, fn)
