"""The local stack's Slack sink served on its own, on a free loopback port, behind the stack's pages
(their `/_local/slack/...` routes): what tests and the notifier benchmark post real HTTP to."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from cxloop.local.pages import Pages
from cxloop.local.sinks import SlackSink
from cxloop.local.stack import QuietHandler


def serve_slack(sink: SlackSink, folder: Path) -> tuple[str, Callable[[], None]]:
    """(base URL, stop) of a server answering for ``sink``; ``folder`` holds the pages' unused inbox."""
    pages = Pages(folder / "mail", sink, {}, dict, lambda _: None, lambda _f, _p: None)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            response = pages.dispatch(Request(environ))
        except HTTPException as e:
            return e(environ, start_response)
        return response(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_port}", stop
