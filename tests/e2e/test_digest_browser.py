"""The digest e-mail in headless Debian Chromium, as `cxloop digest --preview` writes it: at a phone's
375 px nothing scrolls sideways, every chart loads, the headline figures show; and a full-page
screenshot is taken at 375 and 800 px for a person to look at."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from services.notifier.domain.digest import score_text
from services.notifier.rendering import preview_html
from tests.unit.test_digest_render import realistic

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_width(path: Path) -> int:
    signature, _length, chunk, width, _height = struct.unpack(">8sI4sII", path.read_bytes()[:24])
    assert signature == PNG_SIGNATURE and chunk == b"IHDR", f"{path} is not a PNG"
    return int(width)


@pytest.fixture(scope="module")
def preview_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("digest") / "digest.html"
    path.write_text(preview_html(realistic()[2]), encoding="utf-8")
    return path


@pytest.fixture(params=[375, 800], ids=["phone", "laptop"])
def digest_page(
    request: pytest.FixtureRequest, chromium_browser: Browser, preview_file: Path
) -> Iterator[Page]:
    context = chromium_browser.new_context(viewport={"width": request.param, "height": 800})
    try:
        page = context.new_page()
        page.goto(preview_file.as_uri())
        page.wait_for_load_state("load")
        yield page
    finally:
        context.close()


def test_digest_fits_loads_and_shows_its_figures(digest_page: Page, screenshot_dir: Path) -> None:
    width = digest_page.viewport_size["width"] if digest_page.viewport_size else 0
    assert digest_page.evaluate("document.documentElement.scrollWidth") <= width

    images = digest_page.locator("img")
    assert images.count() == 3
    loaded = digest_page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth)")
    assert all(w and w > 0 for w in loaded), loaded
    # Each chart fits the column: no image wider than the page.
    assert (
        digest_page.evaluate("Math.max(...[...document.images].map(i => i.getBoundingClientRect().right))")
        <= width
    )

    digest = realistic()[0]
    assert digest_page.get_by_role("heading", name="Your week in feedback").is_visible()
    for figure in digest.scores:
        tile = digest_page.locator(f'[data-score="{figure.label}"]')
        assert tile.is_visible()
        assert figure.score is not None
        assert tile.inner_text().strip() == score_text(figure.survey_type, figure.score)
    assert digest_page.get_by_text(digest.cases.overdue[0].who).first.is_visible()

    shot = screenshot_dir / f"digest-{width}.png"
    digest_page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    assert png_width(shot) == width
