"""How a source can fail, in the terms the puller acts on (connectors raise these, never HTTP codes)."""

from __future__ import annotations

from datetime import datetime


class SourceError(Exception):
    """Base: the pull of one source for one shop stops; the others go on."""

    kind = "error"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthFailed(SourceError):
    """401/403: the credentials are wrong, expired or lack access. Retrying soon will not help."""

    kind = "auth"


class RateLimited(SourceError):
    """429 (or a source's own limit headers say 0 left): wait until ``retry_at``."""

    kind = "rate_limited"

    def __init__(self, message: str, retry_at: datetime | None, status: int | None = 429) -> None:
        super().__init__(message, status)
        self.retry_at = retry_at


class Transient(SourceError):
    """5xx, a timeout, a dropped connection: try again later, with backoff."""

    kind = "transient"


class Malformed(SourceError):
    """The source answered something that is not the documented shape (not JSON, a missing field)."""

    kind = "malformed"


class NotFound(SourceError):
    """404: the configured business, location or app does not exist (or the plan cannot see it)."""

    kind = "not_found"


class Unsupported(SourceError):
    """The source does not allow this (a reply on Yelp, Reddit without a user token)."""

    kind = "unsupported"
