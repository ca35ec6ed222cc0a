"""A shop erased (it uninstalled, or asked): its reviews, connections and source credentials go too."""

from __future__ import annotations

from typing import Protocol

# Credentials kept beside the pulled sources' (the pushed-review webhook secret).
PUSH_SOURCES = ("webhook",)


class ErasableStore(Protocol):
    def erase_shop(self, shop_id: str) -> tuple[int, list[str]]:
        """Delete every item of the shop; returns how many and the sources it was connected to."""
        ...


class ErasableCredentials(Protocol):
    def delete(self, shop_id: str, source: str) -> None: ...


def erase_shop(store: ErasableStore, credentials: ErasableCredentials, shop_id: str) -> int:
    deleted, sources = store.erase_shop(shop_id)
    for source in sorted({*sources, *PUSH_SOURCES}):
        credentials.delete(shop_id, source)
    return deleted
