"""Who publishes and who consumes each event, derived from the topology: the table in docs/events.md.

Written with ``python -m shared.event_map > docs/events.md``; tests/unit/test_event_map.py fails when the
file no longer matches the topology, so the map cannot drift from what is deployed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from shared import events, topology


@dataclass(frozen=True)
class EventRoute:
    detail_type: str
    model: str  # its class in shared/events.py; "" for AWS's own events
    publishers: tuple[str, ...]  # functions, then the publishers that are not functions
    consumers: tuple[tuple[str, str, str | None], ...]  # (function, queue, the rule's source filter)


def publishers_of(detail_type: str) -> tuple[str, ...]:
    functions = [fn.logical for fn in topology.FUNCTIONS if detail_type in fn.publishes]
    others = [name for name, published in topology.OTHER_PUBLISHERS if detail_type in published]
    return (*functions, *others)


def consumers_of(detail_type: str) -> tuple[tuple[str, str, str | None], ...]:
    """Through each EventBridge rule naming it, to the queue's consuming function."""
    reader = {fn.queue.queue: fn.logical for fn in topology.FUNCTIONS if fn.queue is not None}
    return tuple(
        (reader[rule.queue], rule.queue, rule.source)
        for rule in topology.EVENT_RULES
        if detail_type in rule.detail_types
    )


def routes() -> list[EventRoute]:
    return [
        EventRoute(
            detail_type=detail_type,
            model=events.CATALOGUE[detail_type].__name__ if detail_type in events.CATALOGUE else "",
            publishers=publishers_of(detail_type),
            consumers=consumers_of(detail_type),
        )
        for detail_type in events.DETAIL_TYPES
    ]


def _consumed(route: EventRoute) -> str:
    if not route.consumers:
        return f"none: {topology.UNCONSUMED.get(route.detail_type, 'NOT DECLARED in topology.UNCONSUMED')}"
    return "<br>".join(
        f"`{function}` ← `{queue}`" + (f" (from {source} only)" if source else "")
        for function, queue, source in route.consumers
    )


def markdown() -> str:
    lines = [
        "# Events on the bus",
        "",
        "Generated from `shared/topology.py` by `python -m shared.event_map > docs/events.md`: edit the",
        "topology, not this file (`tests/unit/test_event_map.py` compares them). The models of the events'",
        "`data` are in `shared/events.py`; every cxloop event travels in its `Envelope`.",
        "",
        "| Event | Model | Published by | Consumed by (function ← queue) |",
        "|---|---|---|---|",
    ]
    for route in routes():
        model = f"`{route.model}`" if route.model else "AWS's"
        published = ", ".join(f"`{p}`" for p in route.publishers) or "nobody"
        lines.append(f"| `{route.detail_type}` | {model} | {published} | {_consumed(route)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
