"""What a shop's own answers change, measured with a public set standing in for one shop.

    .venv/bin/python benchmarks/shop_adaptation.py [--source uci_yelp] [--work build/shop_adaptation]

A shop's comments are a domain the public sets may not cover. Here one source (default: single Yelp
review sentences) plays the shop: its train rows become survey answers (NPS 1 for a negative
sentence, 10 for a positive one) and go through the same path as `cxloop model train --shop`
(services/scoring/training/shop.py). Two sentiment models are trained from the committed config with
the same seed, both without that source's public rows: "base" on the other sets, "adapted" with the
shop's answers added. Both are compared on the source's dev rows and on every other dev row.
Takes about 5 minutes on one core. Prints figures.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.scoring.training import train
from services.scoring.training.compare import compare_on_shop
from services.scoring.training.data import default_data_dir, load
from services.scoring.training.shop import shop_examples

SHOP = "stand-in"


@dataclass(frozen=True)
class Answer:
    invite_id: str
    score: int | None
    comment: str | None
    survey_type: str = "nps"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="uci_yelp")
    parser.add_argument("--data", default=str(default_data_dir()))
    parser.add_argument("--work", default="build/shop_adaptation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "sentiment").is_dir():
        print(f"no labelled data at {data}: this benchmark needs ../shared/data")
        return 0
    everything = load(data)
    public = [e for e in everything if e.source != args.source]
    # The stand-in shop's answers: every row of the source (its dev rows stay out of training below,
    # because the shop's examples are split by the same digest as the public sets).
    answers = [
        Answer(e.id, 10 if e.sentiment == "positive" else 1, e.text)
        for e in everything
        if e.source == args.source and e.sentiment in ("positive", "negative")
    ]
    own = shop_examples(SHOP, answers)
    sentiment = train.TASKS[0]
    work = Path(args.work)
    base = work / "base" / "output" / "model-best"
    if not base.is_dir():  # trained once, reused by later runs
        base = train.train_component(sentiment, public, work / "base", args.seed)
    adapted = train.train_component(sentiment, [*public, *own], work / "adapted", args.seed)
    print(f"\n{args.source} as one shop's answers: {len(own)} labelled comments")
    for line in compare_on_shop(SHOP, [*public, *own], base=base, adapted=adapted):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
