"""What a synthesized cloud assembly deploys per function: its code asset and layers, and their sizes
against Lambda's limits (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cxloop.deploy.layers import size, write_zip

MB = 1024 * 1024
UNZIPPED_LIMIT = 250 * MB  # a function and all its layers, unpacked
DIRECT_UPLOAD_LIMIT = 50 * MB  # a zip uploaded with the API call itself (CDK uploads through S3)
LAYERS_LIMIT = 5


@dataclass(frozen=True)
class Artifact:
    """A code asset or a layer: where it is in the assembly, its size unpacked and zipped."""

    name: str
    path: Path  # a folder (code asset) or a .zip (layer)
    unzipped: int
    zipped: int


@dataclass(frozen=True)
class FunctionPackage:
    name: str  # the function's physical name
    handler: str
    code: Artifact
    layers: tuple[Artifact, ...]

    @property
    def unzipped(self) -> int:
        return self.code.unzipped + sum(a.unzipped for a in self.layers)

    def problems(self) -> list[str]:
        """Each limit it breaks, worded with the figure and the limit."""
        found: list[str] = []
        if self.unzipped > UNZIPPED_LIMIT:
            found.append(f"{self.name}: {self.unzipped / MB:.1f} MB unzipped with its layers > 250 MB")
        if len(self.layers) > LAYERS_LIMIT:
            found.append(f"{self.name}: {len(self.layers)} layers > {LAYERS_LIMIT}")
        found += [
            f"{self.name}: {a.name} is {a.zipped / MB:.1f} MB zipped > 50 MB (direct upload)"
            for a in (self.code, *self.layers)
            if a.zipped > DIRECT_UPLOAD_LIMIT
        ]
        return found


def stack_files(assembly: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one stack's template and asset manifest in a cloud assembly folder."""
    (template,) = assembly.glob("*.template.json")
    manifest = assembly / template.name.replace(".template.json", ".assets.json")
    return json.loads(template.read_text()), json.loads(manifest.read_text())


def packages(assembly: Path) -> list[FunctionPackage]:
    """Every function of the synthesized stack, with the artifacts it would be deployed with."""
    template, manifest = stack_files(assembly)
    resources: dict[str, Any] = template["Resources"]
    files = manifest.get("files", {})

    def artifact(name: str, s3_key: str) -> Artifact:
        source = files[s3_key.removesuffix(".zip")]["source"]["path"]
        return _measure(name, assembly / source)

    found = []
    for props in (r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"):
        if "S3Key" not in props["Code"]:
            raise ValueError(f"function {props['FunctionName']}: not a zip (Code has no S3Key)")
        code = artifact(f"code {props['Code']['S3Key'][:8]}", props["Code"]["S3Key"])
        layers = []
        for ref in props.get("Layers", []):
            layer = resources[ref["Ref"]]["Properties"]
            layers.append(artifact(f"layer {layer['LayerName']}", layer["Content"]["S3Key"]))
        found.append(FunctionPackage(props["FunctionName"], props["Handler"], code, tuple(layers)))
    return sorted(found, key=lambda p: p.name)


@cache
def _measure(name: str, path: Path) -> Artifact:
    if path.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            packed = Path(tmp) / "code.zip"
            write_zip(path, packed)
            return Artifact(name, path, size(path), packed.stat().st_size)
    with zipfile.ZipFile(path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    return Artifact(name, path, unzipped, path.stat().st_size)


def report(found: list[FunctionPackage]) -> list[str]:
    """One line per artifact and per function, sizes in MB against the limits."""
    lines = []
    seen: set[Path] = set()
    for artifact in sorted({a for p in found for a in (p.code, *p.layers)}, key=lambda a: a.name):
        if artifact.path in seen:
            continue
        seen.add(artifact.path)
        users = [p.name for p in found if artifact in (p.code, *p.layers)]
        lines.append(
            f"  {artifact.name:<24} {artifact.unzipped / MB:7.1f} MB unzipped {artifact.zipped / MB:6.1f} MB"
            f" zipped (limit 50)  used by {len(users)}"
        )
    for package in found:
        names = ", ".join(a.name.removeprefix("layer ") for a in package.layers)
        lines.append(
            f"  {package.name:<36} {package.unzipped / MB:6.1f} MB of 250 unzipped, "
            f"{len(package.layers)} of {LAYERS_LIMIT} layers ({names}) + {package.code.name}"
        )
    return lines
