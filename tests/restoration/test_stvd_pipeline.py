"""STVD learns (quick demo): downscaler beats bilinear in MSE, the diffusion ensemble beats
the deterministic downscaler in CRPS; artifacts and registration."""

from __future__ import annotations

import json
from pathlib import Path

from geoneurips.registry import get, load_entry
from geoneurips.restoration.stvd.pipeline import demo

MSE_MARGIN = 0.8  # downscaler MSE must be below 80% of bilinear's
CRPS_MARGIN = 0.95  # ensemble CRPS must be below 95% of the deterministic downscaler's


def test_quick_demo_learns(tmp_path: Path) -> None:
    res = demo(tmp_path, quick=True, seed=0)
    m, b = res.metrics, res.baseline
    assert m["downscaler_mse"] < MSE_MARGIN * b["mse"], (m, b)
    assert m["crps"] < CRPS_MARGIN * m["downscaler_crps"], m
    assert res.beats_baseline and res.primary == "crps"
    # the ensemble reproduces fine-scale structure that the mean prediction smooths away
    assert m["sae"] < m["downscaler_sae"]
    saved = json.loads(Path(res.artifacts["result"]).read_text())
    assert saved["metrics"]["crps"] == m["crps"]
    assert Path(res.artifacts["figure"]).stat().st_size > 1000
    assert res.details["frames"] == 5


def test_registered() -> None:
    spec = get("stvd")
    assert spec.family == "restoration" and spec.status in ("partial", "working")
    assert load_entry(spec.demo) is demo  # type: ignore[arg-type]
    assert load_entry(spec.dataset).__name__ == "FV3GFSDownscaling"  # type: ignore[arg-type]
    assert load_entry(spec.model).__name__ == "STVD"  # type: ignore[arg-type]
