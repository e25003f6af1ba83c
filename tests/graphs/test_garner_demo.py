"""The Garner demo (quick mode): runs, writes JSON and PNG, and does NOT decide a win.

Synthetic Third-Law city (road function follows a street-view configuration type that
recurs across the city in small patches; street-view noise ``SVI_NOISE = 1.5``), roads that
keep their ``highway`` class along a grid line (``HW_CHANGE = 0.1`` per street, calibrated on
the real OSM extracts: line-graph neighbours share the class 59-61% vs 63% pooled real),
every method seeing the same road and street-view features, every embedding probed alone as
in the public code; the paper's defaults with 60 (quick) / 120 (full) epochs on 384-segment
induced subgraphs. Road-function macro-F1, Garner / raw + 2-hop neighbourhood / raw / MVGRL
/ DGI, quick seeds 0-4:

- 0: 0.904 / 0.926 / 0.873 / 0.867 / 0.717 (Garner -0.022 below the strongest baseline),
- 1: 0.963 / 0.910 / 0.861 / 0.929 / 0.680 (+0.034), 2: 0.912 / 0.898 / 0.874 / 0.846 /
  0.727 (+0.014), 3: 0.920 / 0.866 / 0.837 / 0.878 / 0.660 (+0.042), 4: 0.924 / 0.886 /
  0.825 / 0.894 / 0.590 (+0.030); dev seeds 10-12 +0.064 / -0.016 / +0.027.

Speed R² (probe on the embedding alone), Garner / MVGRL / raw / raw + neighbourhood, quick
seeds 0-4: 0.12 / 0.33 / 0.84 / 0.69, -0.03 / 0.18 / 0.85 / 0.75, 0.39 / 0.36 / 0.80 / 0.69,
0.31 / 0.34 / 0.81 / 0.57, 0.07 / 0.27 / 0.82 / 0.68: every speed metric regresses and no
measured condition explains it (see the package notes), so the demo must not decide a win.
This test runs quick seed 0 and asserts that: the speed regressions are reported without
explanation and ``beats_baseline`` is False (a blanket explanation, as before, fails it);
Garner > DGI + 0.1 (seeds 0-4: +0.15 or more) on macro-F1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.graphs.garner.pipeline import demo

SPEED = {"speed_mae", "speed_rmse", "speed_mape", "speed_mare", "speed_r2"}


@pytest.mark.slow
def test_quick_demo(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {"raw_features_logreg", "raw_neighbourhood_logreg", "dgi",
                                "mvgrl"}
    assert set(r.ablations) == {"knn_view_features_no_learning", "garner_untrained_encoder"}
    assert set(r.metrics) == {"rf_micro_f1", "rf_macro_f1", "rf_macro_auroc", *SPEED}
    ours = r.metrics["rf_macro_f1"]
    assert ours > r.baselines["dgi"]["rf_macro_f1"] + 0.1
    # every speed metric is worse than the raw-feature probes, and none is explained
    speed_regressions = {g["metric"]: g for g in r.regressions if g["metric"] in SPEED}
    assert set(speed_regressions) == SPEED
    assert all(not g["explanation"] for g in speed_regressions.values())
    assert r.metrics["speed_r2"] < r.baselines["raw_features_logreg"]["speed_r2"] - 0.3
    assert not r.beats_baseline
    assert (tmp_path / "garner.json").is_file() and (tmp_path / "garner.png").is_file()
    saved = json.loads((tmp_path / "garner.json").read_text())
    assert saved["strongest_baseline"] == r.strongest_baseline
    assert saved["beats_baseline"] is False
