"""Writing a case that others may be writing too (the consumer adds themes, the sender a reply, the
owner an approval): read, change, write if unchanged, else read again."""

from __future__ import annotations

from collections.abc import Callable

from services.notifier.domain.model import Case
from services.notifier.domain.ports import NotifierStore

TRIES = 5

# The changes to make to a case as it is now (None: nothing to change).
Change = Callable[[Case], dict[str, object] | None]


class CaseContended(RuntimeError):
    """The case kept changing under us: the caller's queue retries the whole event."""


def update_case(store: NotifierStore, shop_id: str, case_id: str, change: Change) -> Case | None:
    """The case after ``change`` (or as it is, when nothing changes); None when there is no such case."""
    for _ in range(TRIES):
        case = store.case(shop_id, case_id)
        if case is None:
            return None
        changes = change(case)
        if changes is None:
            return case
        updated = case.model_copy(update={**changes, "version": case.version + 1})
        if store.save_case(updated, case.version):
            return updated
    raise CaseContended(f"case {case_id} of {shop_id} kept changing")
