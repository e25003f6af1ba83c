"""Imports only point down: the shared layers never import a system family."""

from __future__ import annotations

import ast
from pathlib import Path

from geoneurips.registry import SYSTEM_FAMILIES

PKG = Path(__file__).resolve().parents[1] / "src" / "geoneurips"
SHARED = ["errors.py", "registry.py", "io.py", "seed.py", "demo.py", "catalog", "raster",
          "metrics", "nn"]


def _imports(path: Path) -> list[str]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
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
