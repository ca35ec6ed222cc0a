"""Logging and metrics set-up in one place: structured JSON logs carrying a correlation id.

Tracing is left off on the webhook path on purpose: ``Tracer`` imports aws_xray_sdk (~0.4 s).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

_loggers: dict[str, Logger] = {}


def logger(service: str) -> Logger:
    """One powertools Logger per service; child loggers share its correlation id."""
    if service not in _loggers:
        _loggers[service] = Logger(service=service)
    return _loggers[service]
