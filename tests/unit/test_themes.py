"""One label per theme (issue 17, item 7): the catalogue every page, e-mail and command reads."""

from __future__ import annotations

from services.notifier.domain import digest
from shared.themes import LABELS, theme_id, theme_label


def test_a_theme_id_reads_the_same_in_the_digest_and_the_dashboard() -> None:
    assert theme_label("product_quality") == "Product quality"
    assert theme_label("delivery_shipping") == "Delivery & shipping"
    assert digest.theme_label is theme_label  # the digest has no labels of its own any more
    assert theme_label("late_flight") == "Late flight" and theme_label("my_own_theme") == "My own theme"


def test_what_the_page_shows_finds_the_theme_and_anything_else_does_not() -> None:
    for given in ("product_quality", "Product quality", "product quality", "  PRODUCT   Quality "):
        assert theme_id(given) == "product_quality"
    assert theme_id("Delivery & shipping") == "delivery_shipping"
    assert theme_id("glitter") is None
    assert theme_id("My own theme", frozenset({"my_own_theme"})) == "my_own_theme"
    assert set(LABELS) >= {"product_quality", "size_fit", "food", "late_flight"}
