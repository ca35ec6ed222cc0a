"""`make run`'s own command: the demo on a stack of its own (its shops and timeline), in a module of its
own so that a parallel run starts it early, next to the other modules instead of after them."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import start


def test_quick_start_demo(tmp_path: Path) -> None:
    """`make run`'s own command, with the demo, stops by itself when asked to."""
    proc, _api, _, _ = start(tmp_path, "--exit-after-demo")
    assert proc.wait(timeout=240) == 0
    out = (tmp_path / "stack.log").read_text()
    assert "#1042   delivered" in out
    assert "#1043   cancelled" in out
    assert "duplicate" in out
    assert "forged signature: 401" in out
    # The notifier: the one-star review reached the owners' Slack sink and opened a case.
    assert "1 negative review in the last minute" in out
    assert "mention:csv:demo:r2" in out and "awaiting_approval" in out
