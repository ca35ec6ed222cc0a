"""The one way services load their jinja2 templates: HTML escaped, text not, a missing variable an error.

jinja2 is imported on first use, not at import: the handlers that import a service's rendering module
for something else do not pay for it at cold start.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2


# Templates every service's e-mails share (the <head> mail clients need), found after the service's own.
SHARED = Path(__file__).resolve().parent / "mail" / "templates"


@cache
def environment(folder: Path) -> jinja2.Environment:
    """The environment of one templates folder (and the shared mail templates), built once per container."""
    import jinja2

    from shared.money import money
    from shared.themes import theme_label

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([folder, SHARED]),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["theme_label"] = theme_label  # one label per theme in every page and e-mail
    env.filters["money"] = money  # amount|money(currency): "€64.90"
    return env
