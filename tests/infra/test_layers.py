"""Each function's layers, against what its handler imports; the layer builder's recipe.

The layers are declared next to each function (``topology.Function.layers``); here they are checked
against the imports grimp finds from the handler down (lazy imports inside functions included), so a
new import without its layer, or a layer no handler needs, fails.
"""

from __future__ import annotations

import importlib.metadata
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from cxloop.deploy import layers
from shared import topology
from tests.infra.imports import third_party_modules

pytestmark = pytest.mark.infra

# What the intake must never carry (issue 16): the charts' and the model's weight.
HEAVY = {"matplotlib", "numpy", "pillow", "spacy", "thinc"}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def imported_distributions(spec: topology.Function) -> set[str]:
    """The third-party distributions the handler's module and everything it imports can import."""
    owners = importlib.metadata.packages_distributions()
    found = set()
    for top in third_party_modules(spec):
        assert top in owners, f"{spec.logical}: {top!r} is imported but no installed distribution has it"
        found.update(_norm(d) for d in owners[top])
    return found


def closure(distributions: tuple[str, ...]) -> set[str]:
    """The distributions and what they require (as installed here, at the same pins)."""
    seen: set[str] = set()
    todo = [_norm(d) for d in distributions]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_norm(requirement.name))
    return seen


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda f: f.logical)
def test_layers_hold_what_the_handler_imports(spec: topology.Function) -> None:
    shipped = closure(tuple(d for layer in layers.layers_of(spec) for d in layer.distributions))
    missing = imported_distributions(spec) - shipped
    assert not missing, f"{spec.logical} imports {sorted(missing)}: add the layer that has it"


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda f: f.logical)
def test_every_layer_of_a_function_is_used(spec: topology.Function) -> None:
    needed = imported_distributions(spec)
    for name in spec.layers:
        layer = topology.LAYERS[name]
        assert needed & {_norm(d) for d in layer.distributions}, (
            f"{spec.logical} gets layer {name!r} but imports none of {layer.distributions}"
        )


def test_the_intake_carries_nothing_heavy() -> None:
    intake = topology.function("feedback-webhooks")
    shipped = closure(tuple(d for layer in layers.layers_of(intake) for d in layer.distributions))
    assert not shipped & HEAVY
    assert layers.layers_of(topology.function("notifier-daily"))[-1].name == topology.CHARTS_LAYER


def test_at_most_five_layers_and_the_runtime_first() -> None:
    for spec in topology.FUNCTIONS:
        assert 1 <= len(layers.layers_of(spec)) <= 5, spec.logical
        assert layers.layers_of(spec)[0] == topology.RUNTIME_LAYER
        assert len(set(spec.layers)) == len(spec.layers), spec.logical


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda f: f.logical)
def test_no_two_layers_of_a_function_ship_the_same_distribution(spec: topology.Function) -> None:
    """A package in two layers of one function would be unpacked twice into /opt, one over the other
    (the nlp layer ships jinja2 and numpy too, for the one function that has it)."""
    runtime = closure(topology.RUNTIME_LAYER.distributions)
    extras = [closure(topology.LAYERS[name].distributions) - runtime for name in spec.layers]
    for i, one in enumerate(extras):
        for other in extras[i + 1 :]:
            assert not one & other, spec.logical


def test_the_model_and_spacy_go_to_the_scoring_function_only() -> None:
    for spec in topology.FUNCTIONS:
        assert (topology.NLP_LAYER in spec.layers) == (spec.service == "scoring"), spec.logical


# --- the builder, with pip replaced by a stand-in that writes what pip would --------------------------


def _fake_pip(calls: list[list[str]]):  # type: ignore[no-untyped-def]
    def pip(args: list[str]) -> None:
        calls.append(args)
        target = Path(args[args.index("--target") + 1])
        names = args[args.index(str(layers.CONSTRAINTS)) + 1 :]
        for name in [*names, "six"]:  # six: a requirement the runtime layer ships as well
            package = target / name.replace("-", "_")
            (package / "tests").mkdir(parents=True)
            (package / "__init__.py").write_text("")
            (package / "__init__.pyi").write_text("")
            (package / "tests" / "test_it.py").write_text("")
            (package / "__pycache__").mkdir()
            (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
            info = target / f"{name.replace('-', '_')}-{layers.pins().get(name, '1.0')}.dist-info"
            info.mkdir(exist_ok=True)
            (info / "METADATA").write_text(f"Name: {name}\n")
            (info / "RECORD").write_text(f"{name.replace('-', '_')}/__init__.py,,\n")

    return pip


def test_a_build_is_trimmed_deduplicated_and_cached(tmp_path: Path) -> None:
    calls: list[list[str]] = []
    mail = topology.LAYERS[topology.MAIL_LAYER]
    built = layers.build(mail, layers.LAMBDA, tmp_path, pip=_fake_pip(calls))
    assert not built.cached
    # The runtime layer was built too, to deduplicate against it.
    assert [c[-len(topology.RUNTIME_LAYER.distributions) :] for c in calls][1] == list(
        topology.RUNTIME_LAYER.distributions
    )
    args = calls[0]
    assert args[args.index("--python-version") + 1] == "3.11"
    assert {"--only-binary=:all:", "manylinux_2_26_aarch64", "manylinux2014_aarch64"} <= set(args)
    assert "manylinux_2_27_aarch64" not in args  # Amazon Linux 2's glibc is 2.26
    files = {p.relative_to(built.content).as_posix() for p in built.content.rglob("*") if p.is_file()}
    assert files == {
        "jinja2/__init__.py",
        "jinja2/__pycache__/__init__.cpython-311.pyc",
        "jinja2-3.1.6.dist-info/METADATA",
        "tzdata/__init__.py",
        "tzdata/__pycache__/__init__.cpython-311.pyc",
        f"tzdata-{layers.pins()['tzdata']}.dist-info/METADATA",
    }
    # Bytecode that never checks its source (flags 0b01: hash-based, unchecked): zip dates are fixed.
    pyc = (built.content / "jinja2/__pycache__/__init__.cpython-311.pyc").read_bytes()
    assert int.from_bytes(pyc[4:8], "little") == 0b01
    with zipfile.ZipFile(built.zip) as archive:
        assert sorted(archive.namelist()) == sorted(f"python/{f}" for f in files)

    again = layers.build(mail, layers.LAMBDA, tmp_path, pip=_fake_pip(calls))
    assert again.cached and again.path == built.path and len(calls) == 2


def test_the_cache_key_follows_the_pins(tmp_path: Path) -> None:
    pins = tmp_path / "constraints.txt"
    pins.write_text("jinja2==3.1.6\n")
    runtime = topology.RUNTIME_LAYER
    key = layers.build_key(runtime, layers.LAMBDA, pins)
    assert layers.build_key(runtime, layers.LAMBDA, pins) == key
    assert layers.build_key(runtime, layers.host(), pins) != key or layers.host() == layers.LAMBDA
    pins.write_text("jinja2==3.1.7\n")
    assert layers.build_key(runtime, layers.LAMBDA, pins) != key


def test_a_pip_failure_names_the_layer_and_the_fix(tmp_path: Path) -> None:
    def failing(args: list[str]) -> None:
        raise layers.BuildError("pip said: No matching distribution found for numpy==2.4.6")

    with pytest.raises(
        layers.BuildError, match=r"(?s)layer 'runtime' .*manylinux_2_26_aarch64.*pin a version"
    ):
        layers.build(topology.RUNTIME_LAYER, layers.LAMBDA, tmp_path, pip=failing)
    assert not list(tmp_path.glob("runtime-*"))


def _elf(offset: int, vaddr: int, align: int = 0x1000) -> bytes:
    """A 64-bit little-endian ELF header with one PT_LOAD program header."""
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x20, 64)  # e_phoff
    struct.pack_into("<HH", header, 0x36, 56, 1)  # e_phentsize, e_phnum
    program = struct.pack("<IIQQQQQQ", layers.PT_LOAD, 5, offset, vaddr, vaddr, 8, 8, align)
    return bytes(header) + program


def test_a_stripped_library_the_loader_would_refuse_is_detected(tmp_path: Path) -> None:
    """What llvm-strip did to numpy's libraries (found by the package test): segments off alignment."""
    good, bad = tmp_path / "good.so", tmp_path / "bad.so"
    good.write_bytes(_elf(0x0, 0x0) + bytes(8))
    bad.write_bytes(_elf(0x10, 0x2000) + bytes(8))
    assert layers.loadable(good)
    assert not layers.loadable(bad)


def test_strip_keeps_a_library_whose_stripped_copy_would_not_load(tmp_path: Path, monkeypatch) -> None:
    library = tmp_path / "python" / "pkg" / "_native.so"
    library.parent.mkdir(parents=True)
    original = _elf(0x0, 0x0) + bytes(8)
    library.write_bytes(original)

    def misaligning_strip(command, **_kwargs):  # what llvm-strip does to an auditwheel-patched library
        Path(command[command.index("-o") + 1]).write_bytes(_elf(0x10, 0x2000) + bytes(8))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(layers, "llvm_strip", lambda: "llvm-strip")
    monkeypatch.setattr(layers.subprocess, "run", misaligning_strip)
    assert layers.strip_native(tmp_path / "python") == (0, 1)
    assert library.read_bytes() == original
    assert [p.name for p in library.parent.iterdir()] == ["_native.so"]


def test_a_distribution_off_its_pin_fails_the_build(tmp_path: Path) -> None:
    def unpinned(args: list[str]) -> None:
        target = Path(args[args.index("--target") + 1])
        (target / "slack_sdk-9.9.9.dist-info").mkdir(parents=True)

    with pytest.raises(
        layers.BuildError, match=r"layer 'slack': slack-sdk 9\.9\.9 is not a pin .*pinned: 3\.47\.0"
    ):
        layers.build(topology.LAYERS[topology.SLACK_LAYER], layers.LAMBDA, tmp_path, pip=unpinned)


def test_what_a_layer_leaves_out_is_removed_before_its_pins_are_checked(tmp_path: Path) -> None:
    """spaCy's setuptools: installed by pip as a requirement, imported by nothing, not shipped."""
    layer = topology.Layer("probe", ("slack-sdk", "tzdata"), leave_out=("tzdata",))
    built = layers.build(layer, layers.LAMBDA, tmp_path, pip=_fake_pip([]))
    names = {p.name for p in built.content.iterdir()}
    assert "slack_sdk" in names and not any(n.endswith(".dist-info") for n in names if "tzdata" in n)
    assert not (built.content / "tzdata" / "__init__.py").exists()  # its RECORD's files
    assert layers.build_key(layer, layers.LAMBDA) != layers.build_key(
        topology.Layer("probe", ("slack-sdk", "tzdata")), layers.LAMBDA
    )
