"""AllClear demo: the small UnCRtainTS beats least-cloudy on synthetic cloudy series."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.restoration.allclear.pipeline import demo


@pytest.mark.slow
def test_demo_learns_and_beats_least_cloudy(tmp_path: Path) -> None:
    res = demo(tmp_path, quick=True, seed=0)
    assert res.primary == "PSNR" and res.margin == 1.0
    # learned model beats least-cloudy by more than 1 dB PSNR on clear target pixels
    assert res.metrics["PSNR"] - res.baseline["PSNR"] > 1.0
    assert res.beats_baseline
    assert res.metrics["MAE"] < res.baseline["MAE"]
    assert Path(res.artifacts["figure"]).stat().st_size > 0
    data = json.loads(Path(res.artifacts["result"]).read_text())
    assert data["details"]["uncrtaints_by_landcover"]
