#!/usr/bin/env python3
"""CDK entry point: ``python infra/app.py`` (or ``cdk synth`` / ``cdk deploy`` from infra/).

Writes the cloud assembly to $CDK_OUTDIR (set by the CDK CLI), else to infra/cdk.out.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent


def main() -> None:
    # shared.topology lives at the repository root; cxloop_infra next to this file.
    for path in (str(ROOT), str(INFRA)):
        if path not in sys.path:
            sys.path.insert(0, path)

    from cxloop_infra.stack import build_app

    app, _ = build_app(outdir=os.environ.get("CDK_OUTDIR") or str(INFRA / "cdk.out"))
    app.synth()


if __name__ == "__main__":
    main()
