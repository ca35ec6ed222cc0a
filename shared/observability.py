"""Logging and metrics set-up in one place: structured JSON logs carrying a correlation id, and
business counts as CloudWatch embedded metric format (EMF) lines.

Tracing: the deployed functions run with Lambda's active tracing (the service's own segments: init,
invocation, overhead), without Powertools' ``Tracer``, which imports aws_xray_sdk (~0.4 s) on the 5 s
webhook path.

Metrics: handlers count outcomes on a :class:`Counts` (one per invocation, flushed at its end by
:func:`counted`), never the domain, which returns reports the handler reads. Each count is serialized
by Powertools' EMF provider (names, units and dimensions validated as Powertools does), one document per
dimension set, since a document's metrics all share its dimensions. In Lambda the line goes to stdout,
where CloudWatch Logs turns it into a metric; the local stack sends it to ``functions.log`` with the logs.
"""

from __future__ import annotations

import functools
import json
import sys
from collections import Counter
from collections.abc import Callable
from typing import IO, Any, TypeVar

from aws_lambda_powertools import Logger

_loggers: dict[str, Logger] = {}

# Where the deployed stack does not say otherwise (POWERTOOLS_METRICS_NAMESPACE), and locally.
NAMESPACE = "cxloop"

# Where EMF lines go. None: sys.stdout as it is when writing (Lambda's log stream; pytest's capture).
_emf: dict[str, IO[str] | None] = {"stream": None}

# The metrics the stack's alarms watch (infra/cxloop_infra/alarms.py), with the dimensions they match.
WEBHOOKS_REFUSED = "WebhooksRefused"  # service=feedback, reason=signature|invalid|unknown_shop|too_large
DESTINATIONS_BROKEN = "DestinationsBroken"  # service=notifier, channel=slack|email

Dimensions = tuple[tuple[str, str], ...]
F = TypeVar("F", bound=Callable[..., Any])


def logger(service: str) -> Logger:
    """One powertools Logger per service; child loggers share its correlation id."""
    if service not in _loggers:
        _loggers[service] = Logger(service=service)
    return _loggers[service]


def route_metrics(stream: IO[str] | None) -> None:
    """Write EMF lines to ``stream`` (the local stack: its functions.log); None: stdout again."""
    _emf["stream"] = stream


class Counts:
    """A handler's outcome counts for one invocation.

    ``count("WebhooksRefused", platform="shopify", reason="signature", rollup=("reason",))`` is published
    under its full dimension set and, for each rollup, under ``service`` plus those dimensions only:
    CloudWatch alarms match a metric's exact dimensions, so a rollup is what an alarm watches. Every
    dimension set is a metric billed by the month: dimension values must come from a closed set, never
    from a request.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._counts: Counter[tuple[str, Dimensions, tuple[str, ...]]] = Counter()

    def count(self, name: str, value: int = 1, *, rollup: tuple[str, ...] = (), **dimensions: str) -> None:
        if value <= 0:
            return
        missing = [r for r in rollup if r not in dimensions]
        if missing:
            raise ValueError(f"metric {name}: rollup names dimensions it was not given: {missing}")
        self._counts[(name, tuple(sorted(dimensions.items())), rollup)] += value

    def documents(self) -> list[dict[str, Any]]:
        """The EMF documents for what was counted: one per distinct set of dimensions."""
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
            AmazonCloudWatchEMFProvider,
        )

        groups: dict[tuple[Dimensions, tuple[str, ...]], list[tuple[str, int]]] = {}
        for (name, dims, rollup), value in self._counts.items():
            groups.setdefault((dims, rollup), []).append((name, value))
        documents = []
        for (dims, rollup), metrics in groups.items():
            # The namespace: POWERTOOLS_METRICS_NAMESPACE (Powertools reads it), else cxloop's.
            provider = AmazonCloudWatchEMFProvider(service=self.service)
            provider.namespace = provider.namespace or NAMESPACE
            for key, label in dims:
                provider.add_dimension(name=key, value=label)
            if rollup:
                provider.add_dimensions(service=self.service, **{k: v for k, v in dims if k in rollup})
            for name, n in metrics:
                provider.add_metric(name=name, unit="Count", value=n)
            documents.append(dict(provider.serialize_metric_set()))
        return documents

    def flush(self) -> None:
        """Write the documents (unless POWERTOOLS_METRICS_DISABLED says not to) and start afresh."""
        from aws_lambda_powertools.metrics.functions import is_metrics_disabled

        try:
            if not is_metrics_disabled():
                stream = _emf["stream"] or sys.stdout
                for document in self.documents():
                    stream.write(json.dumps(document, separators=(",", ":")) + "\n")
                stream.flush()
        finally:
            self.clear()

    def clear(self) -> None:
        self._counts.clear()


def counted(counts: Counts) -> Callable[[F], F]:
    """Flush ``counts`` when the handler returns or raises: every invocation publishes its own (and only
    its own: what was counted outside an invocation, by a test calling a record handler, is dropped)."""

    def wrap(handler: F) -> F:
        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Any:
            counts.clear()
            try:
                return handler(*args, **kwargs)
            finally:
                counts.flush()

        return run  # type: ignore[return-value]

    return wrap
