"""`cxloop model train`: the shipped pipeline, rebuilt from ``../shared/data`` by spaCy's own trainer.

Each component is trained alone from its committed config (configs/*.cfg) with a fixed seed, on the
``train`` split, its best checkpoint picked on ``tune``; the components are then put together into one
pipeline with the keywords mined from the training sentences. ``dev`` is never touched here.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.scoring.domain.taxonomy import RESTAURANT
from services.scoring.domain.text import normalise
from services.scoring.training.data import AIRLINE_REASONS, RESTAURANT_CATEGORIES, Example, Split, split_of

CONFIGS = Path(__file__).resolve().parent / "configs"
SENTIMENT_LABELS = ("positive", "neutral", "negative")
NAME = "cxloop_feedback"
VERSION = "1.0.0"
# Multi-label restaurant themes above this probability; the airline reason (the likeliest of ten) if its
# share is above this.
THRESHOLDS = {"themes_restaurant": 0.5, "themes_airline": 0.25}
# A mined keyword must name one category in this share of the sentences it occurs in, at least this often.
TERM_PURITY = 0.8
TERM_MIN_COUNT = 3


@dataclass(frozen=True)
class Task:
    component: str
    config: Path
    labels: tuple[str, ...]
    cats: Callable[[Example], dict[str, float] | None]


def _sentiment(e: Example) -> dict[str, float] | None:
    if e.sentiment is None:
        return None
    return {label: float(label == e.sentiment) for label in SENTIMENT_LABELS}


def _restaurant(e: Example) -> dict[str, float] | None:
    if e.source != "semeval_restaurants":
        return None
    return {label: float(label in e.categories) for label in RESTAURANT_CATEGORIES}


def _airline(e: Example) -> dict[str, float] | None:
    if e.reason not in AIRLINE_REASONS:
        return None
    return {label: float(label == e.reason) for label in AIRLINE_REASONS}


TASKS = (
    Task("sentiment", CONFIGS / "sentiment.cfg", SENTIMENT_LABELS, _sentiment),
    Task("themes_restaurant", CONFIGS / "themes_restaurant.cfg", RESTAURANT_CATEGORIES, _restaurant),
    Task("themes_airline", CONFIGS / "themes_airline.cfg", AIRLINE_REASONS, _airline),
)


def docbin(task: Task, examples: Sequence[Example], split: Split, path: Path) -> int:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    bin_ = DocBin(store_user_data=False)
    count = 0
    for e in examples:
        cats = task.cats(e)
        if cats is None or split_of(e.source, e.id) != split:
            continue
        doc = nlp.make_doc(normalise(e.text))
        doc.cats = cats
        bin_.add(doc)
        count += 1
    bin_.to_disk(path)
    return count


def train_component(task: Task, examples: Sequence[Example], work: Path, seed: int) -> Path:
    from spacy.cli.train import train

    work.mkdir(parents=True, exist_ok=True)
    counts = {split: docbin(task, examples, split, work / f"{split}.spacy") for split in ("train", "tune")}
    print(f"{task.component}: {counts['train']} train, {counts['tune']} tune examples", flush=True)
    out = work / "output"
    train(
        task.config,
        out,
        overrides={
            "paths.train": str(work / "train.spacy"),
            "paths.dev": str(work / "tune.spacy"),
            "system.seed": seed,
        },
    )
    return out / "model-best"


def mine_terms(examples: Sequence[Example]) -> dict[str, list[str]]:
    """Restaurant aspect terms of the training sentences that name one theme almost always."""
    by_term: dict[str, Counter[str]] = defaultdict(Counter)
    for e in examples:
        if e.source != "semeval_restaurants" or split_of(e.source, e.id) != "train":
            continue
        for raw in e.extra.get("terms", "").split("|"):
            term = " ".join(normalise(raw).split())
            if not term:
                continue
            for category in e.categories:
                by_term[term][category] += 1
    mined: dict[str, list[str]] = defaultdict(list)
    for term, counts in sorted(by_term.items()):
        category, n = counts.most_common(1)[0]
        theme = next((t.id for t in RESTAURANT.themes if t.label == category), None)
        if theme and n >= TERM_MIN_COUNT and n / sum(counts.values()) >= TERM_PURITY:
            mined[theme].append(term)
    return dict(mined)


def train_all(examples: Sequence[Example], output: Path, work: Path, seed: int = 0) -> dict[str, Any]:
    """Train every component, assemble them into ``output``; returns the pipeline's metadata."""
    import spacy

    trained = {task.component: train_component(task, examples, work / task.component, seed) for task in TASKS}
    nlp = spacy.blank("en")
    for component, path in trained.items():
        source = spacy.load(path)
        nlp.add_pipe(component, source=source)
    sources = sorted({e.source for e in examples if split_of(e.source, e.id) == "train"})
    nlp.meta.update(
        {
            "name": NAME,
            "version": VERSION,
            "description": "cxloop feedback sentiment and themes (see services/scoring/MODEL_CARD.md)",
            "cxloop": {"seed": seed, "sources": sources, "thresholds": THRESHOLDS},
        }
    )
    if output.exists():
        shutil.rmtree(output)
    nlp.to_disk(output)
    (output / "theme_terms.json").write_text(
        json.dumps({RESTAURANT.name: mine_terms(examples)}, indent=1, sort_keys=True) + "\n"
    )
    return dict(nlp.meta)
