"""The signature schemes, checked against independently computed HMACs and the standardwebhooks library."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from cxloop.signing import webhook_headers
from services.feedback.domain.webhooks.intake import Outcome
from shared import signatures
from shared.errors import Unauthorized
from shared.tenancy import Platform, PlatformSecret
from tests.unit.support import T0, World, b64_hmac, body_of, shopify_headers, standard_headers, woo_headers

pytestmark = pytest.mark.unit

BODY = b'{"id":450789469,"email":"bob@example.com","total_price":"409.94"}'
SECRET = "shpss_0123456789abcdef"

HMAC_SCHEMES = [
    pytest.param(signatures.verify_shopify, "x-shopify-hmac-sha256", id="shopify"),
    pytest.param(signatures.verify_woocommerce, "x-wc-webhook-signature", id="woocommerce"),
]


# --- Shopify and WooCommerce: base64(HMAC-SHA256(secret, raw body)) ------------------------------


@pytest.mark.parametrize(
    ("sign", "expected_of"),
    [
        (signatures.shopify_signature, lambda s, b: b64_hmac(s.encode(), b)),
        (signatures.woocommerce_signature, lambda s, b: b64_hmac(s.encode(), b)),
    ],
)
def test_hmac_signature_is_base64_of_hmac_sha256_of_the_raw_body(sign, expected_of):
    assert sign(SECRET, BODY) == expected_of(SECRET, BODY)
    # A known-answer vector (RFC 4231 style key/message, digest computed with openssl):
    assert sign("key", b"The quick brown fox jumps over the lazy dog") == (
        "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
    )


@pytest.mark.parametrize(("verify", "header"), HMAC_SCHEMES)
def test_hmac_verify_accepts_the_right_signature(verify, header):
    assert verify([SECRET], BODY, {header: b64_hmac(SECRET.encode(), BODY)}) is True


@pytest.mark.parametrize(("verify", "header"), HMAC_SCHEMES)
def test_hmac_verify_tolerates_whitespace_around_the_header_value(verify, header):
    assert verify([SECRET], BODY, {header: " " + b64_hmac(SECRET.encode(), BODY) + "\n"}) is True


@pytest.mark.parametrize(("verify", "header"), HMAC_SCHEMES)
def test_hmac_verify_refuses_a_tampered_body(verify, header):
    signature = b64_hmac(SECRET.encode(), BODY)
    tampered = BODY.replace(b"409.94", b"0.01")
    assert verify([SECRET], tampered, {header: signature}) is False
    assert verify([SECRET], BODY + b" ", {header: signature}) is False


@pytest.mark.parametrize(("verify", "header"), HMAC_SCHEMES)
def test_hmac_verify_refuses_a_wrong_secret(verify, header):
    assert verify(["another-secret-value"], BODY, {header: b64_hmac(SECRET.encode(), BODY)}) is False


@pytest.mark.parametrize(("verify", "header"), HMAC_SCHEMES)
def test_hmac_verify_refuses_a_missing_or_empty_header(verify, header):
    assert verify([SECRET], BODY, {}) is False
    assert verify([SECRET], BODY, {header: ""}) is False
    assert verify([SECRET], BODY, {header: "not-base64-at-all"}) is False


@pytest.mark.parametrize(("verify", "header"), HMAC_SCHEMES)
def test_hmac_verify_reads_lower_cased_names_only(verify, header):
    """The handler lower-cases header names; verify does not guess other spellings."""
    signature = b64_hmac(SECRET.encode(), BODY)
    as_sent = {header.title(): signature}
    assert verify([SECRET], BODY, as_sent) is False
    assert verify([SECRET], BODY, {k.lower(): v for k, v in as_sent.items()}) is True


@pytest.mark.parametrize(("verify", "header"), HMAC_SCHEMES)
def test_hmac_verify_with_several_secrets_accepts_any_of_them(verify, header):
    signature = b64_hmac(SECRET.encode(), BODY)
    assert verify(["new-secret-0000", SECRET], BODY, {header: signature}) is True
    assert verify([SECRET, "new-secret-0000"], BODY, {header: signature}) is True
    assert verify(["new-secret-0000", "other-secret-11"], BODY, {header: signature}) is False
    assert verify([], BODY, {header: signature}) is False
    assert verify([""], BODY, {header: b64_hmac(b"", BODY)}) is False  # an empty secret never verifies


@pytest.mark.parametrize(
    ("platform", "topic", "verify"),
    [
        (Platform.SHOPIFY, "orders/create", signatures.verify_shopify),
        (Platform.WOOCOMMERCE, "order.updated", signatures.verify_woocommerce),
    ],
)
def test_cli_headers_verify_once_lower_cased(platform, topic, verify):
    headers = webhook_headers(platform, topic, BODY, SECRET, "shop.example")
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify([SECRET], BODY, lowered) is True
    name = "x-shopify-hmac-sha256" if platform is Platform.SHOPIFY else "x-wc-webhook-signature"
    assert lowered[name] == b64_hmac(SECRET.encode(), BODY)


# --- Rotation: the previous secret stays valid for its grace period ---------------------------------


def test_platform_secret_valid_lists_previous_only_until_it_expires():
    entry = PlatformSecret(current="new-secret-123", previous="old-secret-123", previous_valid_until=T0)
    assert entry.valid(T0 - timedelta(seconds=1)) == ["new-secret-123", "old-secret-123"]
    assert entry.valid(T0) == ["new-secret-123"]
    assert entry.valid(T0 + timedelta(days=1)) == ["new-secret-123"]
    assert PlatformSecret(current="new-secret-123", previous="old-secret-123").valid(T0) == ["new-secret-123"]


@pytest.mark.parametrize("platform", [Platform.SHOPIFY, Platform.WOOCOMMERCE])
def test_intake_accepts_the_previous_secret_while_it_is_valid(platform):
    world = World()
    entry = PlatformSecret(
        current="new-secret-123", previous="old-secret-123", previous_valid_until=T0 + timedelta(hours=1)
    )
    world.add_shop("rotating", {platform: entry})

    def request(order_id: int, secret: str) -> tuple[dict[str, str], bytes]:
        body = body_of(
            {"id": order_id, "updated_at": T0.isoformat(), "date_modified_gmt": "2025-03-01T11:00:00"}
        )
        if platform is Platform.SHOPIFY:
            return shopify_headers(secret, "orders/updated", body), body
        return woo_headers(secret, "order.updated", body), body

    assert world.post(platform, "rotating", *request(1, "old-secret-123")).outcome is Outcome.ACCEPTED
    assert world.post(platform, "rotating", *request(2, "new-secret-123")).outcome is Outcome.ACCEPTED
    # After the grace period the previous secret is refused, the current one still accepted.
    later = T0 + timedelta(hours=2)
    with pytest.raises(Unauthorized):
        world.post(platform, "rotating", *request(3, "old-secret-123"), received_at=later)
    assert (
        world.post(platform, "rotating", *request(4, "new-secret-123"), received_at=later).outcome
        is Outcome.ACCEPTED
    )
    resources = sorted(m.resource for m in world.queue.messages)
    assert resources == ["order#1", "order#2", "order#4"]
    with pytest.raises(Unauthorized):
        world.post(platform, "rotating", *request(5, "never-a-secret"))


# --- Standard Webhooks (BigCommerce) ----------------------------------------------------------------

KEY = b"\x01\x02 bigcommerce signing key \xfe\xff"
WHSEC = "whsec_" + base64.b64encode(KEY).decode()


def test_standard_signature_matches_an_independent_hmac():
    expected = "v1," + b64_hmac(KEY, b"msg_1.1700000000." + BODY)
    assert signatures.standard_signature(WHSEC, "msg_1", 1_700_000_000, BODY) == expected
    # A plain client secret (BigCommerce) is itself the key.
    assert signatures.standard_signature("client-secret", "msg_1", 1_700_000_000, BODY) == (
        "v1," + b64_hmac(b"client-secret", b"msg_1.1700000000." + BODY)
    )


def test_standard_library_signs_and_we_verify():
    wh = Webhook(WHSEC)
    now = int(time.time())
    body = json.dumps({"scope": "store/order/created", "data": {"id": 250}})
    signature = wh.sign("msg_lib", datetime.fromtimestamp(now, tz=UTC), body)
    headers = {"webhook-id": "msg_lib", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert signatures.verify_standard([WHSEC], body.encode(), headers) is True
    assert signatures.verify_standard([WHSEC], body.encode() + b" ", headers) is False
    assert (
        signatures.verify_standard(["whsec_" + base64.b64encode(b"other").decode()], body.encode(), headers)
        is False
    )


def test_standard_library_signs_with_a_plain_client_secret_and_we_verify():
    client_secret = "bc-client-secret-xyz"
    wh = Webhook("whsec_" + base64.b64encode(client_secret.encode()).decode())
    now = int(time.time())
    body = '{"scope":"store/order/statusUpdated"}'
    headers = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(now),
        "webhook-signature": wh.sign("msg_2", datetime.fromtimestamp(now, tz=UTC), body),
    }
    assert signatures.verify_standard([client_secret], body.encode(), headers) is True


@pytest.mark.parametrize("secret", [WHSEC, "bc-client-secret-xyz"])
def test_we_sign_and_the_standard_library_verifies(secret):
    library_secret = (
        secret if secret.startswith("whsec_") else "whsec_" + base64.b64encode(secret.encode()).decode()
    )
    body = b'{"scope":"store/shipment/created","data":{"id":12,"orderId":251}}'
    headers = signatures.standard_headers(secret, "msg_ours", body)
    assert Webhook(library_secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(library_secret).verify(body.replace(b"251", b"252"), headers)


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86_400])
def test_standard_timestamp_outside_tolerance_raises(offset):
    now = 1_700_000_000
    headers = standard_headers(KEY, BODY, now + offset)
    with pytest.raises(signatures.TimestampOutOfRange):
        signatures.verify_standard([WHSEC], BODY, headers, now=now)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_standard_timestamp_inside_tolerance_verifies(offset):
    now = 1_700_000_000
    headers = standard_headers(KEY, BODY, now + offset)
    assert signatures.verify_standard([WHSEC], BODY, headers, now=now) is True


def test_standard_custom_tolerance():
    now = 1_700_000_000
    headers = standard_headers(KEY, BODY, now - 60)
    with pytest.raises(signatures.TimestampOutOfRange):
        signatures.verify_standard([WHSEC], BODY, headers, now=now, tolerance_s=30)
    assert signatures.verify_standard([WHSEC], BODY, headers, now=now, tolerance_s=60) is True


def test_standard_several_signatures_one_valid():
    now = 1_700_000_000
    good = standard_headers(KEY, BODY, now, msg_id="msg_3")
    wrong = "v1," + b64_hmac(b"old key", b"msg_3.1700000000." + BODY)
    other_scheme = "v1a,c2lnbmF0dXJl"
    for signature in (
        f"{wrong} {good['webhook-signature']}",
        f"{good['webhook-signature']} {wrong}",
        f"{other_scheme} {wrong} {good['webhook-signature']}",
    ):
        headers = {**good, "webhook-signature": signature}
        assert signatures.verify_standard([WHSEC], BODY, headers, now=now) is True
    assert (
        signatures.verify_standard(
            [WHSEC], BODY, {**good, "webhook-signature": f"{wrong} {other_scheme}"}, now=now
        )
        is False
    )
    # A valid digest under another version tag is not a v1 signature.
    v2 = good["webhook-signature"].replace("v1,", "v2,")
    assert signatures.verify_standard([WHSEC], BODY, {**good, "webhook-signature": v2}, now=now) is False


def test_standard_signature_binds_the_id_and_timestamp():
    now = 1_700_000_000
    headers = standard_headers(KEY, BODY, now, msg_id="msg_4")
    assert signatures.verify_standard([WHSEC], BODY, {**headers, "webhook-id": "msg_5"}, now=now) is False
    assert (
        signatures.verify_standard([WHSEC], BODY, {**headers, "webhook-timestamp": str(now + 1)}, now=now)
        is False
    )


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_standard_missing_header_is_false(missing):
    now = 1_700_000_000
    headers = standard_headers(KEY, BODY, now)
    del headers[missing]
    assert signatures.verify_standard([WHSEC], BODY, headers, now=now) is False


def test_standard_malformed_timestamp_is_false():
    headers = {**standard_headers(KEY, BODY, 1_700_000_000), "webhook-timestamp": "yesterday"}
    assert signatures.verify_standard([WHSEC], BODY, headers, now=1_700_000_000) is False


def test_bigcommerce_intake_refuses_a_stale_timestamp():
    world = World()
    world.add_shop("bc-shop", {Platform.BIGCOMMERCE: "bc-client-secret"})
    body = body_of({"scope": "store/order/created", "store_id": "1", "data": {"id": 5}, "hash": "h1"})
    headers = standard_headers(b"bc-client-secret", body, int(T0.timestamp()) - 301)
    with pytest.raises(Unauthorized, match="webhook-timestamp"):
        world.post(Platform.BIGCOMMERCE, "bc-shop", headers, body)
    assert world.store.dump("bc-shop") == {}
    assert world.queue.messages == []


# --- Properties --------------------------------------------------------------------------------

secrets_st = st.text(min_size=8, max_size=64).filter(lambda s: s.strip() == s)
bodies_st = st.binary(min_size=1, max_size=512)


def _flip(body: bytes, index: int, delta: int) -> bytes:
    i = index % len(body)
    return body[:i] + bytes([(body[i] + delta) % 256]) + body[i + 1 :]


@settings(max_examples=150, deadline=None)
@given(secret=secrets_st, body=bodies_st, index=st.integers(min_value=0), delta=st.integers(1, 255))
def test_property_hmac_schemes_sign_verify_and_detect_any_byte_change(secret, body, index, delta):
    for sign, verify, header in (
        (signatures.shopify_signature, signatures.verify_shopify, "x-shopify-hmac-sha256"),
        (signatures.woocommerce_signature, signatures.verify_woocommerce, "x-wc-webhook-signature"),
    ):
        headers = {header: sign(secret, body)}
        assert headers[header] == b64_hmac(secret.encode(), body)
        assert verify([secret], body, headers) is True
        assert verify([secret], _flip(body, index, delta), headers) is False


@settings(max_examples=150, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=48),
    body=bodies_st,
    index=st.integers(min_value=0),
    delta=st.integers(1, 255),
    msg_id=st.from_regex(r"msg_[A-Za-z0-9]{1,24}", fullmatch=True),
    timestamp=st.integers(min_value=1_000_000_000, max_value=4_000_000_000),
)
def test_property_standard_sign_verify_and_detect_any_byte_change(key, body, index, delta, msg_id, timestamp):
    secret = "whsec_" + base64.b64encode(key).decode()
    headers = signatures.standard_headers(secret, msg_id, body, timestamp)
    assert headers["webhook-signature"] == "v1," + b64_hmac(key, f"{msg_id}.{timestamp}.".encode() + body)
    assert signatures.verify_standard([secret], body, headers, now=timestamp) is True
    assert signatures.verify_standard([secret], _flip(body, index, delta), headers, now=timestamp) is False


@settings(max_examples=100, deadline=None)
@given(key=st.binary(min_size=1, max_size=48), text=st.text(min_size=1, max_size=200))
def test_property_standard_interop_both_ways(key, text):
    whsec = "whsec_" + base64.b64encode(key).decode()
    body = json.dumps({"text": text})
    now = int(time.time())
    theirs = Webhook(whsec).sign("msg_p", datetime.fromtimestamp(now, tz=UTC), body)
    headers = {"webhook-id": "msg_p", "webhook-timestamp": str(now), "webhook-signature": theirs}
    assert signatures.verify_standard([whsec], body.encode(), headers, now=now) is True
    ours = signatures.standard_headers(whsec, "msg_p", body.encode(), now)
    assert ours["webhook-signature"] == theirs
    Webhook(whsec).verify(body.encode(), ours)  # raises if it does not verify


def test_unpadded_whsec_secret_verifies_like_the_library():
    key = bytes(range(31))  # base64 of 31 bytes ends in one '='
    unpadded = "whsec_" + base64.b64encode(key).decode().rstrip("=")
    now = int(time.time())
    body = '{"scope":"store/order/created"}'
    signature = Webhook(unpadded).sign("msg_u", datetime.fromtimestamp(now, tz=UTC), body)
    headers = {"webhook-id": "msg_u", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert signatures.verify_standard([unpadded], body.encode(), headers, now=now) is True
