"""One wording for a broken validation rule, wherever it is shown: the CLI names the option, the
dashboard puts it next to the field, both say the rule in the same words."""

from __future__ import annotations

from typing import Any

_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def bound(err: Any) -> str | None:
    """pydantic's "Input should be less than or equal to 100" said as a rule: "must be at most 100"."""
    kind = _BOUNDS.get(str(err.get("type", "")))
    if kind is None or kind[0] not in (ctx := err.get("ctx") or {}):
        return None
    limit = ctx[kind[0]]
    return f"must be {kind[1]} {limit:g}" if isinstance(limit, float) else f"must be {kind[1]} {limit}"


def rule(err: Any) -> str:
    """What one pydantic error says was wrong, without pydantic's "Value error, " prefix."""
    return bound(err) or str(err.get("msg", "invalid")).removeprefix("Value error, ")
