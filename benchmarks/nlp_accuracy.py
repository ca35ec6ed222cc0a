"""Accuracy of the committed model next to VADER, on the dev split it never trained on.

    .venv/bin/python benchmarks/nlp_accuracy.py [--model DIR] [--data ../shared/data] [--json out.json]

Per sentiment source: binary accuracy and macro-F1 on the positive/negative rows, and 3-class on sources
that label neutral. Themes: SemEval-2014 restaurant categories (micro-F1, with and without
anecdotes/miscellaneous) and the sentiment of each category found; airline complaint reasons (macro-F1).
A text the model flags as not English counts as wrong. Prints figures and exits 0 whatever they are.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.scoring.domain.taxonomy import AIRLINE, ECOMMERCE, RESTAURANT
from services.scoring.scorer import MODEL_DIR, Scorer
from services.scoring.training.data import (
    AIRLINE_REASONS,
    SEMEVAL_FILES,
    SENTIMENT_FILES,
    Example,
    default_data_dir,
    load,
)
from services.scoring.training.metrics import accuracy, macro_f1, micro_f1

BINARY = ("positive", "negative")
THREE = ("positive", "neutral", "negative")
MISC = "anecdotes/miscellaneous"
VADER_THRESHOLD = 0.05  # VADER's documented cut-off for its compound score


def vader_labels(texts: list[str]) -> list[float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser = SentimentIntensityAnalyzer()
    return [analyser.polarity_scores(t)["compound"] for t in texts]


def sentiment_rows(scorer: Scorer, rows: list[Example]) -> dict[str, object]:
    readings = scorer.score([(e.id, e.text) for e in rows], ECOMMERCE)
    compounds = vader_labels([e.text for e in rows])
    gold = [str(e.sentiment) for e in rows]
    model3 = [r.sentiment.label if r.sentiment else "none" for r in readings]
    model2 = [
        ("positive" if r.sentiment.score >= 0 else "negative") if r.sentiment else "none" for r in readings
    ]
    vader3 = [
        "positive" if c >= VADER_THRESHOLD else "negative" if c <= -VADER_THRESHOLD else "neutral"
        for c in compounds
    ]
    vader2 = ["positive" if c >= VADER_THRESHOLD else "negative" for c in compounds]
    binary = [i for i, g in enumerate(gold) if g in BINARY]
    pick = lambda xs, idx: [xs[i] for i in idx]  # noqa: E731
    result: dict[str, object] = {
        "n": len(rows),
        "n_binary": len(binary),
        "flagged_not_english": sum(1 for r in readings if r.sentiment is None),
        "binary": {
            "model_accuracy": accuracy(pick(gold, binary), pick(model2, binary)),
            "model_macro_f1": macro_f1(pick(gold, binary), pick(model2, binary), BINARY),
            "vader_accuracy": accuracy(pick(gold, binary), pick(vader2, binary)),
            "vader_macro_f1": macro_f1(pick(gold, binary), pick(vader2, binary), BINARY),
        },
    }
    if rows and rows[0].three_class:
        result["three_class"] = {
            "model_accuracy": accuracy(gold, model3),
            "model_macro_f1": macro_f1(gold, model3, THREE),
            "vader_accuracy": accuracy(gold, vader3),
            "vader_macro_f1": macro_f1(gold, vader3, THREE),
        }
    return result


def restaurant_themes(scorer: Scorer, rows: list[Example]) -> dict[str, object]:
    readings = scorer.score([(e.id, e.text) for e in rows], RESTAURANT)
    label_of = {t.id: t.label for t in RESTAURANT.themes}
    gold5 = [set(e.categories) for e in rows]
    pred4 = [{str(label_of[t.theme]) for t in r.themes} for r in readings]
    pred5 = [p if p else {MISC} for p in pred4]
    gold4 = [g - {MISC} for g in gold5]
    # Category sentiment: each gold (category, polarity) whose category the model found.
    polarity_right = polarity_total = 0
    for e, r in zip(rows, readings, strict=True):
        found = {str(label_of[t.theme]): t.sentiment for t in r.themes}
        for category, polarity in e.extra.get("category_polarity", {}).items():
            if category in found and polarity in THREE:
                polarity_total += 1
                polarity_right += found[category] == polarity
    return {
        "n": len(rows),
        "micro_f1_5_categories": micro_f1(gold5, pred5),
        "micro_f1_4_themes": micro_f1(gold4, pred4),
        "category_sentiment_accuracy": polarity_right / polarity_total if polarity_total else 0.0,
        "category_sentiment_n": polarity_total,
    }


def airline_reasons(scorer: Scorer, rows: list[Example]) -> dict[str, object]:
    probabilities = scorer.probabilities([e.text for e in rows], str(AIRLINE.classifier))
    predicted = [max(p, key=lambda k: p[k]) for p in probabilities]
    gold = [str(e.reason) for e in rows]
    return {
        "n": len(rows),
        "macro_f1": macro_f1(gold, predicted, AIRLINE_REASONS),
        "macro_f1_without_cant_tell": macro_f1(
            gold, predicted, [r for r in AIRLINE_REASONS if r != "Can't Tell"]
        ),
        "accuracy": accuracy(gold, predicted),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(MODEL_DIR))
    parser.add_argument("--data", default=str(default_data_dir()))
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "sentiment").is_dir():
        print(f"no labelled data at {data}: this benchmark needs ../shared/data")
        return 0
    started = time.perf_counter()
    scorer = Scorer(Path(args.model))
    dev = load(data, "dev")
    by_source: dict[str, list[Example]] = defaultdict(list)
    for e in dev:
        by_source[e.source].append(e)
    report: dict[str, object] = {"model": scorer.version, "split": "dev", "sentiment": {}}
    sentiment: dict[str, object] = {}
    for source in (*SENTIMENT_FILES, *SEMEVAL_FILES):
        rows = [e for e in by_source[source] if e.sentiment is not None]
        sentiment[source] = sentiment_rows(scorer, rows)
    report["sentiment"] = sentiment
    report["restaurant_themes"] = restaurant_themes(scorer, by_source["semeval_restaurants"])
    report["airline_reasons"] = airline_reasons(scorer, [e for e in by_source["airline_tweets"] if e.reason])
    report["seconds"] = round(time.perf_counter() - started, 1)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def print_report(report: dict[str, object]) -> None:
    print(f"model {report['model']}, {report['split']} split (never trained on)\n")
    head = f"{'source':<20} {'n':>5}  {'model F1':>8} {'VADER F1':>8} {'gap':>6}  {'model acc':>9} {'VADER acc':>9}"
    print("sentiment, binary (positive vs negative rows)")
    print(head)
    sentiment = report["sentiment"]
    assert isinstance(sentiment, dict)
    for source, r in sentiment.items():
        b = r["binary"]
        gap = 100 * (b["model_macro_f1"] - b["vader_macro_f1"])
        print(
            f"{source:<20} {r['n_binary']:>5}  {100 * b['model_macro_f1']:>8.1f} {100 * b['vader_macro_f1']:>8.1f} "
            f"{gap:>+6.1f}  {100 * b['model_accuracy']:>9.1f} {100 * b['vader_accuracy']:>9.1f}"
        )
    print("\nsentiment, 3 classes (sources that label neutral)")
    print(head)
    for source, r in sentiment.items():
        t = r.get("three_class")
        if t:
            gap = 100 * (t["model_macro_f1"] - t["vader_macro_f1"])
            print(
                f"{source:<20} {r['n']:>5}  {100 * t['model_macro_f1']:>8.1f} {100 * t['vader_macro_f1']:>8.1f} "
                f"{gap:>+6.1f}  {100 * t['model_accuracy']:>9.1f} {100 * t['vader_accuracy']:>9.1f}"
            )
    flagged = sum(r["flagged_not_english"] for r in sentiment.values())
    total = sum(r["n"] for r in sentiment.values())
    print(f"\nEnglish texts flagged as not English: {flagged} of {total}")
    rt, ar = report["restaurant_themes"], report["airline_reasons"]
    assert isinstance(rt, dict) and isinstance(ar, dict)
    print(
        f"\nSemEval-2014 restaurant categories (n={rt['n']}): micro-F1 {100 * rt['micro_f1_5_categories']:.1f} "
        f"(5 categories, no theme = anecdotes/miscellaneous), {100 * rt['micro_f1_4_themes']:.1f} (4 themes)"
    )
    print(
        f"  sentiment of each category found: {100 * rt['category_sentiment_accuracy']:.1f} % right "
        f"(n={rt['category_sentiment_n']})"
    )
    print(
        f"airline complaint reasons (n={ar['n']}): macro-F1 {100 * ar['macro_f1']:.1f} over 10 reasons, "
        f'{100 * ar["macro_f1_without_cant_tell"]:.1f} without "Can\'t Tell"; accuracy {100 * ar["accuracy"]:.1f}'
    )
    print(f"\n({report['seconds']} s)")


if __name__ == "__main__":
    raise SystemExit(main())
