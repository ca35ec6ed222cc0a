"""Shared setup for the CDK tests: import paths and one synthesized template per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _path in (str(ROOT), str(ROOT / "infra")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# jsii prints a banner to stderr when the local Node.js is past its end of life; it is noise in test
# output (the template does not depend on the Node.js version).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")


def stub_layers(root: Path) -> Path:
    """A layers folder holding a stand-in archive for each layer at the current pins, named as
    ``cxloop deploy`` builds them: the template tests need the layers' names, not their content."""
    import zipfile

    from cxloop.deploy import layers

    for layer in layers.all_layers():
        path = layers.build_path(layer, layers.LAMBDA, root)
        path.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path / "layer.zip", "w") as archive:
            archive.writestr(f"python/{layer.name}.txt", layer.name)
    return root
