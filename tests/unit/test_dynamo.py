"""shared/dynamo.py: deployed tables hold items written with these keys and this wire format, so both are
pinned here as they were before the vocabulary was shared (the key strings, boto3's serialiser)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from shared import dynamo

AT = datetime(2024, 3, 5, 7, 8, 9, tzinfo=timezone(timedelta(hours=2)))


def test_keys_are_the_strings_the_tables_hold() -> None:
    assert dynamo.shop_pk("s1") == "SHOP#s1"
    assert dynamo.shop_of("SHOP#s1") == "s1"
    assert dynamo.key("SHOP#s1", "PROFILE") == {"pk": {"S": "SHOP#s1"}, "sk": {"S": "PROFILE"}}
    assert dynamo.shop_key("s1", "THEMES") == {"pk": {"S": "SHOP#s1"}, "sk": {"S": "THEMES"}}
    assert dynamo.shop_index_pk("s1", "FEED") == "SHOP#s1#FEED"
    assert dynamo.ordered_sk("2024-01-01", "s1", "i1") == "2024-01-01#s1#i1"
    assert dynamo.sortable_time(AT) == "2024-03-05T05:08:09.000000+00:00"
    assert (dynamo.PROFILE, dynamo.THEMES, dynamo.NOTIFY, dynamo.PROGRAMME) == (
        "PROFILE",
        "THEMES",
        "NOTIFY",
        "SURVEY",
    )
    assert dynamo.api_key_sk("k1") == "APIKEY#k1"


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (dynamo.tombstone_sk("shopify:1"), "TOMBSTONE#shopify:1"),
        (dynamo.export_sk("r1"), "EXPORT#r1"),
        (dynamo.contact_sk("e1"), "CONTACT#e1"),
        (dynamo.suppression_sk("2024-01-01T00:00:00", "i1"), "SUPPRESSION#2024-01-01T00:00:00#i1"),
        (dynamo.SUPPRESSIONS, "SUPPRESSION#"),
        (dynamo.resource_index_pk("s1", "shopify", "order:9"), "RES#s1#shopify#order:9"),
        (dynamo.customer_index_pk("s1", "shopify:c1"), "CUSTOMER#s1#shopify:c1"),
        (dynamo.due_shard_pk(3), "DUE#3"),
        (dynamo.answer_sk("i1"), "ANSWER#i1"),
        (dynamo.mention_sk("m1"), "MENTION#m1"),
        (dynamo.case_sk("c1"), "CASE#c1"),
        (dynamo.open_case_sk("2024-01-01T00:00:00+00:00", "c1"), "OPEN#2024-01-01T00:00:00+00:00#c1"),
        (dynamo.alert_sk("slack", "rule#subject"), "ALERT#slack#rule#subject"),
        (dynamo.batch_sk("slack", "2024-01-01T10:00"), "BATCH#slack#2024-01-01T10:00"),
        (dynamo.day_sk("2024-01-01"), "DAY#2024-01-01"),
        (dynamo.legacy_sent_sk("2024-01-01"), "SENT#2024-01-01"),
        (dynamo.sent_run_sk("run1", "nps"), "SENTRUN#run1#nps"),
        (dynamo.destination_sk("slack"), "DEST#slack"),
        (dynamo.surge_sk("delivery", "2024-01-01"), "SURGE#delivery#2024-01-01"),
        (dynamo.suppressed_sk("h1"), "SUPPRESSED#h1"),
        (dynamo.customer_sk("shopify:c1"), "CUST#shopify:c1"),
        (dynamo.mark_sk("m1"), "MARK#m1"),
        (dynamo.review_sk("trustpilot:r1"), "REVIEW#trustpilot:r1"),
        (dynamo.source_sk("trustpilot"), "SOURCE#trustpilot"),
        (dynamo.case_sk(""), "CASE#"),  # a builder given "" gives its prefix
    ],
)
def test_sort_and_index_keys(built: str, expected: str) -> None:
    assert built == expected


# What the feedback store writes (normalised records' attributes) and more: every type DynamoDB has.
VALUES: dict[str, Any] = {
    "text": "Ünïcode ✓",
    "empty": "",
    "none": None,
    "yes": True,
    "no": False,
    "int": 42,
    "negative": -7,
    "big": 12345678901234567890123456789012345678,
    "decimal": Decimal("19.90"),
    "tiny": Decimal("1E-100"),
    "bytes": b"\x00\x01zlib",
    "bytearray": bytearray(b"\xff"),
    "strings": {"a", "b"},
    "numbers": {1, Decimal("2.5")},
    "binaries": {b"x", b"y"},
    "list": ["a", 1, None, [True]],
    "tuple": ("a", 2),
    "map": {"line_items": [{"title": "Mug", "quantity": 2, "sku": ""}], "nested": {"deep": {"n": 0}}},
}


def _sorted_sets(item: dict[str, Any]) -> dict[str, Any]:
    """Set order on the wire is arbitrary."""
    return {
        k: {t: sorted(v) if t in ("SS", "NS", "BS") else v for t, v in av.items()} for k, av in item.items()
    }


def test_to_item_writes_what_boto3_wrote() -> None:
    boto3_item = {k: TypeSerializer().serialize(v) for k, v in VALUES.items()}

    assert _sorted_sets(dynamo.to_item(VALUES)) == _sorted_sets(boto3_item)
    assert dynamo.to_value(Decimal("19.90")) == {"N": "19.90"}
    assert dynamo.to_value(True) == {"BOOL": True}  # not the number 1


def test_round_trip_gives_the_plain_values_back() -> None:
    back = dynamo.from_item(dynamo.to_item(VALUES))

    assert back == {
        **VALUES,
        "decimal": 19.9,  # numbers come back as JSON's ints and floats
        "tiny": 1e-100,
        "bytearray": b"\xff",
        "numbers": {1, 2.5},
        "tuple": ["a", 2],
    }
    assert isinstance(back["int"], int)
    assert isinstance(back["big"], int)
    assert isinstance(back["bytes"], bytes)
    assert dynamo.from_value({"N": "3.0"}) == 3
    assert isinstance(dynamo.from_value({"N": "3.0"}), int)


@pytest.mark.parametrize(
    "bad", [1.5, object(), set(), {1, "a"}, Decimal("1.2345678901234567890123456789012345678901")]
)
def test_values_dynamodb_cannot_hold_are_refused(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError, ArithmeticError)):
        dynamo.to_value(bad)


def _error(code: str, reasons: list[dict[str, str]] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "m"}}
    if reasons is not None:
        response["CancellationReasons"] = reasons
    return ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


def test_version_conditions() -> None:
    assert dynamo.if_version(None) == {"ConditionExpression": "attribute_not_exists(pk)"}
    assert dynamo.if_version(3, "ver") == {
        "ConditionExpression": "ver = :v",
        "ExpressionAttributeValues": {":v": {"N": "3"}},
    }


def test_written_answers_a_failed_condition_and_raises_anything_else() -> None:
    def failing(code: str) -> Any:
        def write(**request: Any) -> None:
            raise _error(code)

        return write

    assert dynamo.written(lambda **request: None, TableName="t") is True
    assert dynamo.written(failing("ConditionalCheckFailedException")) is False
    with pytest.raises(ClientError):
        dynamo.written(failing("ProvisionedThroughputExceededException"))


def test_cancellation_reasons() -> None:
    cancelled = _error(
        "TransactionCanceledException",
        [{"Code": "None"}, {"Code": "ConditionalCheckFailed"}, {}, {"Code": "TransactionConflict"}],
    )

    assert dynamo.cancellation_codes(cancelled) == [
        "None",
        "ConditionalCheckFailed",
        "None",
        "TransactionConflict",
    ]
    assert dynamo.failed_conditions(cancelled) == {1}
    assert dynamo.failed_conditions(_error("TransactionCanceledException")) == set()
    assert dynamo.condition_failed(_error("ConditionalCheckFailedException"))
    assert not dynamo.condition_failed(cancelled)
    assert not dynamo.condition_failed(ValueError())
