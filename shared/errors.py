"""Typed errors: each class carries its HTTP status and code; ``shared.http`` turns one into a response
(never by reading a message)."""

from __future__ import annotations


class CxloopError(Exception):
    """Base of every error cxloop raises on purpose. ``status`` is what an HTTP caller sees."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(CxloopError):
    status = 404
    code = "not_found"


class Unauthorized(CxloopError):
    status = 401
    code = "unauthorized"


class BadRequest(CxloopError):
    status = 400
    code = "bad_request"


class PayloadTooLarge(CxloopError):
    status = 413
    code = "payload_too_large"


class Conflict(CxloopError):
    status = 409
    code = "conflict"


class Unavailable(CxloopError):
    """A dependency failed transiently; the caller should retry (platforms do, on 5xx)."""

    status = 503
    code = "unavailable"
