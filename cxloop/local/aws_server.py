"""Moto's server, with DynamoDB requests serialised and transactions that cost what they touch.

1. Moto's threaded server evaluates a conditional write and applies it without a lock, so two
   concurrent transactions can both pass their conditions; real DynamoDB never lets that happen.
   The consumer's last-writer-wins rule depends on it, so here every DynamoDB request runs alone.
2. Moto backs up every table a transaction names with a deep copy before applying it, so each
   TransactWriteItems costs time in proportion to the whole table (quadratic over a run). Here the
   backup is of the items the transaction touches, restored the same way if it is cancelled.
3. Moto's SQS reads every message's visibility through a datetime-based clock (~20 us a call) and
   SendMessage recounts the whole queue; with a backlog that made each send ~0.1 s. Here SQS reads
   the clock with ``time.time()``.
4. Moto's SQS and EventBridge share queues without a lock: a PutEvents delivering to a queue while
   another thread receives from it lost one message and duplicated another (seen in the demo). Here
   SQS and EventBridge requests run one at a time, and the local pump polls without long waits.
5. With ``--state-file``, items, messages and secrets are written through to SQLite before each
   response (``cxloop.local.durable``), so the state survives a restart and kill -9.
6. With ``--gated``, every request but the stack's own provisioning is answered 503 (which the AWS
   SDKs retry) until the stack opens the gate: between a restart and the end of provisioning, a
   table or queue could be missing, or an event published with no rule yet to take it.
Every other service is served as moto serves it.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import ctypes.util
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import moto.dynamodb.models as dynamodb_models
import moto.sqs.models as sqs_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from cxloop.local import durable
from cxloop.local.gate import GATE_PATH, PROVISIONING_HEADER


class Serialised:
    """DynamoDB requests one at a time; SQS and EventBridge requests one at a time (PutEvents
    delivers into SQS queues inside the request, racing a concurrent ReceiveMessage otherwise)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.dynamodb = threading.Lock()
        self.messaging = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        lock = (
            self.dynamodb
            if target.startswith("DynamoDB_")
            else self.messaging
            if target.startswith(("AmazonSQS.", "AWSEvents."))
            else None
        )
        if lock is None:
            return self.app(environ, start_response)
        with lock:
            return list(self.app(environ, start_response))


class _TablesStayPut:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: tables are not copied."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


class Gate:
    """503 "starting" to everyone but the provisioner until ``POST /_cxloop/gate/open``."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.open = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == GATE_PATH and environ.get("REQUEST_METHOD") == "POST":
            self.open.set()
            start_response("204 No Content", [])
            return []
        header = "HTTP_" + PROVISIONING_HEADER.upper().replace("-", "_")
        if self.open.is_set() or environ.get(header) or environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        body = b'{"__type": "ServiceUnavailable", "message": "starting: tables and queues being provisioned"}'
        start_response(
            "503 Service Unavailable",
            [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
        )
        return [body]


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    names = [table.hash_key_attr, table.range_key_attr]
    return {name: op["Item"][name] for name in names if name}


def item_level_transactions() -> None:
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        before = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            key = _key_of(self, op_type, op)
            current = self.get_item(op["TableName"], key)
            before.append(
                (op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None)
            )
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, attrs in reversed(before):
                if attrs is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attrs)
            raise

    dynamodb_models.copy = _TablesStayPut()  # type: ignore[attr-defined,assignment]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def fast_sqs_clock() -> None:
    slow = sqs_models.unix_time_millis  # type: ignore[attr-defined]

    def unix_time_millis(dt: datetime | None = None) -> float:
        return time.time() * 1000.0 if dt is None else float(slow(dt))

    sqs_models.unix_time_millis = unix_time_millis  # type: ignore[attr-defined]


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with(parent_pid: int) -> None:
    """End this server when the stack that started it ends, however it ends (kill -9 included): an
    orphan would keep every shop's secrets in memory and hold the port for the next stack.
    Linux's PR_SET_PDEATHSIG where there is one; elsewhere a thread that watches the parent."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(0)

    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(0)
    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, help="end when this process ends")
    parser.add_argument("--state-file", type=Path, help="keep the state in this SQLite file")
    parser.add_argument("--sync", choices=durable.SYNC_MODES, default="full", help="SQLite synchronous mode")
    parser.add_argument("--gated", action="store_true", help=f"answer 503 until POST {GATE_PATH}")
    args = parser.parse_args(argv)
    if args.parent_pid:
        die_with(args.parent_pid)
    item_level_transactions()
    fast_sqs_clock()
    served: Callable[..., Iterable[bytes]] = DomainDispatcherApplication(create_backend_app)
    if args.state_file:
        try:
            store = durable.StateStore(args.state_file, args.sync)
        except durable.StateInUse as e:
            raise SystemExit(f"--state-file: {e}") from e
        durable.install(store)
        restored = durable.restore_secrets(store)
        print(f"state: {args.state_file} ({store.counts()}; {restored} secrets restored)", flush=True)
        served = durable.WriteThrough(served, store)
    app: Callable[..., Iterable[bytes]] = Serialised(served)
    if args.gated:
        app = Gate(app)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
