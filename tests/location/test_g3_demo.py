"""The G3 demo on a synthetic photo world over GeoCLIP's real 100k GPS gallery.

Every method sees the same JPEG photos through the same frozen tiny image tower. The LMM is
the rule-based stand-in ``NeighbourVoteLMM`` (not the paper's LMM: it sees no image and only
votes among the retrieved coordinates). Measured acc@25km (quick: 2,000 records, 200
queries, 10k gallery rows; full: 5,000 / 400 / 100k minus the queries' rows); dev seeds
10-12 were used to study the training, seeds 0-2 are reported:

==========  =====  =========  =========  ========  =======  ==========  ==========  =====
run         G3     top-1 G3   top-1 raw  kNN vote  GeoCLIP  G3 gallery  verify t15  ideal
==========  =====  =========  =========  ========  =======  ==========  ==========  =====
quick, 0    0.315  0.430      0.440      0.320     0.205    0.170       0.275       0.470
quick, 1    0.325  0.410      0.415      0.290     0.195    0.140       0.310       0.465
quick, 2    0.305  0.405      0.410      0.305     0.185    0.135       0.265       0.440
full, 0     0.448  0.525      0.535      0.448     0.268    0.208       0.385       0.593
full, 1     0.445  0.533      0.560      0.443     0.240    0.218       0.405       0.608
full, 2     0.470  0.543      0.558      0.448     0.285    0.255       0.423       0.585
==========  =====  =========  =========  ========  =======  ==========  ==========  =====

(top-1 G3 / raw: retrieval-only top-1 on G3's own index ``[CLIP, else_1, else_2]`` / on the
raw image features; kNN vote: the densest of the top-15 retrieved GPS, i.e. G3 without
verification; GeoCLIP: GeoCLIP-style gallery matching; G3 gallery: G3's image<->GPS
embedding matched over the gallery; verify t15: ablation, verification over the 15 retrieved
GPS without LMM answers; ideal: diagnostic, G3's own candidates scored by a verifier that
knows the world's noiseless photo at every place.) G3 beats GeoCLIP-style gallery matching
by 0.11-0.21 but **loses to retrieval-only top-1** by 0.07-0.13, and the loss is in
geo-verification: the image<->GPS alignment learned on a few thousand records recalls the
held-out queries' own GPS among theirs at 0.22-0.27 (recall@1) against 0.80-0.90 on as
many training records. The headroom is small even for a perfect verifier: the ideal one
gains only 0.03-0.06 over raw top-1 because the stand-in LMM only echoes retrieved
coordinates. So ``beats_baseline`` is false and the system stays ``partial``; the test
asserts this honest outcome on quick, seed 0 (G3 > GeoCLIP-style matching + 0.05, G3 <
retrieval top-1, held-out alignment recall@1 below training recall@1 by more than 0.3, the
ideal verifier within 0.10 of raw top-1 and above G3).

Training checked against the public code (``run_G3.py``, ``utils/G3.py``, ``utils/utils.py``
of Applied-Machine-Learning-Lab/G3): CLIP frozen, heads + GPS tower + logit scales (init
3.99) trained with AdamW 3e-5 / wd 1e-6 / StepLR 0.87, no augmentation applied (the
dataset's contrast transforms are never called); the one difference left, batch
composition (public: ``shuffle=False``, the same batches every epoch; ours: reshuffled),
measured on dev seeds 10-12, full demo (G3 / raw top-1 / held-out recall@1 / train
recall@1): reshuffled 0.478 / 0.613 / 0.257 / 0.905, 0.438 / 0.570 / 0.228 / 0.892,
0.430 / 0.558 / 0.278 / 0.918; fixed batches 0.468 / 0.613 / 0.275 / 0.887, 0.435 / 0.570
/ 0.248 / 0.900, 0.418 / 0.558 / 0.255 / 0.915. No change, so the demo is unchanged and the
seeds 0-2 numbers above stand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.location.g3.pipeline import demo


@pytest.mark.slow
def test_demo_quick_seed0_honest_outcome(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert (tmp_path / "g3.png").is_file()
    saved = json.loads((tmp_path / "g3.json").read_text())
    assert saved["metrics"] == pytest.approx(r.metrics)
    g3 = r.metrics["acc@25km"]
    assert g3 > r.baselines["geoclip_gallery"]["acc@25km"] + 0.05
    assert g3 > r.baselines["g3_alignment_gallery"]["acc@25km"] + 0.05
    assert g3 < r.baselines["retrieval_top1"]["acc@25km"]
    assert not r.beats_baseline
    assert r.strongest_baseline in ("retrieval_top1", "retrieval_top1_raw_clip")
    assert r.details["im2gps3k_axis_swapped_detected"] is True
    diag = r.details["diagnostics"]
    assert diag["alignment_heldout_recall@1"] < diag["alignment_train_recall@1"] - 0.3
    top1_raw = r.baselines["retrieval_top1_raw_clip"]["acc@25km"]
    assert g3 < diag["ideal_verifier_acc@25km"] <= diag["g3_candidates_any_within_25km"]
    assert diag["ideal_verifier_acc@25km"] < top1_raw + 0.10
    assert "NOT the paper's LMM" in r.details["lmm"]
    assert set(r.details["winning_candidate_sources"]) <= {
        "retrieval_top1", "zero_shot", "rag_5", "rag_10", "rag_15"
    }
