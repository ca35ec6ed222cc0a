"""Reading a JSON request body that anyone on the internet may send: a body nested deeper than any
real payload is refused as a defect (a 400), never left to blow the parser's or a later step's stack
(a RecursionError would surface as a 5xx, and the sender would retry it for ever)."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # platform payloads nest about 6 deep; DynamoDB itself stops at 32


class TooDeep(ValueError):
    pass


def depth_of(value: Any) -> int:
    """How deep arrays and objects nest (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads(body: bytes | str) -> Any:
    """``json.loads``, raising TooDeep (a ValueError) past MAX_DEPTH levels, and the usual
    JSONDecodeError / UnicodeDecodeError otherwise."""
    try:
        value = json.loads(body)
    except RecursionError as e:
        raise TooDeep(f"nests deeper than {MAX_DEPTH} levels") from e
    if depth_of(value) > MAX_DEPTH:
        raise TooDeep(f"nests deeper than {MAX_DEPTH} levels")
    return value
