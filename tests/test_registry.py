"""The registry: 26 systems, honest statuses, loadable entry points, no torch at import."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from geoneurips import registry
from geoneurips.errors import UnknownSystemError

EXPECTED_IDS = {
    "fusu",
    "synrs3d",
    "anychange",
    "ssdiff",
    "feinfn",
    "torchspatial",
    "opensatmap",
    "allclear",
    "kurosiwo",
    "vrsbench",
    "garner",
    "solarcube",
    "g3",
    "gomaageo",
    "stvd",
    "geoplant",
    "terra",
    "deblora",
    "mmmrs",
    "cosmic",
    "pecl",
    "districtnet",
    "sgnet",
    "idee",
    "seco",
    "oamtcd",
}


def test_all_26_systems_registered() -> None:
    ids = [s.id for s in registry.systems()]
    assert len(ids) == 26 and set(ids) == EXPECTED_IDS


@pytest.mark.parametrize("spec", registry.systems(), ids=lambda s: s.id)
def test_entry_points_resolve(spec: registry.SystemSpec) -> None:
    if spec.status == "planned":
        assert spec.demo is None or spec.notes, "a planned system must say why"
        return
    refs = [r for r in (spec.demo, spec.dataset, spec.model) if r] + list(spec.commands.values())
    assert refs, f"{spec.id} is {spec.status} but names no entry point"
    for ref in refs:
        assert callable(registry.load_entry(ref)), ref
    if spec.status == "working":
        assert spec.demo and spec.dataset and spec.model, spec.id


def test_unknown_system() -> None:
    with pytest.raises(UnknownSystemError, match="unknown system 'nope'"):
        registry.get("nope")
    with pytest.raises(ValueError):
        registry.register(registry.SystemSpec(id="sgnet", family="location"))


def test_listing_does_not_import_torch() -> None:
    code = (
        "import sys; from geoneurips import registry; registry.systems(); "
        "from geoneurips.cli.main import build_app; build_app(); "
        "bad = [m for m in ('torch', 'rasterio', 'lightning', 'matplotlib') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported at start-up: {out.stdout}"


def test_pyproject_declares_ranges_and_constraints_pin() -> None:
    """Installing geoneurips must not replace a user's torch: ranges in pyproject, exact
    versions in constraints.txt (which `make` uses)."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in ("torch", "torchvision", "torchgeo"):
        spec = next(d for d in deps if re.split(r"[<>=!~ \[]", d)[0] == name)
        assert "==" not in spec, spec
    pins = (root / "constraints.txt").read_text()
    assert "torch==" in pins and "torchgeo==" in pins
    assert "-c constraints.txt" in (root / "Makefile").read_text()
