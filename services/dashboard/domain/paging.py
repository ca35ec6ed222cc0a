"""Opaque page cursors: the position a list gave out, as URL-safe text. A cursor carries sort keys only
(never a shop: every list is read in the caller's own shop), so a forged or foreign one can at most
start a page elsewhere in the caller's own records, or be refused as malformed."""

from __future__ import annotations

import base64
import binascii
import json

MAX_CURSOR_CHARS = 600


class BadCursor(ValueError):
    """Not a cursor this API gave out."""


def encode(position: dict[str, str] | None) -> str | None:
    if position is None:
        return None
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None) -> dict[str, str] | None:
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise BadCursor("cursor is too long")
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as e:
        raise BadCursor("cursor is not one this API gave out") from e
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadCursor("cursor is not one this API gave out")
    return value
