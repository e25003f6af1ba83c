"""The TorchSpatial demo and the per-sample results path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.location.torchspatial.pipeline import (
    classification_metrics,
    demo,
    evaluate_results_csv,
    write_results_csv,
)
from geoneurips.location.torchspatial.showcase import DEMO_MARGIN
from geoneurips.registry import get, load_entry


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_demo_quick_compares_encoders_truthfully(tmp_path: Path) -> None:
    """Quick demo, seed 0: every prior beats "no prior"; sphereC+ vs the best planar encoder.

    Measured Top-1 (quick, seeds 0/1/2): no prior 0.562/0.556/0.565, wrap 0.715/0.736/0.725,
    rbf 0.814/0.863/0.819, Space2Vec-theory 0.840/0.838/0.838, sphereC+ 0.863/0.868/0.838,
    xyz (ablation) 0.613/0.629/0.626. Full demo (seeds 0/1/2): sphereC+ 0.816/0.836/0.844
    against the strongest baseline 0.828/0.825/0.834: sphereC+ does not beat the best planar
    encoder by the margin on this task, and the demo says so (``beats_baseline`` false, the
    saturated Top-3/5/10 regressions listed). Asserted: the prior gains > 0.2 Top-1 over no
    prior (measured >= 0.27), every encoder baseline > 0.1 (measured >= 0.15), sphereC+ within
    0.05 of the strongest baseline, and the decision matches the numbers.
    """
    res = demo(tmp_path, quick=True, seed=0)
    assert res.system == "torchspatial" and res.primary == "top1"
    assert res.margin == DEMO_MARGIN
    assert set(res.baselines) == {"no_prior", "wrap", "rbf", "space2vec_theory"}
    assert set(res.ablations) == {"xyz"}
    none = res.baselines["no_prior"]["top1"]
    assert res.metrics["top1"] - none > 0.2
    for name in ("wrap", "rbf", "space2vec_theory"):
        assert res.baselines[name]["top1"] - none > 0.1
    best = max(b["top1"] for b in res.baselines.values())
    assert res.baseline["top1"] == best and res.strongest_baseline != "no_prior"
    assert abs(res.metrics["top1"] - best) < 0.05
    unexplained = [r for r in res.regressions if not r["explanation"]]
    assert res.beats_baseline == (res.metrics["top1"] - best > DEMO_MARGIN and not unexplained)
    assert set(res.directions) >= set(res.metrics)
    png, js = Path(res.artifacts["figure"]), Path(res.artifacts["result"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(js.read_text())
    assert saved["metrics"]["top1"] == pytest.approx(res.metrics["top1"])
    assert saved["baselines"]["rbf"]["top1"] == pytest.approx(res.baselines["rbf"]["top1"])
    assert set(res.metrics) == {"top1", "top3", "top5", "top10", "mrr"}
    # the per-sample CSVs reproduce the metrics (TorchSpatial eval_*.csv format)
    csvs = {Path(p).stem.removeprefix("eval_synthetic_"): Path(p)
            for p in res.details["results_csv"]}
    ev = evaluate_results_csv(csvs["sphere_c_plus"])
    for k in ("top1", "top3", "mrr"):
        assert ev[k] == pytest.approx(res.metrics[k])
    assert evaluate_results_csv(csvs["no_prior"])["top1"] == pytest.approx(none)
    assert evaluate_results_csv(csvs["rbf"])["top1"] == pytest.approx(
        res.baselines["rbf"]["top1"])
    # the data went through the BirdSnap layout
    assert (tmp_path / "locbench_synthetic" / "birdsnap_with_loc_2019.json").is_file()


def test_registry_entry_points() -> None:
    spec = get("torchspatial")
    # partial: the demo does not beat the strongest planar encoder (see the notes)
    assert spec.status == "partial" and "planar encoder" in spec.notes
    assert spec.family == "location"
    assert callable(load_entry(spec.demo))
    assert load_entry(spec.dataset).__name__ == "BirdSnap"
    assert load_entry(spec.model).__name__ == "LocationPrior"
    assert callable(load_entry(spec.commands["geobias"]))


def test_results_csv_round_trip_and_real_file(tmp_path: Path, real_data: Path) -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((30, 6))
    labels = rng.integers(0, 6, 30)
    path = write_results_csv(tmp_path / "r.csv", rng.random((30, 2)), scores, labels)
    header = path.read_text().splitlines()[0]
    assert header == ",lon,lat,true_class_prob,reciprocal_rank,hit@1,hit@3"
    ev = evaluate_results_csv(path)
    ref = classification_metrics(scores, labels)
    for k in ("top1", "top3", "mrr"):
        assert ev[k] == pytest.approx(ref[k])
    real = real_data / "torchspatial" / "eval_birdsnap_ebird_meta_test_Sphere2Vec-sphereC.csv"
    ev = evaluate_results_csv(real)
    frame = pd.read_csv(real)
    assert ev["n"] == 2262 and ev["top1"] == pytest.approx(frame["hit@1"].mean())
    assert 0.5 < ev["top1"] <= ev["top3"] <= 1
    reg = evaluate_results_csv(real_data / "torchspatial" / "eval_mosaiks_population__test_rbf.csv")
    assert np.isfinite(reg["r2"]) and reg["rmse"] >= reg["mae"] > 0
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInputError, match="none of"):
        evaluate_results_csv(tmp_path / "bad.csv")
    with pytest.raises(InvalidInputError, match="does not exist"):
        evaluate_results_csv(tmp_path / "missing.csv")
