"""The SolarCube demo: area-level 3 h -> 3 h forecasting of synthetic tiles.

Synthetic tiles in the published layout (moving cloud fields, diurnal cycle), read back
through ``SolarCubeImage``; training tiles from the published train list, scores on the
published test tiles (cloud fields and motions never seen in training). RMSE (W m-2) at
1-3 h leads, quick demo (10 train tiles x 3 days, windows every step, ConvLSTM 600 steps):

====  ========  ===========  =================  =====  ===========
seed  ConvLSTM  persistence  smart persistence  ridge  lead (ridge)
====  ========  ===========  =================  =====  ===========
0     107.1     246.9        185.1              125.3  18.2
1     95.2      237.6        168.6              119.3  24.1
2     126.8     246.5        194.3              138.8  12.0
====  ========  ===========  =================  =====  ===========

The ridge regression (pixel history + last-frame 5x5 neighbourhood, closed form on 60k rows)
is the strongest baseline every time; the demo asserts DEMO_MARGIN = 5 W m-2 over it
(smallest measured lead 12.0), and this test additionally asserts a 40 W m-2 lead over smart
persistence (smallest measured 67.5). With 6 train tiles x 2 days and 400 steps the ConvLSTM
lost to the ridge on seed 2 (171 vs 146), hence the larger training set. The point models
(short task) are reported in the full demo only, not asserted (full demo, seed 0: LSTM
encoder-decoder 156, attention LSTM 165, PatchTST 189 vs. smart persistence 183 and ridge
141.6). The test runs the quick demo with seed 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.forecasting.solarcube.pipeline import DEMO_MARGIN, demo
from geoneurips.registry import get, load_entry


@pytest.mark.slow
def test_quick_demo_beats_the_strongest_baseline(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {"persistence", "smart_persistence", "ridge"}
    assert r.primary == "rmse_1_3h" and r.margin == DEMO_MARGIN == 5.0
    ours = r.metrics["rmse_1_3h"]
    assert ours < r.baselines["smart_persistence"]["rmse_1_3h"] - 40.0
    assert ours < r.baselines["ridge"]["rmse_1_3h"] - DEMO_MARGIN
    assert r.beats_baseline is True
    assert len(r.details["per_lead_rmse"]["convlstm"]) == 12
    assert r.details["point_short_task"] == "full demo only"
    data = json.loads((tmp_path / "solarcube.json").read_text())
    assert data["system"] == "solarcube" and (tmp_path / "solarcube.png").stat().st_size > 0


def test_registered() -> None:
    spec = get("solarcube")
    assert spec.family == "forecasting" and spec.status == "working"
    assert load_entry(spec.demo) is demo
