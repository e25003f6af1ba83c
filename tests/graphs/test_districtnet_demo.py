"""The DistrictNet demo (quick mode): runs, writes JSON and PNG, reports every baseline.

Measured expected TSP cost on the held-out 30-BU synthetic cities (lower is better), as
DistrictNet / BHH / Figliozzi / PredGNN / AvgTSP / ablations (CMST on centre distances,
DistrictNet with the local search instead of exact partitioning):

- quick, seed 0: 75.34 / 81.39 / 81.32 / 77.36 / 74.95 / 75.82, 78.08
- quick, seed 1: 66.64 / 70.84 / 71.09 / 67.44 / 65.74 / 66.51, 66.35
- quick, seed 2: 66.88 / 70.73 / 70.36 / 68.60 / 64.55 / 66.58, 66.39
- full, seed 0: 76.30 / 81.83 / 82.16 / 79.51 / 76.89 / 76.93, 77.47
- full, seed 1: 68.36 / 73.33 / 70.71 / 69.09 / 67.97 / 68.89, 68.41
- full, seed 2: 69.30 / 73.78 / 74.53 / 71.77 / 67.91 / 68.68, 70.22

DistrictNet does not beat the strongest baseline (AvgTSP) except on full seed 0, so the
system is ``partial`` and this test asserts only what holds with room to spare on seed 0:
it beats the continuous approximations (BHH, Figliozzi) by more than 3% (measured 7.4%;
4.9-7.4% over the quick seeds) and PredGNN by more than 1% (measured 2.6%; 1.2-2.6%).
"""

from __future__ import annotations

import json
from pathlib import Path

from geoneurips.graphs.districtnet.pipeline import demo


def test_quick_demo(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {"bhh", "figliozzi", "predgnn", "avg_tsp"}
    assert set(r.ablations) == {"cmst_distance_weights", "districtnet_ils"}
    ours = r.metrics["expected_tsp_cost"]
    for name in ("bhh", "figliozzi"):
        assert ours < 0.97 * r.baselines[name]["expected_tsp_cost"]
    assert ours < 0.99 * r.baselines["predgnn"]["expected_tsp_cost"]
    assert (tmp_path / "districtnet.json").is_file() and (tmp_path / "districtnet.png").is_file()
    saved = json.loads((tmp_path / "districtnet.json").read_text())
    assert saved["strongest_baseline"] == r.strongest_baseline
