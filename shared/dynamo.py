"""One DynamoDB vocabulary for every table: the keys, the wire format of values, the conditional writes.

The tables (shared/topology.py) all key an item by ``pk``/``sk`` strings, partitioned by shop: ``pk`` is
always ``SHOP#<shop>``. Key builders return plain strings; ``key``/``shop_key`` make the attribute-value
dict botocore takes. A builder given "" for its last part gives its prefix (for ``begins_with``).
The feedback domain's record ids (``order_sk``, ``customer_sk``, ``invitation_sk``, an event's
``sort_key``) stay in the domain: its ports and in-memory fakes speak them.

Values go over botocore's wire format directly (``{"S": ...}``): ``to_item``/``from_item`` write what
``boto3.dynamodb.types`` wrote (same types, same number strings), without importing boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

from botocore.exceptions import ClientError

AttributeValue = dict[str, Any]  # one value on the wire: {"S": "x"}, {"N": "1"}, {"M": {...}} ...
Item = dict[str, AttributeValue]

# --- keys: every table ----------------------------------------------------------------------------


def shop_pk(shop_id: str) -> str:
    """Every table's partition key: one shop's items together (and erased together)."""
    return f"SHOP#{shop_id}"


def shop_of(pk: str) -> str:
    """The shop a partition key (or an index key read back) belongs to."""
    return pk.removeprefix("SHOP#")


def key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def shop_key(shop_id: str, sk: str) -> Item:
    return key(shop_pk(shop_id), sk)


def shop_index_pk(shop_id: str, part: str) -> str:
    """An index partition of one shop's records, ``SHOP#<shop>#<part>``: the notifier's ``gsi1`` (part
    ANSWER, MENTION, CASE), ``feed`` (FEED, RISK) and ``customer`` (the customer key) indexes, the
    reviews' ``gsi1`` (REVIEWS)."""
    return f"{shop_pk(shop_id)}#{part}"


def ordered_sk(order: str, *ids: str) -> str:
    """An index's sort key: what orders the index (a time, a score), then the ids that make it unique.
    The sparse work indexes (``pending``, ``due``) put the shop first among the ids."""
    return "#".join((order, *ids))


def sortable_time(at: datetime) -> str:
    """The feedback table's times: UTC, always with microseconds, so their strings sort as the times do."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


# --- keys: the shops table (``<prefix>-shops``) ---------------------------------------------------

PROFILE = "PROFILE"  # the shop's profile
THEMES = "THEMES"  # its theme taxonomy (scoring)
NOTIFY = "NOTIFY"  # its notifier settings
PROGRAMME = "SURVEY"  # its survey programme (feedback)


def api_key_sk(key_id: str) -> str:
    """Shops table: one of the shop's dashboard API keys."""
    return f"APIKEY#{key_id}"


# --- keys: the feedback table ---------------------------------------------------------------------


def tombstone_sk(key: str) -> str:
    """Feedback table: an erased person, order or (``SHOP``) the shop itself."""
    return f"TOMBSTONE#{key}"


def export_sk(request_id: str) -> str:
    """Feedback table: a customer's data export."""
    return f"EXPORT#{request_id}"


def contact_sk(email_key: str) -> str:
    """Feedback table: a survey contact (suppression, last surveyed)."""
    return f"CONTACT#{email_key}"


SUPPRESSIONS = "SUPPRESSION#"


def suppression_sk(at: str, invite_id: str) -> str:
    """Feedback table: one decision not to send a survey, newest last."""
    return f"{SUPPRESSIONS}{at}#{invite_id}"


def resource_index_pk(shop_id: str, platform: str, resource: str) -> str:
    """Feedback table's ``gsi1``: the raw events of one platform resource (found again on erasure)."""
    return f"RES#{shop_id}#{platform}#{resource}"


def customer_index_pk(shop_id: str, customer_key: str) -> str:
    """Feedback table's ``gsi1``: a customer's orders."""
    return f"CUSTOMER#{shop_id}#{customer_key}"


def due_shard_pk(shard: int) -> str:
    """Feedback table's ``due`` index: one shard of the invitations due to be sent."""
    return f"DUE#{shard}"


# --- keys: the notifier table (``<prefix>-notifier``) ---------------------------------------------


def answer_sk(invite_id: str) -> str:
    """Notifier table: a survey answer and its reading."""
    return f"ANSWER#{invite_id}"


def mention_sk(mention_id: str) -> str:
    """Notifier table: a scored review or mention."""
    return f"MENTION#{mention_id}"


def case_sk(case_id: str) -> str:
    """Notifier table: a case."""
    return f"CASE#{case_id}"


OPEN_CASES = "OPEN#"


def open_case_sk(target: str, case_id: str) -> str:
    """Notifier table: an open case's marker, by its first-reply target."""
    return f"{OPEN_CASES}{target}#{case_id}"


def alert_sk(destination: str, alert_key: str) -> str:
    """Notifier table: the dedupe marker of one alert to one destination."""
    return f"ALERT#{destination}#{alert_key}"


BATCHES = "BATCH#"


def batch_sk(destination: str, window: str) -> str:
    """Notifier table: the alerts of one message to one destination."""
    return f"{BATCHES}{destination}#{window}"


def day_sk(day: str) -> str:
    """Notifier table: one day's totals."""
    return f"DAY#{day}"


def legacy_sent_sk(day: str) -> str:
    """Notifier table: a day's sends as counted before the day's totals held them."""
    return f"SENT#{day}"


def sent_run_sk(run_id: str, survey_type: str) -> str:
    """Notifier table: a dispatcher run's sends of one survey type (counted once)."""
    return f"SENTRUN#{run_id}#{survey_type}"


def destination_sk(name: str) -> str:
    """Notifier table: an alert destination's state (broken, blocked until)."""
    return f"DEST#{name}"


def surge_sk(theme: str, day: str) -> str:
    """Notifier table: the subjects that raised a theme on one day."""
    return f"SURGE#{theme}#{day}"


def suppressed_sk(email_hash: str) -> str:
    """Notifier table: an address that must not be mailed."""
    return f"SUPPRESSED#{email_hash}"


def customer_sk(customer_key: str) -> str:
    """Notifier table: a customer's orders and churn risk."""
    return f"CUST#{customer_key}"


RISK_RUN_SK = "RISKRUN"  # Notifier table: when the shop's churn risk was last computed, and its bar


def mark_sk(mark: str) -> str:
    """Notifier table: a once-only marker."""
    return f"MARK#{mark}"


# --- keys: the reviews table ----------------------------------------------------------------------


def review_sk(mention_id: str) -> str:
    """Reviews table: a review as pulled from its source."""
    return f"REVIEW#{mention_id}"


def source_sk(source: str) -> str:
    """Reviews table: the shop's connection to a review source."""
    return f"SOURCE#{source}"


# --- values ---------------------------------------------------------------------------------------

# DynamoDB's numbers: 38 digits, nothing rounded silently (boto3's DYNAMODB_CONTEXT).
_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def to_value(value: Any) -> AttributeValue:
    """Floats are refused (a decimal store would round them): pass ints, Decimals or strings."""
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    for types, encode in _ENCODERS:  # bool before int: a bool is an int too
        if isinstance(value, types):
            return encode(value)
    raise TypeError(f"Unsupported type {type(value)!r} for value {value!r}")


def _number_text(value: int | Decimal) -> str:
    return str(_NUMBERS.create_decimal(value))


def _set(values: set[Any] | frozenset[Any]) -> AttributeValue:
    if not values:
        raise ValueError("DynamoDB stores no empty set")
    if all(isinstance(v, int | Decimal) and not isinstance(v, bool) for v in values):
        return {"NS": [_number_text(v) for v in values]}
    if all(isinstance(v, str) for v in values):
        return {"SS": list(values)}
    if all(isinstance(v, bytes | bytearray) for v in values):
        return {"BS": list(values)}
    raise TypeError(f"A set holds one type of number, string or binary: {values!r}")


_ENCODERS: tuple[tuple[type | tuple[type, ...], Callable[[Any], AttributeValue]], ...] = (
    (type(None), lambda _: {"NULL": True}),
    (bool, lambda v: {"BOOL": v}),
    ((int, Decimal), lambda v: {"N": _number_text(v)}),
    (str, lambda v: {"S": v}),
    ((bytes, bytearray), lambda v: {"B": v}),
    ((set, frozenset), _set),
    (Mapping, lambda v: {"M": to_item(v)}),
    ((list, tuple), lambda v: {"L": [to_value(x) for x in v]}),
)


def from_value(value: AttributeValue) -> Any:
    """Numbers come back as the ints and floats JSON has (the domain's values came from JSON)."""
    ((kind, raw),) = value.items()
    return _DECODERS[kind](raw)


def _number(text: str) -> int | float:
    number = _NUMBERS.create_decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def to_item(values: Mapping[str, Any]) -> Item:
    return {name: to_value(v) for name, v in values.items()}


def from_item(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    return {name: from_value(v) for name, v in item.items()}


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "NULL": lambda _: None,
    "BOOL": lambda raw: raw,
    "N": _number,
    "S": lambda raw: raw,
    "B": bytes,
    "SS": set,
    "NS": lambda raw: {_number(n) for n in raw},
    "BS": lambda raw: {bytes(b) for b in raw},
    "M": from_item,
    "L": lambda raw: [from_value(v) for v in raw],
}


# --- conditional writes ---------------------------------------------------------------------------

ABSENT = "attribute_not_exists(pk)"  # the condition of a put that must not replace anything
CONDITION_FAILED = "ConditionalCheckFailed"  # a cancelled transaction's reason


def if_version(expected: int | None, attr: str = "version") -> dict[str, Any]:
    """A write's condition for optimistic concurrency: the item still has the version read (None: there
    is no item yet)."""
    if expected is None:
        return {"ConditionExpression": ABSENT}
    return {
        "ConditionExpression": f"{attr} = :v",
        "ExpressionAttributeValues": {":v": {"N": str(expected)}},
    }


def condition_failed(error: Exception) -> bool:
    """A single call's condition failed (botocore's ``ConditionalCheckFailedException``)."""
    code = error.response["Error"]["Code"] if isinstance(error, ClientError) else None
    return code == f"{CONDITION_FAILED}Exception"


def written(write: Callable[..., Any], **request: Any) -> bool:
    """Make one conditional call (``put_item``, ``update_item`` ...); False when its condition failed: an
    answer (someone wrote first, or there is nothing to change), not an error."""
    try:
        write(**request)
    except ClientError as e:
        if not condition_failed(e):
            raise
        return False
    return True


def cancellation_codes(error: ClientError) -> list[str]:
    """Why a transaction was cancelled, one code per item in order ("None" for an item that was fine)."""
    return [r.get("Code", "None") for r in error.response.get("CancellationReasons") or []]


def failed_conditions(error: ClientError) -> set[int]:
    """The positions of a cancelled transaction's items whose condition failed (empty: cancelled for
    another reason, such as a conflict or throttling, which is worth retrying)."""
    return {i for i, code in enumerate(cancellation_codes(error)) if code == CONDITION_FAILED}
