"""A shop's survey results for a period: the metrics with their intervals, and what was not sent.

The period is by send time: a survey belongs to the period its first e-mail went out in, so an
answer that arrives days later still counts for the send that asked for it (and the response rate
compares like with like).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field

from services.feedback.domain.surveys.invitations import Invitation, Status
from shared.metrics import Metric, summarise


class ThemeCount(BaseModel):
    theme: str
    mentions: int
    negative: int


class TypeReport(BaseModel):
    survey_type: str
    sent: int
    answered: int
    reminded: int
    commented: int
    metrics: list[Metric]
    # What the comments talk about (the scoring service's readings), most mentioned first.
    scored: int = 0
    sentiment: dict[str, int] = Field(default_factory=dict)  # label → comments; "not_english" too
    themes: list[ThemeCount] = Field(default_factory=list)


class SurveyReport(BaseModel):
    shop_id: str
    since: datetime
    until: datetime
    by_type: list[TypeReport] = Field(default_factory=list)
    not_sent: dict[str, int] = Field(default_factory=dict)  # suppression and cancellation reasons
    pending: int = 0  # planned, not yet sent

    def lines(self) -> list[str]:
        period = f"{self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M} UTC"
        out = [f"Shop {self.shop_id}, surveys sent {period}"]
        if not self.by_type:
            out.append("  no surveys sent in this period")
        for t in self.by_type:
            out.append(
                f"  {t.survey_type.upper()}: {t.sent} sent, {t.answered} answered, "
                f"{t.commented} with a comment, {t.reminded} reminded"
            )
            out.extend(f"    {m.describe()}" for m in t.metrics)
            if t.scored:
                labels = ", ".join(f"{k} {v}" for k, v in sorted(t.sentiment.items()))
                out.append(f"    comments read by the model: {t.scored} ({labels})")
            if t.themes:
                themes = ", ".join(f"{c.theme} {c.mentions} ({c.negative} negative)" for c in t.themes[:6])
                out.append(f"    themes: {themes}")
        if self.not_sent:
            out.append("  not sent: " + ", ".join(f"{k} {v}" for k, v in sorted(self.not_sent.items())))
        if self.pending:
            out.append(f"  planned, not yet sent: {self.pending}")
        return out


def _readings(group: list[Invitation]) -> dict[str, object]:
    labels: Counter[str] = Counter()
    mentions: Counter[str] = Counter()
    negative: Counter[str] = Counter()
    read = [i.reading for i in group if i.reading is not None and i.comment]
    for reading in read:
        labels[reading.sentiment.label if reading.sentiment else "not_english"] += 1
        for theme in reading.themes:
            mentions[theme.theme] += 1
            negative[theme.theme] += theme.sentiment == "negative"
    themes = [
        ThemeCount(theme=t, mentions=n, negative=negative[t])
        for t, n in sorted(mentions.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return {"scored": len(read), "sentiment": dict(labels), "themes": themes}


def _when_decided(inv: Invitation) -> datetime | None:
    return inv.sent_at or inv.planned_at


def survey_report(
    shop_id: str, invitations: Iterable[Invitation], since: datetime, until: datetime
) -> SurveyReport:
    sent: dict[str, list[Invitation]] = {}
    not_sent: Counter[str] = Counter()
    pending = 0
    for inv in invitations:
        when = _when_decided(inv)
        if when is None or not since <= when < until:
            continue
        if inv.sent_at is not None:
            sent.setdefault(inv.survey_type.value, []).append(inv)
        elif inv.status in (Status.SUPPRESSED, Status.CANCELLED, Status.FAILED) and inv.reason:
            not_sent[inv.reason.value] += 1
        elif inv.status in (Status.PLANNED, Status.SENDING):
            pending += 1
    by_type = []
    for survey_type, group in sorted(sent.items()):
        scores = [i.score for i in group if i.score is not None]
        by_type.append(
            TypeReport(
                survey_type=survey_type,
                sent=len(group),
                answered=len(scores),
                reminded=sum(1 for i in group if i.reminded_at),
                commented=sum(1 for i in group if i.comment),
                metrics=summarise(survey_type, scores, len(group)),
                **_readings(group),
            )
        )
    return SurveyReport(
        shop_id=shop_id, since=since, until=until, by_type=by_type, not_sent=dict(not_sent), pending=pending
    )
