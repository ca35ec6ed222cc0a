"""The event catalogue, the topology's publishers and rules, and docs/events.md agree."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from shared import event_map, events, topology

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def published() -> set[str]:
    by_functions = {t for fn in topology.FUNCTIONS for t in fn.publishes}
    return by_functions | {t for _, types in topology.OTHER_PUBLISHERS for t in types}


def consumed() -> set[str]:
    return {t for rule in topology.EVENT_RULES for t in rule.detail_types}


def test_docs_events_md_is_what_the_topology_generates() -> None:
    assert DOCS.read_text() == event_map.markdown(), (
        "docs/events.md is stale: python -m shared.event_map > docs/events.md"
    )


def test_every_detail_type_constant_is_in_the_catalogue_and_every_cxloop_event_has_a_model() -> None:
    names = {v for k, v in vars(events).items() if k.isupper() and isinstance(v, str)} - {
        events.SOURCE_PREFIX
    }
    assert names == set(events.DETAIL_TYPES)
    assert set(events.CATALOGUE).isdisjoint(events.AWS_EVENTS)
    assert all(issubclass(model, BaseModel) for model in events.CATALOGUE.values())


def test_the_topology_names_only_catalogued_events() -> None:
    assert published() | consumed() | set(topology.UNCONSUMED) <= set(events.DETAIL_TYPES)


def test_every_constant_is_published_and_consumed_or_declared_unconsumed() -> None:
    assert published() == set(events.DETAIL_TYPES), "an event nobody publishes, or a publisher not declared"
    assert consumed() | set(topology.UNCONSUMED) == set(events.DETAIL_TYPES)


def test_an_event_declared_unconsumed_really_has_no_consumer() -> None:
    assert not consumed() & set(topology.UNCONSUMED)


def test_every_rule_feeds_a_queue_a_function_reads() -> None:
    read = {fn.queue.queue for fn in topology.FUNCTIONS if fn.queue is not None}
    assert {rule.queue for rule in topology.EVENT_RULES} <= read


def test_a_function_publishes_exactly_when_it_may_put_on_the_bus() -> None:
    for fn in topology.FUNCTIONS:
        assert bool(fn.publishes) == ((topology.BUS, "put") in fn.grants), fn.logical


def test_the_map_names_each_events_publishers_and_consumers() -> None:
    route = {r.detail_type: r for r in event_map.routes()}
    assert route[events.SHOP_ERASED].publishers == ("feedback-events",)
    assert route[events.SHOP_ERASED].consumers == (
        ("reviews-events", "reviews-events", "cxloop.feedback"),
        ("notifier-events", "notifier-events", None),
    )
    assert route[events.SES_BOUNCED].model == "" and route[events.SES_BOUNCED].publishers == ("aws.ses",)
    assert route[events.SOURCE_FAILING].model == "SourceFailing"
