"""The report: one line per check for a terminal, or one JSON document for machines."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from cxloop.doctor.model import CheckResult, Status, Target

MARK = {Status.OK: "ok  ", Status.WARN: "warn", Status.FAIL: "FAIL"}


def line(result: CheckResult) -> str:
    """``FAIL  dlq cxloop-feedback-events-dlq: 2 message(s) ... — fix: cxloop dlq list ...``"""
    text = f"{MARK[result.status]}  {result.check} {result.subject}: {result.detail}"
    return text + (f" — fix: {result.fix}" if result.fix and result.status is not Status.OK else "")


def summary(results: Sequence[CheckResult]) -> str:
    counts = Counter(r.status for r in results)
    verdict = "some checks failed" if counts[Status.FAIL] else "nothing failed"
    return f"{counts[Status.OK]} ok, {counts[Status.WARN]} warn, {counts[Status.FAIL]} fail: {verdict}"


def text(target: Target, results: Sequence[CheckResult]) -> str:
    head = f"cxloop doctor: {target.name}"
    return "\n".join([head, *(line(r) for r in results), summary(results)])


def as_json(target: Target, results: Sequence[CheckResult]) -> str:
    doc = {
        "target": {
            "name": target.name,
            "local": target.local,
            "prefix": target.prefix,
            "region": target.region,
        },
        "ok": not any(r.status is Status.FAIL for r in results),
        "checks": [r.model_dump(mode="json") for r in results],
    }
    return json.dumps(doc, indent=2)
