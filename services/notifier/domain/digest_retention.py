"""The digest's retention block, written from the shop's retention snapshot (decision 121): repeat and
churn rates with their n and interval and the horizon that defines churn, the segments' sizes, revenue
and NPS, and who moved toward losing (at risk, can't lose) this month, by name."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.notifier.domain import rfm
from services.notifier.domain.retention import Rate
from services.notifier.domain.retention_snapshot import RetentionSnapshot
from shared.money import money

NAMED = 5  # movers named per move toward losing


class RetentionDigest(BaseModel):
    lines: list[str] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)
    moves: list[str] = Field(default_factory=list)


def _share(r: Rate) -> str:
    if r.value is None or r.low is None or r.high is None:
        return f"\u2013 (n={r.n})"
    return f"{r.value:.0f}% (95% range {r.low:.0f}-{r.high:.0f}%, {r.successes} of {r.n})"


def _month(month: str) -> str:
    return datetime.strptime(month, "%Y-%m").strftime("%B %Y")


def _nps(s: rfm.Segment, snapshot: RetentionSnapshot) -> str:
    stats = next(x for x in snapshot.segments if x.segment is s)
    m = stats.nps
    if m.value is None or m.low is None or m.high is None:
        return ""
    return f", NPS {m.value:+.0f} ({m.low:+.0f} to {m.high:+.0f}, n={m.n})"


def retention_digest(snapshot: RetentionSnapshot) -> RetentionDigest:
    lines = [f"Repeat customers: {_share(snapshot.repeat_rate)}."]
    h = snapshot.horizon
    last = snapshot.last_full_month()
    if h.days is None:
        lines.append(f"Churn: not enough repeat purchases yet to know your reorder horizon ({h.gaps} gaps).")
    elif last is not None:
        lines.append(
            f"Churn in {_month(last.month)}: {_share(last.rate)} of the customers active when it began "
            f"went {h.days} days without an order, your reorder horizon (90% of your repeat purchases "
            "come sooner)."
        )
    segments = [
        f"{s.label}: {s.customers}, {money(s.revenue, snapshot.currency)} in 12 months"
        + _nps(s.segment, snapshot)
        for s in snapshot.segments
        if s.customers
    ]
    labels = {s.segment: s.label for s in snapshot.segments}
    moves = []
    for move in snapshot.moves:
        if move.target not in rfm.LAPSED:
            continue
        names = [m.name for m in snapshot.movers if (m.source, m.target) == (move.source, move.target)][
            :NAMED
        ]
        more = move.customers - len(names)
        who = ", ".join(names) + (f" and {more} more" if more > 0 and names else "")
        moves.append(
            f"{move.customers} from {labels[move.source]} to {labels[move.target]}"
            + (f": {who}" if who else "")
        )
    return RetentionDigest(lines=lines, segments=segments, moves=moves)
