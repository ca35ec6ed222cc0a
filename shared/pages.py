"""The headers of every HTML page a function serves from a link in an e-mail (survey answers, the case
page): no caching, no referrer (a token in a Referer would leak the link), no framing, and a strict
Content-Security-Policy with no script at all."""

from __future__ import annotations


def html_headers(images: str | None = None) -> dict[str, str]:
    """``images``: the sources the page may show images from (``"https: data:"``); none by default."""
    img = f"img-src {images}; " if images else ""
    return {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "content-security-policy": (
            f"default-src 'none'; style-src 'unsafe-inline'; {img}"
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
    }
