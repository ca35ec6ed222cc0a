"""Which of a shop's rules an answer or a mention sets off, and what the alert says.

Pure: the caller stores what fires. Each firing carries its dedupe key (rule and subject, never the
revision), so an answer redelivered, or edited from 3 to 2, alerts once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.notifier.domain.model import AlertSettings, Mention, Rule, RuleKind, SurveyAnswer

# A 5-star scale unless the rating says otherwise (every connected source rates out of 5 but Reddit,
# which has no rating).
DEFAULT_RATING_SCALE = 5.0
SCORE_RULES = {
    "nps": RuleKind.DETRACTOR,
    "csat": RuleKind.UNHAPPY_CSAT,
    "ces": RuleKind.HIGH_EFFORT,
}
SCORE_LABELS = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}
TEXT_MAX = 280


@dataclass(frozen=True)
class Firing:
    rule: Rule
    subject: str  # response:<invite_id> or mention:<mention_id>
    title: str
    text: str = ""
    url: str | None = None

    @property
    def key(self) -> str:
        return f"{self.rule.kind.value}#{self.subject}"


def shorten(text: str | None, limit: int = TEXT_MAX) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def watched_words(rule: Rule, text: str | None) -> list[str]:
    """The rule's keywords found in ``text`` as whole words (or phrases), case-insensitively."""
    if not text:
        return []
    return [k for k in rule.keywords if re.search(rf"(?<!\w){re.escape(k)}(?!\w)", text, re.IGNORECASE)]


def _score_fires(rule: Rule, survey_type: str, score: int) -> bool:
    if survey_type == "ces":
        return score >= (rule.min_score if rule.min_score is not None else 5)
    return score <= (rule.max_score if rule.max_score is not None else (6 if survey_type == "nps" else 2))


def answer_title(answer: SurveyAnswer) -> str:
    who = answer.first_name or "a customer"
    order = f" (order {answer.order_name or answer.order_id})" if answer.order_name or answer.order_id else ""
    return (
        f"{SCORE_LABELS.get(answer.survey_type, answer.survey_type.upper())} {answer.score} from {who}{order}"
    )


def for_answer(settings: AlertSettings, answer: SurveyAnswer) -> list[Firing]:
    subject = f"response:{answer.invite_id}"
    title, text = answer_title(answer), shorten(answer.comment)
    fired: list[Firing] = []
    kind = SCORE_RULES.get(answer.survey_type)
    rule = settings.rule(kind) if kind else None
    if rule and _score_fires(rule, answer.survey_type, answer.score):
        fired.append(Firing(rule, subject, title, text))
    keyword = settings.rule(RuleKind.KEYWORD)
    words = watched_words(keyword, answer.comment) if keyword else []
    if keyword and words:
        fired.append(Firing(keyword, subject, f"{title}: mentions {', '.join(words)}", text))
    return fired


def negative_mention(rule: Rule, mention: Mention) -> bool:
    """Rated low, or read as negative with enough confidence: either says the customer is unhappy (a
    3-star "had to return it" is a complaint, whatever its stars)."""
    if mention.rating is not None:
        scale = DEFAULT_RATING_SCALE if mention.rating <= DEFAULT_RATING_SCALE else 10.0
        if mention.rating <= rule.max_rating_share * scale:
            return True
    s = mention.sentiment
    return s is not None and s.label == "negative" and s.confidence >= rule.min_confidence


def mention_title(mention: Mention) -> str:
    stars = f" {mention.rating:g}★" if mention.rating is not None else ""
    return f"New{stars} {mention.source.replace('_', ' ')} review"


def for_mention(settings: AlertSettings, mention: Mention) -> list[Firing]:
    subject = f"mention:{mention.mention_id}"
    title, text = mention_title(mention), shorten(mention.excerpt)
    fired: list[Firing] = []
    rule = settings.rule(RuleKind.NEGATIVE_MENTION)
    if rule and negative_mention(rule, mention):
        fired.append(Firing(rule, subject, title, text, mention.url))
    keyword = settings.rule(RuleKind.KEYWORD)
    words = watched_words(keyword, mention.excerpt) if keyword else []
    if keyword and words:
        fired.append(Firing(keyword, subject, f"{title}: mentions {', '.join(words)}", text, mention.url))
    return fired


def surging(rule: Rule, today: int, previous_days: list[int]) -> bool:
    """A negative theme surges when today's count reaches ``surge_min`` and ``surge_ratio`` times its
    usual day (the mean of the days before, at least one so a quiet shop still needs surge_min)."""
    usual = max(1.0, sum(previous_days) / len(previous_days)) if previous_days else 1.0
    return today >= rule.surge_min and today >= rule.surge_ratio * usual
