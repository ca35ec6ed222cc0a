"""A subject reaches the receiver as it was written: folded where it must be, never with a leading space
(issue 17, item 8: " [Blue Kiln ..." when the stdlib folded right after "Subject:")."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from shared.mail.message import OutgoingEmail
from shared.mail.smtp import compose

SUBJECTS = [
    "[Blue Kiln Ceramics (Shopify)] 1 customer at risk of churn in the last day",
    "[Blue-Kiln-Ceramics-and-Pottery-Studio-Limited] 1 detractor in the last hour",
    "[Blue Kiln Ceramics] 3 detractors, 2 unhappy CSAT answers and 1 negative review in the last hour",
    "[Blue Kiln Céramique] 1 detractor and 1 negative review in the last hour",
    "[Blue Kiln — Studio] 1 customer at risk of churn in the last day",
    "[Blue Kiln] 1 detractor in the last hour",
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_subject_unfolds_to_what_was_written(subject: str) -> None:
    email = OutgoingEmail(
        sender="cxloop <alerts@cxloop.invalid>", to="owner@example.org", subject=subject,
        text="t", html="<p>t</p>", message_id="<a@cxloop.invalid>",
    )  # fmt: skip
    raw = compose(email).as_bytes()
    header = raw.split(b"\r\nSubject:", 1)[1].split(b"\r\nDate:", 1)[0]
    assert header.startswith(b" ") and not header.startswith(b"\r\n")  # the value starts on its own line
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert str(message_from_bytes(raw, policy=policy.default)["Subject"]) == subject
