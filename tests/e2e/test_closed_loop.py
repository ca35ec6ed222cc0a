"""The closed loop on the running local stack, in Debian's headless Chromium.

`cxloop run` in a subprocess (days are a second): the owner sets a Slack destination and an immediate
detractor rule with the CLI; an order's survey arrives; a customer clicks 2 in a browser and writes
why; the alert reaches the local Slack sink with an approve link; the owner opens it on a phone, edits
the drafted reply and sends it; the reply reaches the customer's inbox with the owner as Reply-To,
and the case says so. A second send is refused.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveStack, get_json, post_demo_orders, run_cli, until

pytestmark = pytest.mark.browser

SHOP = "e2e-loop"
DOMAIN = "e2e-loop.myshopify.com"
HOOK = "e2e-loop-team"
CUSTOMER = "maya.lopez+loop@example.net"


@pytest.fixture(scope="module")
def stack(live: LiveStack) -> dict[str, Any]:
    return {"api": live.api, "state": live.state_dir}


@pytest.fixture(scope="module")
def alert(stack: dict[str, Any]) -> dict[str, Any]:
    api, state = stack["api"], stack["state"]
    added = run_cli(state, "shop", "add", SHOP, "--platform", "shopify", "--domain", DOMAIN,
                 "--name", "Loop Linen", "--owner-email", "owner@loop.example")  # fmt: skip
    assert added.returncode == 0, added.stderr
    secret = re.search(r"secret ([A-Za-z0-9_\-]{20,})", added.stdout)
    assert secret, added.stdout
    for args in (
        ("survey", "set", "--shop", SHOP, "--type", "nps", "--sender", "hello@loop.example",
         "--reply-to", "owner@loop.example", "--quiet-hours", "off", "--reminder-days", "off"),
        ("notify", "destination", "--shop", SHOP, "--name", "team", "--slack", f"{api}/_local/slack/{HOOK}"),
        ("notify", "rule", "--shop", SHOP, "detractor", "--delivery", "immediate"),
        ("notify", "loop", "--shop", SHOP, "--mode", "approval", "--reply-to", "owner@loop.example"),
    ):  # fmt: skip
        done = run_cli(state, *args)
        assert done.returncode == 0, (args, done.stderr)
    post_demo_orders(api, SHOP, DOMAIN, secret.group(1), CUSTOMER)
    survey = until("the survey e-mail", lambda: [m for m in get_json(f"{api}/_local/inbox.json")
                                                 if CUSTOMER in m["to"]])[0]  # fmt: skip
    link = re.search(r"(http://\S+/r/\S+)\?score=2", survey["text"])
    assert link
    return {"survey_link": link.group(1)}


def test_the_owner_approves_an_edited_reply_from_the_alert_on_a_phone(
    stack: dict[str, Any], alert: dict[str, Any], phone_page: Any, screenshot_dir: Path
) -> None:
    api, state, page = stack["api"], stack["state"], phone_page
    page.goto(alert["survey_link"] + "?score=2")
    page.fill("#comment", "The seams ripped after one wash.")
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()

    def slack_alert() -> list[dict[str, Any]]:
        return [m for m in get_json(f"{api}/_local/slack.json") if m["hook"] == HOOK]

    # An immediate alert goes when its minute is over: up to a minute and the sender's next run.
    [message] = until("the Slack alert", slack_alert, timeout_s=100)
    blocks = message["payload"]["blocks"]
    assert message["payload"]["text"].startswith("1 detractor")
    approve = next(e["url"] for b in blocks if b["type"] == "actions" for e in b["elements"]
                   if e["text"]["text"] == "Approve reply")  # fmt: skip
    assert approve.startswith(f"{api}/n/")

    page.goto(approve)
    page.screenshot(path=str(screenshot_dir / "case-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert "The seams ripped after one wash." in page.locator("blockquote").inner_text()
    draft = page.locator("textarea").input_value()
    assert draft.startswith("Hi Maya,") and "#1042" in draft
    page.fill("textarea", draft.replace("I'd like to put this right.", "A new set is on its way today."))
    page.locator("button[value=send]").click()
    page.wait_for_load_state()
    assert "Sent." in page.locator("[role=status]").inner_text()
    page.screenshot(path=str(screenshot_dir / "case-sent-phone.png"), full_page=True)

    def reply() -> list[dict[str, Any]]:
        return [m for m in get_json(f"{api}/_local/inbox.json")
                if CUSTOMER in m["to"] and "About your order" in m["subject"]]  # fmt: skip

    [mail] = until("the reply", reply)
    assert mail["headers"]["Reply-To"] == "owner@loop.example"
    # From the survey's sender under the shop's brand, as the survey came (issue 17, item 1).
    assert mail["headers"]["From"] == "Loop Linen <hello@loop.example>"
    assert "A new set is on its way today." in mail["text"]

    cases = json.loads(run_cli(state, "cases", "--shop", SHOP, "--json").stdout)
    assert [(c["status"], c["reply"]) for c in cases] == [("replied", "sent")]
    again = urllib.request.Request(approve, data=b"action=send&text=twice", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(again, timeout=10)
    assert refused.value.code == 409
    assert len(reply()) == 1
