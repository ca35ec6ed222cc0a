"""The digest's two figures of issue 19 (decisions 122, 123), in words the e-mail and Slack share: what
drives the score over the last quarter, and how fast the loop was closed this week against the week
before. A change is called only when it is larger than the noise (``digest.clear_change``)."""

from __future__ import annotations

import math

from services.notifier.domain.digest import Digest, Estimate, clear_change, duration_text, plural
from services.notifier.domain.drivers import cost_text
from services.notifier.domain.service_kpis import Share
from shared.impact import Impact

TOP_DRIVERS = 3
TOP_EMERGING = 5


def _estimate(share: Share | None) -> Estimate | None:
    """A share as the digest's change test takes it: value and binomial standard error, in %."""
    if share is None or share.value is None or not share.n:
        return None
    p = share.value / 100
    se = 100 * math.sqrt(p * (1 - p) / share.n) or 100 / share.n  # all or none: one answer's weight
    return Estimate(value=share.value, n=share.n, interval=None, standard_error=se)


def driver_lines(figures: Digest) -> list[str]:
    """'Delivery & shipping costs 12 NPS points (±5, 31 of 240 answers)', costliest first."""
    if figures.drivers is None:
        return []
    shown: list[Impact] = [i for i in [*figures.drivers.nps, *figures.drivers.stars] if i.cost is not None]
    shown = sorted(shown, key=lambda i: (i.unit != "nps", -(i.cost or 0.0)))
    costly = [i for i in shown if (i.cost or 0) > 0][:TOP_DRIVERS]
    return [f"{i.label} {cost_text(i)}" + (" — clear" if i.clear else " — could be chance") for i in costly]


def service_line(figures: Digest) -> str:
    """This week's first replies and resolutions in one sentence."""
    now = figures.service
    if now is None or not (now.opened or now.first_reply.n or now.resolution.n):
        return "No case was opened, replied to or resolved this week."
    first, done = now.first_reply, now.resolution
    parts = []
    if first.n:
        target = f" (target {duration_text(first.target_hours)})" if first.target_hours else ""
        parts.append(
            f"first reply {duration_text(first.median.hours or 0)} median, "
            f"{duration_text(first.p90.hours or 0)} for 9 in 10{target}, {plural(first.n, 'case')}"
        )
    if done.n:
        fcr = now.first_contact_resolution.value
        parts.append(
            f"resolved in {duration_text(done.median.hours or 0)} median ({plural(done.n, 'case')}, "
            f"{fcr:.0f}% with one reply)"
        )
    again = now.recontact
    if again.n and again.value is not None:
        parts.append(
            f"{again.value:.0f}% of {plural(again.n, 'case')} from a customer unhappy again within 30 days"
        )
    return ("; ".join(parts) or "No reply or resolution this week") + "."


def target_change(figures: Digest) -> str:
    """How the share replied within target moved, said only when it is larger than the noise."""
    now = figures.service.first_reply.within_target if figures.service else None
    before = figures.service_previous.first_reply.within_target if figures.service_previous else None
    a, b = _estimate(now), _estimate(before)
    if a is None or b is None:
        return ""
    moved = f"{a.value:.0f}% replied within target, {b.value:.0f}% the week before"
    clear = clear_change(a, b)
    return moved + ("" if clear else " (within the noise)") + "."


def emerging_lines(figures: Digest) -> list[str]:
    """'new: missing buttons, 7 mentions, 0 last month — "Coat arrived with missing buttons"'."""
    found = figures.emerging
    if found is None:
        return []
    return [t.text() + (f' — "{t.examples[0]}"' if t.examples else "") for t in found.topics[:TOP_EMERGING]]
