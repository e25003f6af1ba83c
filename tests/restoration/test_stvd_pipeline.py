"""STVD learns (quick demo): the diffusion ensemble beats the strongest of bilinear, bicubic
and the deterministic downscaler trained alone on CRPS; artifacts and registration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.registry import get, load_entry
from geoneurips.restoration.stvd.pipeline import CRPS_MARGIN, demo


@pytest.mark.slow  # a quick demo: three trainings (~20-25 s CPU)
def test_quick_demo_beats_the_strongest_baseline(tmp_path: Path) -> None:
    """Quick demo, seed 0 (80 joint steps; the downscaler alone gets the same 80 steps).

    Measured CRPS (normalised units), quick, seeds 0 / 1 / 2:
    STVD ensemble 0.173 / 0.163 / 0.179; downscaler alone 0.217 / 0.194 / 0.233 (the
    strongest baseline every time); bilinear 0.330 / 0.331 / 0.349; bicubic 0.330 / 0.333 /
    0.350. Smallest gain 0.031; asserted margin CRPS_MARGIN = 0.015. Full demo (250 steps),
    seeds 0 / 1 / 2: STVD 0.154 / 0.154 / 0.156 vs downscaler alone 0.199 / 0.196 / 0.198
    (gain >= 0.042), beats_baseline true on all six runs. Regressions (explained in the
    demo): MSE of the ensemble mean and EMD vs the downscaler alone, PE vs bilinear.
    """
    res = demo(tmp_path, quick=True, seed=0)
    m, bases = res.metrics, res.baselines
    assert set(bases) == {"bilinear", "bicubic", "downscaler_alone"}
    assert res.primary == "crps" and res.margin == CRPS_MARGIN >= 0.015
    assert res.strongest_baseline == "downscaler_alone"
    best = min(b["crps"] for b in bases.values())
    assert m["crps"] < best - CRPS_MARGIN, (m, bases)
    assert res.beats_baseline
    # the learned downscaler is far better than interpolation in MSE ...
    assert bases["downscaler_alone"]["mse"] < 0.6 * bases["bilinear"]["mse"]
    # ... and the ensemble restores fine-scale structure the mean predictions smooth away
    for k in ("sae", "psd"):
        assert m[k] < 0.5 * min(b[k] for b in bases.values()), (k, m, bases)
    assert "without_diffusion" in res.ablations
    assert {r["metric"] for r in res.regressions} <= {"mse", "emd", "pe"}
    saved = json.loads(Path(res.artifacts["result"]).read_text())
    assert saved["metrics"]["crps"] == m["crps"] and saved["strongest_baseline"]
    assert Path(res.artifacts["figure"]).stat().st_size > 1000
    assert res.details["frames"] == 5


def test_registered() -> None:
    spec = get("stvd")
    assert spec.family == "restoration" and spec.status in ("partial", "working")
    assert load_entry(spec.demo) is demo  # type: ignore[arg-type]
    assert load_entry(spec.dataset).__name__ == "FV3GFSDownscaling"  # type: ignore[arg-type]
    assert load_entry(spec.model).__name__ == "STVD"  # type: ignore[arg-type]
