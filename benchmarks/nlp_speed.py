"""Speed, memory and size of the committed model, on one core, in fresh interpreters.

    .venv/bin/python benchmarks/nlp_speed.py [--model DIR] [--texts 5000] [--runs 5]

- ready: wall time from starting a fresh interpreter to the first scored text (import, load, score
  one), median of --runs;
- throughput: texts per second on one core (the process pinned to CPU 0, BLAS threads 1) for short
  texts (tweets, ~100 characters) and long ones (Amazon reviews, ~800 characters), the ecommerce and the
  restaurant taxonomies, VADER on the same texts beside it;
- peak RSS of the scoring process, and the model's size on disk.
Texts come from ../shared/data when it is there, else from a built-in sample repeated. Prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.scoring.scorer import MODEL_DIR  # noqa: E402

SAMPLE_SHORT = [
    "@united thanks for nothing, 3 hours on hold and still no bag",
    "Fast delivery but the seams ripped after one wash.",
    "Love it! Great quality and true to size.",
    "The package arrived late and the box was crushed.",
]
ONE_CORE_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

READY = """
import time, sys
from services.scoring.scorer import Scorer
from pathlib import Path
s = Scorer(Path(sys.argv[1]))
s.score([("1", "Fast delivery but the seams ripped.")])
print("ready", flush=True)
"""

THROUGHPUT = r"""
import json, os, resource, sys, time
os.sched_setaffinity(0, {0})
from pathlib import Path
from services.scoring.scorer import Scorer
from services.scoring.domain.taxonomy import PRESETS
texts = json.loads(Path(sys.argv[2]).read_text())
scorer = Scorer(Path(sys.argv[1]))
out = {}
for kind in ("short", "long"):
    items = [(str(i), t) for i, t in enumerate(texts[kind])]
    for name in ("ecommerce", "restaurant"):
        scorer.score(items[:200], PRESETS[name])  # warm
        best = 0.0
        for _ in range(3):
            started = time.perf_counter()
            for i in range(0, len(items), 256):
                scorer.score(items[i:i + 256], PRESETS[name])
            best = max(best, len(items) / (time.perf_counter() - started))
        out[f"{kind}_{name}"] = best
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    vader = SentimentIntensityAnalyzer()
    started = time.perf_counter()
    for _, t in items:
        vader.polarity_scores(t)
    out[f"{kind}_vader"] = len(items) / (time.perf_counter() - started)
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["mean_chars"] = {k: sum(map(len, v)) / len(v) for k, v in texts.items()}
print(json.dumps(out))
"""


def texts(count: int) -> dict[str, list[str]]:
    from services.scoring.training.data import default_data_dir, load

    data = default_data_dir()
    if (data / "sentiment").is_dir():
        short = [e.text for e in load(data, None, ("airline_tweets",))]
        long = [
            e.text
            for e in load(data, None, ("amazon_books", "amazon_dvd", "amazon_electronics", "amazon_kitchen"))
        ]
        long = [t for t in long if 400 <= len(t) <= 1500]
    else:
        short, long = SAMPLE_SHORT, [" ".join(SAMPLE_SHORT * 5)]
    return {
        "short": (short * (count // len(short) + 1))[:count],
        "long": (long * (count // len(long) + 1))[:count],
    }


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(MODEL_DIR))
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, **ONE_CORE_ENV, "PYTHONPATH": str(ROOT)}
    python = sys.executable

    subprocess.run(
        [python, "-c", READY, args.model], env=env, check=True, capture_output=True
    )  # warm disk cache
    bare, ready = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run([python, "-c", "pass"], env=env, check=True)
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run([python, "-c", READY, args.model], env=env, check=True, capture_output=True)
        ready.append(time.perf_counter() - started)

    corpus = Path("build") / "nlp_speed_texts.json"
    corpus.parent.mkdir(exist_ok=True)
    corpus.write_text(json.dumps(texts(args.texts)))
    out = subprocess.run(
        [python, "-c", THROUGHPUT, args.model, str(corpus)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])

    print(f"model {args.model}: {size_mb(Path(args.model)):.1f} MB on disk")
    print(
        f"ready (fresh interpreter → first text scored): median {statistics.median(ready):.2f} s "
        f"(bare interpreter {statistics.median(bare):.2f} s; {args.runs} runs: "
        f"{', '.join(f'{r:.2f}' for r in ready)})"
    )
    print(f"one core, batches of 256, best of 3 over {args.texts} texts:")
    for kind in ("short", "long"):
        chars = figures["mean_chars"][kind]
        print(
            f"  {kind:<5} (~{chars:.0f} chars): ecommerce {figures[f'{kind}_ecommerce']:,.0f}/s, "
            f"restaurant {figures[f'{kind}_restaurant']:,.0f}/s, VADER {figures[f'{kind}_vader']:,.0f}/s"
        )
    print(f"peak RSS of the scoring process: {figures['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
