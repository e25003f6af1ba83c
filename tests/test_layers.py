"""Imports only point down: shared layers never import a system, systems never each other."""

from __future__ import annotations

import ast
from pathlib import Path

from geoneurips.registry import SYSTEM_FAMILIES

PKG = Path(__file__).resolve().parents[1] / "src" / "geoneurips"
SHARED = ["errors.py", "registry.py", "io.py", "seed.py", "demo.py", "endpoints.py", "catalog",
          "formats", "raster", "metrics", "nn", "proposals"]


def _imports(path: Path, pkg: Path = PKG) -> list[str]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    parts = list(path.relative_to(pkg.parent).with_suffix("").parts)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level]
                out.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                out.append(node.module)
    return out


def test_shared_layers_do_not_import_systems() -> None:
    families = {f"geoneurips.{fam}" for fam in set(SYSTEM_FAMILIES.values())}
    files = [p for name in SHARED for p in ([PKG / name] if name.endswith(".py")
                                             else sorted((PKG / name).rglob("*.py")))]
    assert len(files) > 20
    bad = [(str(p.relative_to(PKG)), m) for p in files for m in _imports(p)
           if any(m == f or m.startswith(f + ".") for f in families)]
    assert not bad, bad


def test_import_resolution_sees_relative_imports() -> None:
    """The checker resolves ``from ..x import y`` (else the test above could not fail)."""
    mods = _imports(PKG / "metrics" / "pansharpening.py")
    assert "geoneurips.metrics.mtf" in mods


def _cross_system_imports(pkg: Path = PKG) -> list[tuple[str, str]]:
    """``(file, module)`` pairs where a file imports a system it is not part of: another
    system, or a family-level toolkit (e.g. ``restoration/pansharpening``) importing one."""
    systems = {f"geoneurips.{fam}.{sid}": sid for sid, fam in SYSTEM_FAMILIES.items()}
    bad = []
    for p in sorted(pkg.rglob("*.py")):
        rel = p.relative_to(pkg).as_posix()
        own = {sid for prefix, sid in systems.items()
               if rel.startswith(prefix.split(".", 1)[1].replace(".", "/") + "/")}
        for m in _imports(p, pkg):
            for other, oid in systems.items():
                if oid not in own and (m == other or m.startswith(other + ".")):
                    bad.append((rel, m))
    return bad


def test_systems_do_not_import_each_other() -> None:
    """What two systems share lives in a shared layer (e.g. ``proposals/`` for SAM)."""
    assert (PKG / "segmentation" / "seco").is_dir() and (PKG / "change" / "anychange").is_dir()
    bad = _cross_system_imports()
    assert not bad, bad


def test_cross_system_checker_can_fail(tmp_path: Path) -> None:
    """The checker sees a relative import of another system (else the test above is void)."""
    fake = tmp_path / "geoneurips"
    (fake / "segmentation" / "seco").mkdir(parents=True)
    (fake / "segmentation" / "seco" / "x.py").write_text(
        "from ...change.anychange.model import build_sam\n")
    assert _cross_system_imports(fake) == [
        ("segmentation/seco/x.py", "geoneurips.change.anychange.model")
    ]
