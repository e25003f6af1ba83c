"""The GeoPlant demo: the multi-modal ensemble against every baseline, on held-out surveys.

Late fusion (2026-12-07): the mean predicted probability of the three single-modality
ResNet-6 models, the multi-modal model a practitioner builds first, is the strongest
baseline on every run. F1@25 MME / late fusion: quick seeds 0-4 0.332/0.317, 0.345/0.330,
0.341/0.323, 0.345/0.328, 0.344/0.326; full seeds 0-2 0.343/0.326, 0.355/0.328,
0.356/0.328. The lead (+0.015 to +0.028) is below DEMO_MARGIN on every quick seed and full
seed 0, so the demo decides False there and the system is ``partial``; the table below is
the earlier measurement, without that baseline.

Measured (quick demo: 400 training / 300 held-out surveys; full: 800 / 400; the held-out
surveys come from another seed of the same synthetic world), top-25 samples-F1. Quick rows
re-measured on 2026-12-06 after every arm's initial weights were seeded from ``seed`` (see
``test_demo_initial_weights_depend_on_seed_alone``; seeds 3 and 4 are confirmation seeds);
full rows re-measured after the same fix (fresh processes, OMP_NUM_THREADS=1):

===========  =====  =======  =======  ==========  ========  ========  =========  ======
run          MME    landsat  bioclim  sentinel-2  district  LightGBM  MME l+b    margin
===========  =====  =======  =======  ==========  ========  ========  =========  ======
quick, 0     0.332  0.213    0.290    0.290       0.204     0.287     0.292      0.042
quick, 1     0.343  0.220    0.277    0.302       0.205     0.284     0.301      0.041
quick, 2     0.343  0.230    0.281    0.286       0.200     0.291     0.296      0.052
quick, 3     0.345  0.227    0.280    0.300       0.188     0.288     0.303      0.045
quick, 4     0.344  0.210    0.277    0.298       0.199     0.275     0.292      0.046
full, 0      0.344  0.243    0.281    0.289       0.218     0.306     0.313      0.038
full, 1      0.355  0.227    0.294    0.289       0.220     0.308     0.327      0.047
full, 2      0.357  0.236    0.292    0.282       0.226     0.306     0.317      0.051
===========  =====  =======  =======  ==========  ========  ========  =========  ======

(single-modality columns are the ResNet-6 baselines; "MME l+b" is the ablation without
Sentinel-2; margin = MME minus the strongest baseline). The smallest margin measured is
0.038, so DEMO_MARGIN = 0.02 leaves 0.018 of room. The MME also leads on recall@25 and
macro-AUC in every run (no regression to explain).
The test asserts the honest decision on the quick demo, seed 0 (see above).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from geoneurips.location.geoplant.pipeline import DEMO_MARGIN, demo
from geoneurips.registry import get, load_entry


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_demo_quick_reports_the_late_fusion_baseline_and_the_honest_decision(
        tmp_path: Path) -> None:
    """Quick demo, seed 0: the late fusion of the three single-modality models is the
    strongest baseline; the ensemble leads it (F1@25, recall@25, macro-AUC) but not by the
    margin, so the demo does not decide for it. Against every other baseline (the issue's
    bar: best single modality, district top-25, LightGBM) it leads by the margin."""
    res = demo(tmp_path, quick=True, seed=0)
    assert res.system == "geoplant" and res.primary == "f1_at_25"
    assert set(res.baselines) == {"resnet6_landsat", "resnet6_bioclim", "resnet6_sentinel",
                                  "late_fusion_mean_probability", "top25_district",
                                  "lightgbm_tabular"}
    assert res.margin == DEMO_MARGIN
    assert res.strongest_baseline == "late_fusion_mean_probability"
    late = res.baselines["late_fusion_mean_probability"]
    assert 0 < res.metrics["f1_at_25"] - late["f1_at_25"] < DEMO_MARGIN
    assert res.beats_baseline is False
    for k in ("recall_at_25", "macro_auc"):
        assert res.metrics[k] > late[k]
    others = max(b["f1_at_25"] for n, b in res.baselines.items()
                 if n != "late_fusion_mean_probability")
    assert res.metrics["f1_at_25"] - others > DEMO_MARGIN
    # the late fusion is itself better than each of the models it averages
    assert late["f1_at_25"] > max(res.baselines[f"resnet6_{m}"]["f1_at_25"]
                                  for m in ("landsat", "bioclim", "sentinel"))
    # the ensemble also beats its own ablation without Sentinel-2
    assert res.metrics["f1_at_25"] > res.ablations["mme_landsat_bioclim"]["f1_at_25"]
    # every single modality carries only part of the signal: each is below the ensemble
    for m in ("landsat", "bioclim", "sentinel"):
        assert res.baselines[f"resnet6_{m}"]["f1_at_25"] < res.metrics["f1_at_25"] - DEMO_MARGIN
    saved = json.loads(Path(res.artifacts["result"]).read_text())
    assert saved["metrics"]["f1_at_25"] == pytest.approx(res.metrics["f1_at_25"])
    assert Path(res.artifacts["figure"]).read_bytes()[:4] == b"\x89PNG"


class _Stop(Exception):
    """Raised by the stubbed training to stop the demo once every network is built."""


@pytest.mark.slow  # writes and reads the quick demo's world twice (~10 s CPU), no training
def test_demo_initial_weights_depend_on_seed_alone(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect found by the robustness audit (2026-12-06): the demo built its first network
    (the Landsat ResNet-6, whose encoder the ensemble reuses) before anything seeded torch
    (Lightning seeds only when ``fit`` builds its trainer), so its initial weights, and every
    number the demo reports, depended on what had run before in the process (earlier tests
    under pytest, earlier demos under ``reproduce``), not on ``seed`` alone. Measured on the
    old code, quick seed 3: MME 0.3437 in a fresh process, 0.3433 after
    ``torch.manual_seed(999)``. Training is stubbed out here: the initial weights of the four
    networks built up to the ensemble are compared after two different prior RNG states
    (this fails on the old code)."""
    from geoneurips.location.geoplant import pipeline

    inits: list[torch.Tensor] = []

    def no_training(model, data, epochs, **kw):  # type: ignore[no-untyped-def]
        inits.append(torch.cat([p.detach().flatten().clone() for p in model.parameters()]))
        if len(inits) % 4 == 0:  # 3 single-modality networks + the ensemble
            raise _Stop
        return model.eval()

    monkeypatch.setattr(pipeline, "fit", no_training)
    for prior in (1, 2):
        torch.manual_seed(prior)  # what an earlier test or demo leaves behind
        with pytest.raises(_Stop):
            pipeline.demo(tmp_path / str(prior), quick=True, seed=0)
    first, second = inits[:4], inits[4:]
    assert len(first) == len(second) == 4
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_registry_entry_points() -> None:
    spec = get("geoplant")
    assert spec.family == "location"
    assert callable(load_entry(spec.demo))
    assert load_entry(spec.dataset).__name__ == "GeoPlantPA"
    assert load_entry(spec.model).__name__ == "SpeciesModel"
