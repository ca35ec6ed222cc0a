"""Build the functions' Lambda layers from constraints.txt, without Docker, cached by their pins.

Each layer of ``shared.topology`` (RUNTIME_LAYER and LAYERS) is installed with pip for a platform:
``LAMBDA`` (arm64, CPython 3.11 on Amazon Linux 2, whose glibc 2.26 is the ceiling of the wheels it
can load) for AWS, or ``host()`` (this machine's architecture, same glibc ceiling, same pins) for the
package test, so what is tested and what ships differ only in the compiled code of the same versions.
Then what no function needs at run time is removed, native libraries are stripped and the modules are
compiled to bytecode. A build lives
under ``<cache>/<name>-<platform>-<key>``, ``key`` a hash of the pins and of this recipe: a second
build of the same pins is a lookup.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from shared import topology

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"
DEFAULT_CACHE = ROOT / "build" / "layers"
PYTHON_VERSION = "3.11"
# Bump when the recipe below changes what a build holds: every cached build is then rebuilt.
RECIPE = 4
# Directories inside packages that no function imports.
DROP_DIRS = frozenset({"__pycache__", "tests", "test"})
# Bytecode pip made (the builder compiles its own), type stubs, and the sources of compiled extensions
# (Cython's .pyx/.pxd/.pxi, C and C++ files and headers: spaCy, thinc, blis and numpy ship theirs), which
# nothing reads at run time.
DROP_SUFFIXES = (".pyc", ".pyi", ".pyx", ".pxd", ".pxi", ".c", ".cc", ".cpp", ".h", ".hpp")
# Of a distribution's metadata, what importlib.metadata and the licences need; RECORD and the
# installer's notes describe an installation nobody will upgrade.
DROP_DIST_INFO = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


@dataclass(frozen=True)
class Platform:
    """A pip target: every manylinux wheel its glibc loads (pip does not infer the older tags from
    ``manylinux_2_26``, so each is named: ``manylinux_2_17_…`` is also ``manylinux2014_…``)."""

    name: str  # arm64, x86_64: part of the cache folder's name
    machine: str  # aarch64, x86_64
    glibc_minor: int

    @property
    def tag(self) -> str:
        return f"manylinux_2_{self.glibc_minor}_{self.machine}"

    @property
    def tags(self) -> list[str]:
        legacy = [f"manylinux2014_{self.machine}"]
        if self.machine == "x86_64":
            legacy += ["manylinux2010_x86_64", "manylinux1_x86_64"]
        return [f"manylinux_2_{minor}_{self.machine}" for minor in range(self.glibc_minor, 4, -1)] + legacy


# Lambda's python3.11 runtime: Amazon Linux 2 (glibc 2.26) on Graviton.
LAMBDA = Platform("arm64", "aarch64", 26)


def host() -> Platform:
    """This machine, for the package test: what it can load (its own glibc; the pins are the same)."""
    machine = platform.machine()
    _, version = platform.libc_ver()
    minor = int(version.split(".")[1]) if version.count(".") == 1 else LAMBDA.glibc_minor
    return Platform(f"host-{machine}", "aarch64" if machine == "arm64" else machine, minor)


class BuildError(Exception):
    """A step of the build failed: the message says which and what to do."""


@dataclass(frozen=True)
class Built:
    layer: topology.Layer
    platform: Platform
    path: Path  # holds python/, the layer's content, and layer.zip
    cached: bool

    @property
    def content(self) -> Path:
        return self.path / "python"

    @property
    def zip(self) -> Path:
        return self.path / "layer.zip"


def all_layers() -> tuple[topology.Layer, ...]:
    return (topology.RUNTIME_LAYER, *topology.LAYERS.values())


def layers_of(spec: topology.Function) -> tuple[topology.Layer, ...]:
    """A zip function's layers, in the order Lambda unpacks them (the runtime first)."""
    return (topology.RUNTIME_LAYER, *(topology.LAYERS[name] for name in spec.layers))


def build_key(layer: topology.Layer, target: Platform, constraints: Path = CONSTRAINTS) -> str:
    """The pins (the whole constraints file: a changed pin anywhere rebuilds), the layer and the target."""
    recipe = {
        "recipe": RECIPE,
        "layer": layer.name,
        "distributions": sorted(layer.distributions),
        "leave_out": sorted(layer.leave_out),
        "runtime": sorted(topology.RUNTIME_LAYER.distributions),
        "platform": target.tags,
        "python": PYTHON_VERSION,
        "constraints": hashlib.sha256(constraints.read_bytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def build_path(layer: topology.Layer, target: Platform, cache: Path = DEFAULT_CACHE) -> Path:
    return cache / f"{layer.name}-{target.name}-{build_key(layer, target)}"


def build(
    layer: topology.Layer,
    target: Platform,
    cache: Path = DEFAULT_CACHE,
    *,
    pip: Callable[[list[str]], None] | None = None,
) -> Built:
    """The layer's folder for ``target``, built unless the cache holds it."""
    path = build_path(layer, target, cache)
    if (path / "layer.zip").is_file():
        return Built(layer, target, path, cached=True)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".building-") as tmp:
        work = Path(tmp) / "layer"
        content = work / "python"
        try:
            (pip or _pip)(_pip_args(layer, target, content))
        except BuildError as error:
            raise BuildError(
                f"layer {layer.name!r} ({', '.join(layer.distributions)}) for {target.tag}: {error}\n"
                "Each pin of constraints.txt it needs must have a wheel for that platform (tag "
                f"{target.tag} or older, CPython {PYTHON_VERSION}): pin a version that has one, or "
                "check the network and pip's index."
            ) from None
        if layer.leave_out:
            _drop_distributions(content, {_normalize(name) for name in layer.leave_out})
        check_pins(content, layer)
        if layer != topology.RUNTIME_LAYER:
            runtime = build(topology.RUNTIME_LAYER, target, cache, pip=pip)
            _drop_distributions(content, set(_distributions(runtime.content)))
        trim(content)
        strip_native(content)
        compile_bytecode(content)
        write_zip(work, work / "layer.zip")
        try:
            work.rename(path)
        except OSError:  # another build of the same key finished first: the same content, keep it
            if not (path / "layer.zip").is_file():
                raise
    return Built(layer, target, path, cached=False)


def _pip_args(layer: topology.Layer, target: Platform, content: Path) -> list[str]:
    return [
        "install",
        "--quiet",
        "--no-compile",
        "--disable-pip-version-check",
        "--target",
        str(content),
        *(arg for tag in target.tags for arg in ("--platform", tag)),
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "-c",
        str(CONSTRAINTS),
        *layer.distributions,
    ]


def _pip(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False, timeout=1800
    )
    if result.returncode != 0:
        said = "\n".join(line for line in result.stderr.splitlines() if "is ignored" not in line)
        raise BuildError(f"pip said: {said.strip()[-1500:]}")


def pins(constraints: Path = CONSTRAINTS) -> dict[str, str]:
    """Normalized name → pinned version."""
    found = {}
    for line in constraints.read_text().splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            found[_normalize(name)] = version.strip()
    return found


def check_pins(content: Path, layer: topology.Layer) -> None:
    """Every distribution pip put in the layer is at its pin: one that constraints.txt does not pin
    (a new requirement of a new version) would ship at whatever version pip found that day."""
    pinned = pins()
    for name, info in sorted(_distributions(content).items()):
        version = info.name.removesuffix(".dist-info").rsplit("-", 1)[1]
        if pinned.get(name) != version:
            raise BuildError(
                f"layer {layer.name!r}: {name} {version} is not a pin of constraints.txt "
                f"(pinned: {pinned.get(name, 'nothing')}); pin it there (and in the venv: make .venv/.test)"
            )


def _distributions(content: Path) -> dict[str, Path]:
    """Normalized distribution name → its .dist-info folder."""
    found = {}
    for info in content.glob("*.dist-info"):
        name = info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        found[_normalize(name)] = info
    return found


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _drop_distributions(content: Path, provided: set[str]) -> None:
    """Remove these distributions (normalized names: what an earlier layer ships already, or what the
    layer leaves out) by each one's RECORD."""
    for name, info in _distributions(content).items():
        if name not in provided:
            continue
        for line in (info / "RECORD").read_text().splitlines():
            relative = line.split(",", 1)[0]
            (content / relative).unlink(missing_ok=True)
        shutil.rmtree(info, ignore_errors=True)
    for folder in sorted((p for p in content.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def trim(content: Path) -> None:
    """Drop tests, caches, type stubs, extension sources and installation records."""
    for path in sorted(content.rglob("*"), reverse=True):
        if not path.exists():
            continue
        if path.is_dir() and path.name in DROP_DIRS:
            shutil.rmtree(path)
        elif (path.is_file() and path.suffix in DROP_SUFFIXES) or (
            path.is_file() and path.parent.name.endswith(".dist-info") and path.name in DROP_DIST_INFO
        ):
            path.unlink()
    shutil.rmtree(content / "bin", ignore_errors=True)


def compile_bytecode(content: Path) -> None:
    """Ship the bytecode: Lambda's /opt is read-only, so without it every cold start compiles each
    module it imports (the intake's import took 1.0 s instead of 0.4 s here, decision 93). Checked
    against no source (unchecked-hash): a zip's dates are not the sources', and a layer never changes.
    CPython 3.11's bytecode is the same on every platform, so the builder's 3.11 makes it."""
    if sys.version_info[:2] != tuple(int(x) for x in PYTHON_VERSION.split(".")):
        raise BuildError(
            f"the layers' bytecode needs Python {PYTHON_VERSION}; this is {sys.version.split()[0]}"
        )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(content),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    # A module that does not compile (listed on stdout: a Python 2 leftover in some package) stays source.
    if result.returncode != 0 and not result.stdout.strip():
        raise BuildError(f"compileall failed: {result.stderr.strip()[-500:]}")


def llvm_strip() -> str | None:
    """Debian's llvm-strip (any version): it strips aarch64 libraries on an x86_64 machine too."""
    found = shutil.which("llvm-strip")
    if found:
        return found
    for candidate in sorted(Path("/usr/bin").glob("llvm-strip-*"), reverse=True):
        return str(candidate)
    return None


def strip_native(content: Path) -> tuple[int, int]:
    """``--strip-unneeded`` each shared library, keeping the original where the stripped copy would not
    load: llvm-strip moves the segments of libraries auditwheel patched (numpy's, Pillow's) off their
    page alignment ("ELF load command address/offset not page-aligned"). Returns (stripped, kept)."""
    tool = llvm_strip()
    libraries = [p for p in content.rglob("*") if p.is_file() and (p.suffix == ".so" or ".so." in p.name)]
    stripped = kept = 0
    if tool is None:
        return stripped, len(libraries)
    for library in libraries:
        candidate = library.with_name(library.name + ".stripped")
        result = subprocess.run(
            [tool, "--strip-unneeded", "-o", str(candidate), str(library)],
            capture_output=True,
            check=False,
            timeout=120,
        )
        if result.returncode == 0 and loadable(candidate):
            candidate.replace(library)
            stripped += 1
        else:
            candidate.unlink(missing_ok=True)
            kept += 1
    return stripped, kept


PT_LOAD = 1


def loadable(path: Path) -> bool:
    """Whether the dynamic loader would map this 64-bit little-endian ELF file: each loadable segment's
    offset congruent to its address modulo its alignment, and inside the file."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for index in range(phnum):
        kind, _, offset, vaddr, _, filesz, _, align = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + index * phentsize
        )
        if kind != PT_LOAD:
            continue
        if align > 1 and (vaddr - offset) % align != 0:
            return False
        if offset + filesz > len(data):
            return False
    return True


def write_zip(folder: Path, target: Path, exclude: Iterable[Path] = ()) -> None:
    """A reproducible zip of ``folder``'s tree (sorted, fixed dates): the same content, the same hash."""
    skip = {p.resolve() for p in exclude} | {target.resolve()}
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.resolve() not in skip)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=6)


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
