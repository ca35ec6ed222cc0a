"""Reading an invoices CSV (the layout of ../shared/data/orders: invoice, customer_id, invoice_date,
total, cancelled, n_lines, n_items, country; optionally gzip'd) into each customer's orders, with an
error naming the row and column of the first value that cannot be read."""

from __future__ import annotations

import csv
import gzip
import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from services.notifier.domain.churn import Order

COLUMNS = ("invoice", "customer_id", "invoice_date", "total", "cancelled", "n_lines", "n_items", "country")
NEEDED = ("customer_id", "invoice_date", "total", "cancelled")
BOOLEANS = {"true": True, "false": False}


class InvoiceError(ValueError):
    """A file, column or row that cannot be read, worded for the owner."""


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def read(path: Path) -> dict[str, list[Order]]:
    """Each customer's orders, in file order. Only the columns the churn score uses must be there
    (customer_id, invoice_date, total, cancelled); the others of the layout are allowed, not needed."""
    try:
        with _open(path) as f:
            return _rows(csv.DictReader(f), path)
    except (gzip.BadGzipFile, UnicodeDecodeError, EOFError) as e:
        kind = "gzip'd UTF-8 CSV" if path.suffix == ".gz" else "UTF-8 CSV"
        raise InvoiceError(f"{path}: not a readable {kind}: {e}") from None


def _rows(reader: csv.DictReader[str], path: Path) -> dict[str, list[Order]]:
    header = reader.fieldnames or []
    missing = [c for c in NEEDED if c not in header]
    if missing:
        raise InvoiceError(
            f"{path}: no column {', '.join(missing)} in the header ({', '.join(header) or 'empty file'}); "
            f"the layout is {', '.join(COLUMNS)}"
        )
    orders: dict[str, list[Order]] = defaultdict(list)
    for line, row in enumerate(reader, start=2):
        if None in row or any(row.get(c) is None for c in NEEDED):
            raise InvoiceError(
                f"{path}, row {line}: {len(header)} columns expected, this row has another number"
            )
        orders[_customer(row["customer_id"], path, line)].append(
            Order(
                _date(row["invoice_date"], path, line),
                _number(row["total"], path, line),
                _boolean(row["cancelled"], path, line),
            )
        )
    if not orders:
        raise InvoiceError(f"{path}: no invoices after the header")
    return dict(orders)


def _customer(value: str, path: Path, line: int) -> str:
    if not value.strip():
        raise InvoiceError(
            f"{path}, row {line}, column customer_id: empty (every invoice needs its customer)"
        )
    return value.strip()


def _date(value: str, path: Path, line: int) -> datetime:
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvoiceError(
            f"{path}, row {line}, column invoice_date: {value!r} is not a date (give YYYY-MM-DDTHH:MM:SS "
            "or YYYY-MM-DD)"
        ) from None
    return at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)  # as recorded, or UTC


def _number(value: str, path: Path, line: int) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not math.isfinite(number):
        raise InvoiceError(
            f"{path}, row {line}, column total: {value!r} is not a number (e.g. 123.45 or -10)"
        )
    return number


def _boolean(value: str, path: Path, line: int) -> bool:
    try:
        return BOOLEANS[value.strip().lower()]
    except KeyError:
        raise InvoiceError(f"{path}, row {line}, column cancelled: {value!r} is not true or false") from None
