"""The local AWS emulator's state, written through to SQLite so that it survives restarts and kill -9.

Moto keeps everything in memory. Here every request that changes a DynamoDB item, an SQS message or a
Secrets Manager secret has the change committed to one SQLite file (WAL) before its response leaves
the server: whatever a client was told happened is on disk, and a request killed half way was never
acknowledged, so its client retries. SQLite is the mechanism because its crash guarantees are
documented and tested (https://www.sqlite.org/atomiccommit.html); moto offers no persistence of its own.

What is stored is the state as the AWS APIs show it (items as GetItem returns them, messages, secret
values), never moto's objects. Tables and queues themselves are not stored: `cxloop run` provisions
them from the code on every start, and each gets its stored items or messages back as it is created.
Secrets come back when the server starts. Not kept: message visibility and receive counts (a
message that was in flight is delivered again, as SQS may do anyway; every consumer is idempotent),
EventBridge rules (provisioned again), and moto's other services, which cxloop does not use locally.
"""

from __future__ import annotations

import contextlib
import fcntl
import inspect
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moto.secretsmanager.models as secrets_models
import moto.sqs.models as sqs_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.utilities import dynamo_json_dump

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    account TEXT, region TEXT, tbl TEXT, key TEXT, item TEXT NOT NULL,
    PRIMARY KEY (account, region, tbl, key)
);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, account TEXT, region TEXT, queue TEXT, seq INTEGER, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (account, region, queue, seq);
CREATE TABLE IF NOT EXISTS secrets (
    account TEXT, region TEXT, name TEXT, value TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);
"""

# synchronous=FULL fsyncs the WAL at every commit: a write survives a power cut, not only kill -9.
# NORMAL survives kill -9 of any process (the OS has the write) but not an OS crash or power cut.
SYNC_MODES = ("full", "normal")


class StateInUse(RuntimeError):
    pass


@dataclass(frozen=True)
class _Item:
    backend: DynamoDBBackend
    table: str
    key: str  # canonical JSON of the key attributes, as the wire shows them


@dataclass(frozen=True)
class _Message:
    queue: Any  # moto's Queue
    message: Any  # moto's Message
    removed: bool = False


@dataclass(frozen=True)
class _Purge:
    account: str
    region: str
    queue: str


@dataclass(frozen=True)
class _DropTable:
    account: str
    region: str
    table: str


@dataclass(frozen=True)
class _Secret:
    backend: Any  # moto's SecretsManagerBackend
    name: str


def canonical_key(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


class StateStore:
    """One SQLite file; the changes of one request are committed together."""

    def __init__(self, path: Path, sync: str = "full") -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"sync: {sync!r} is not one of {', '.join(SYNC_MODES)}")
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lockfile = (path.parent / (path.name + ".lock")).open("a+")
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise StateInUse(f"{path} is in use by another local AWS server") from e
        self._lockfile.seek(0)
        self._lockfile.truncate()
        self._lockfile.write(str(os.getpid()))
        self._lockfile.flush()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={sync.upper()}")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._seq = self._db.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()[0]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def commit(self, changes: list[object]) -> None:
        """Write the state the changes left (read now, after the request), in one transaction."""
        with self._transaction() as db:
            seen: set[object] = set()
            for change in changes:
                if isinstance(change, _Item):
                    if change in seen:
                        continue
                    seen.add(change)
                    self._write_item(db, change)
                elif isinstance(change, _Message):
                    self._write_message(db, change)
                elif isinstance(change, _Purge):
                    db.execute(
                        "DELETE FROM messages WHERE account=? AND region=? AND queue=?",
                        (change.account, change.region, change.queue),
                    )
                elif isinstance(change, _DropTable):
                    db.execute(
                        "DELETE FROM items WHERE account=? AND region=? AND tbl=?",
                        (change.account, change.region, change.table),
                    )
                elif isinstance(change, _Secret):
                    self._write_secret(db, change)

    @staticmethod
    def _write_item(db: sqlite3.Connection, change: _Item) -> None:
        b = change.backend
        where = (b.account_id, b.region_name, change.table, change.key)
        try:
            item = b.get_item(change.table, json.loads(change.key))
        except Exception:  # the table went away in the same request
            item = None
        if item is None:
            db.execute("DELETE FROM items WHERE account=? AND region=? AND tbl=? AND key=?", where)
        else:
            db.execute(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)",
                (*where, dynamo_json_dump(item.to_json()["Attributes"])),
            )

    def _write_message(self, db: sqlite3.Connection, change: _Message) -> None:
        m, q = change.message, change.queue
        if change.removed:
            db.execute("DELETE FROM messages WHERE id=?", (m.id,))
            return
        self._seq += 1
        body = {
            "body": m.body,
            "message_attributes": m.message_attributes,
            "system_attributes": m.system_attributes,
            "sent_timestamp": m.sent_timestamp,
            "delayed_until": m.delayed_until,
            "group_id": m.group_id,
            "deduplication_id": m.deduplication_id,
            "sequence_number": m.sequence_number,
        }
        db.execute(
            "INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?, ?)",
            (m.id, q.account_id, q.region, q.name, self._seq, json.dumps(body, default=str)),
        )

    @staticmethod
    def _write_secret(db: sqlite3.Connection, change: _Secret) -> None:
        b = change.backend
        where = (b.account_id, b.region_name, change.name)
        try:
            value = b.get_secret_value(change.name, None, None).get("SecretString")
        except Exception:  # deleted (or marked for deletion)
            value = None
        if value is None:
            db.execute("DELETE FROM secrets WHERE account=? AND region=? AND name=?", where)
        else:
            db.execute("INSERT OR REPLACE INTO secrets VALUES (?, ?, ?, ?)", (*where, value))

    def items(self, account: str, region: str, table: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT item FROM items WHERE account=? AND region=? AND tbl=?", (account, region, table)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def messages(self, account: str, region: str, queue: str) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, message FROM messages WHERE account=? AND region=? AND queue=? ORDER BY seq",
                (account, region, queue),
            ).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]

    def secrets(self) -> list[tuple[str, str, str, str]]:
        with self._lock:
            return list(self._db.execute("SELECT account, region, name, value FROM secrets").fetchall())

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                t: self._db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 (fixed names)
                for t in ("items", "messages", "secrets")
            }


class _Pending(threading.local):
    def __init__(self) -> None:
        self.changes: list[object] = []
        self.restoring = False


_pending = _Pending()


@contextlib.contextmanager
def _restoring() -> Iterator[None]:
    """What is put back from the store is not noted again."""
    _pending.restoring = True
    try:
        yield
    finally:
        _pending.restoring = False


def _note(change: object) -> None:
    if not _pending.restoring:
        _pending.changes.append(change)


def _item_key(backend: DynamoDBBackend, table_name: str, item: dict[str, Any]) -> str:
    table = backend.get_table(table_name)
    names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
    return canonical_key({n: item[n] for n in names if n in item})


def _wrap(owner: type, name: str, after: Callable[..., None]) -> None:
    """Call ``after(self, result, arguments)`` once the original method has run, even if it raised;
    ``arguments`` are the call's, by parameter name, however moto passed them."""
    original = getattr(owner, name)
    signature = inspect.signature(original)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = None
        try:
            result = original(self, *args, **kwargs)
            return result
        finally:
            after(self, result, signature.bind(self, *args, **kwargs).arguments)

    method.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(owner, name, method)


def _dynamodb_hooks(store: StateStore) -> None:
    def put(self: DynamoDBBackend, _: Any, args: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # no such table: nothing changed
            _note(_Item(self, args["table_name"], _item_key(self, args["table_name"], args["item_attrs"])))

    def by_key(self: DynamoDBBackend, _: Any, args: dict[str, Any]) -> None:
        _note(_Item(self, args["table_name"], canonical_key(args["key"])))

    def created(self: DynamoDBBackend, table: Any, args: dict[str, Any]) -> None:
        if table is None:
            return
        with _restoring():
            for attrs in store.items(self.account_id, self.region_name, args["name"]):
                table.put_item(attrs)

    def dropped(self: DynamoDBBackend, table: Any, args: dict[str, Any]) -> None:
        if table is not None:
            _note(_DropTable(self.account_id, self.region_name, args["name"]))

    _wrap(DynamoDBBackend, "put_item", put)
    _wrap(DynamoDBBackend, "update_item", by_key)
    _wrap(DynamoDBBackend, "delete_item", by_key)
    _wrap(DynamoDBBackend, "create_table", created)
    _wrap(DynamoDBBackend, "delete_table", dropped)


def _restore_message(queue: Any, message_id: str, saved: dict[str, Any]) -> None:
    m = sqs_models.Message(message_id, saved["body"], saved.get("system_attributes") or {})
    m.message_attributes = saved.get("message_attributes") or {}
    m.sent_timestamp = saved.get("sent_timestamp")
    m.delayed_until = float(saved.get("delayed_until") or 0)
    m.group_id = saved.get("group_id")
    m.deduplication_id = saved.get("deduplication_id")
    m.sequence_number = saved.get("sequence_number")
    with queue._messages_lock:
        queue._messages.append(m)


def _sqs_hooks(store: StateStore) -> None:
    queue_cls, backend_cls = sqs_models.Queue, sqs_models.SQSBackend

    def added(self: Any, _: Any, args: dict[str, Any]) -> None:
        message = args["message"]
        if any(m is message for m in self._messages):
            _note(_Message(self, message))

    original_delete = queue_cls.delete_message

    def delete_message(self: Any, receipt_handle: str) -> None:
        before = {m.id: m for m in self._messages}
        try:
            original_delete(self, receipt_handle)
        finally:
            after = {m.id for m in self._messages}
            for mid, m in before.items():
                if mid not in after:
                    _note(_Message(self, m, removed=True))

    def emptied(self: Any, _: Any, args: dict[str, Any]) -> None:
        _note(_Purge(self.account_id, self.region_name, args["queue_name"]))

    original_create = backend_cls.create_queue

    def create_queue(self: Any, name: str, tags: dict[str, str] | None = None, **kwargs: Any) -> Any:
        new = name not in self.queues
        queue = original_create(self, name, tags, **kwargs)
        if new:
            for message_id, saved in store.messages(self.account_id, self.region_name, name):
                _restore_message(queue, message_id, saved)
        return queue

    _wrap(queue_cls, "add_message", added)
    queue_cls.delete_message = delete_message  # type: ignore[method-assign]
    _wrap(backend_cls, "purge_queue", emptied)
    _wrap(backend_cls, "delete_queue", emptied)
    backend_cls.create_queue = create_queue  # type: ignore[method-assign]


def _secret_name(backend: Any, secret_id: str) -> str | None:
    try:
        return str(backend.secrets[secret_id].name)
    except Exception:
        return None


def _noting_secret(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)
    id_param = "name" if "name" in signature.parameters else "secret_id"

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        secret_id = signature.bind(self, *args, **kwargs).arguments[id_param]
        known = _secret_name(self, secret_id)
        try:
            return original(self, *args, **kwargs)
        finally:
            final = known or _secret_name(self, secret_id)
            if final:
                _note(_Secret(self, final))

    return method


def _secrets_hooks() -> None:
    cls = secrets_models.SecretsManagerBackend
    for name in ("create_secret", "put_secret_value", "update_secret", "delete_secret", "restore_secret"):
        setattr(cls, name, _noting_secret(getattr(cls, name)))


def restore_secrets(store: StateStore) -> int:
    rows = store.secrets()
    with _restoring():
        for account, region, name, value in rows:
            secrets_models.secretsmanager_backends[account][region].create_secret(
                name=name,
                secret_string=value,
                secret_binary=None,
                description=None,
                tags=None,
                kms_key_id=None,
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
    return len(rows)


def install(store: StateStore) -> None:
    """Hook moto's models so that every change is noted, and what is stored comes back on creation."""
    _dynamodb_hooks(store)
    _sqs_hooks(store)
    _secrets_hooks()


class WriteThrough:
    """WSGI middleware: the changes a request made are committed before its response is returned.

    Werkzeug writes nothing to the socket until the body is iterated, so the client sees no answer,
    headers included, before the commit. A commit that fails (a full disk) ends the server at once:
    its memory would hold what the disk does not, and a retried write would be taken as done. The
    stack starts it again from what the disk holds."""

    def __init__(self, app: Callable[..., Iterable[bytes]], store: StateStore) -> None:
        self.app = app
        self.store = store

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        _pending.changes = []
        try:
            return list(self.app(environ, start_response))
        finally:
            changes, _pending.changes = _pending.changes, []
            if changes:
                try:
                    self.store.commit(changes)
                except BaseException as e:
                    print(f"state: could not write {self.store.path} ({e!r}); stopping", flush=True)
                    os._exit(70)
