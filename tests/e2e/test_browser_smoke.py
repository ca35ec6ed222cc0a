"""Headless Debian Chromium through Playwright: a page served on loopback, clicked, and photographed."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Browser smoke</title>
</head>
<body>
<p id="status">Waiting</p>
<button id="go" type="button">Rate your order</button>
<script>
document.getElementById("go").addEventListener("click", function () {
  document.getElementById("status").textContent = "Thanks for rating!";
});
</script>
</body>
</html>
"""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, which must come first."""
    signature, _length, chunk, width, height = struct.unpack(">8sI4sII", path.read_bytes()[:24])
    assert signature == PNG_SIGNATURE, f"{path} is not a PNG"
    assert chunk == b"IHDR"
    return width, height


# The browser starts in the set-up, not in the first call that asks for a page.
@pytest.mark.usefixtures("chromium_browser")
@pytest.mark.parametrize(
    ("page_fixture", "width_px"),
    [("phone_page", 390 * 2), ("desktop_page", 1280)],
)
def test_click_changes_text_and_screenshots(
    request: pytest.FixtureRequest, site: str, screenshot_dir: Path, page_fixture: str, width_px: int
) -> None:
    page: Page = request.getfixturevalue(page_fixture)
    response = page.goto(site)
    assert response is not None and response.ok
    status = page.locator("#status")
    assert status.inner_text() == "Waiting"

    page.locator("#go").click()

    assert status.inner_text() == "Thanks for rating!"
    shot = screenshot_dir / f"{page_fixture}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    width, height = png_size(shot)
    assert width == width_px
    assert height > 0
