"""Running Lambda handlers in this process the way Lambda would: one warm container per function."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared import topology


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


class Functions:
    """Imports each function's module once (its cold start) and invokes it with a fresh context, one
    invocation at a time per function, as one Lambda container runs them. Handlers may keep
    per-request state in module globals (powertools' resolvers keep the current event and its context
    there); two requests in one function at once would mix it up, e.g. one shop's answer for another."""

    def __init__(self, prefix: str = "cxloop", region: str = "us-east-1") -> None:
        self._prefix = prefix
        self._region = region
        self._handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        self._lock = threading.Lock()
        self._running: dict[str, threading.Lock] = {fn.logical: threading.Lock() for fn in topology.FUNCTIONS}

    def handler(self, fn: topology.Function) -> Callable[[dict[str, Any], Any], Any]:
        with self._lock:
            if fn.logical not in self._handlers:
                module, _, name = fn.handler.partition(":")
                self._handlers[fn.logical] = getattr(importlib.import_module(module), name)
            return self._handlers[fn.logical]

    def warm(self) -> None:
        """Import every function now (their cold starts), so logging can be routed before traffic."""
        for fn in topology.FUNCTIONS:
            self.handler(fn)

    def invoke(self, fn: topology.Function, event: dict[str, Any]) -> Any:
        name = topology.physical(self._prefix, fn.logical)
        context = LambdaContext(
            function_name=name,
            memory_limit_in_mb=fn.memory_mb,
            timeout_s=fn.timeout_s,
            invoked_function_arn=f"arn:aws:lambda:{self._region}:123456789012:function:{name}",
        )
        handler = self.handler(fn)
        with self._running.setdefault(fn.logical, threading.Lock()):
            return handler(event, context)
