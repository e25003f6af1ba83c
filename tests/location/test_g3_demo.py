"""The G3 demo on a synthetic photo world over GeoCLIP's real 100k GPS gallery.

Every method sees the same JPEG photos through the same frozen tiny image tower. The LMM is
the rule-based stand-in ``NeighbourVoteLMM`` (not the paper's LMM: it sees no image and only
votes among the retrieved coordinates). Measured acc@25km (quick: 2,000 records, 200
queries, 10k gallery rows; full: 5,000 / 400 / 100k minus the queries' rows):

==========  =====  ============  ============  ========  =========  ==========  ==========
run         G3     top-1 (G3 ix) top-1 raw     kNN vote  GeoCLIP    G3 gallery  verify top15
==========  =====  ============  ============  ========  =========  ==========  ==========
quick, 0    0.315  0.430         0.440         0.320     0.205      0.170       0.275
quick, 1    0.325  0.410         0.415         0.290     0.195      0.140       0.310
quick, 2    0.305  0.405         0.410         0.305     0.185      0.135       0.265
full, 0     0.448  0.525         0.535         0.448     0.268      0.208       0.385
full, 1     0.445  0.533         0.560         0.443     0.240      0.218       0.405
full, 2     0.470  0.543         0.558         0.448     0.285      0.255       0.423
==========  =====  ============  ============  ========  =========  ==========  ==========

(top-1: retrieval-only top-1 on G3's index / on the raw image features; kNN vote: the
densest of the top-15 retrieved GPS, i.e. G3 without verification; GeoCLIP: GeoCLIP-style
gallery matching; G3 gallery: G3's image<->GPS embedding matched over the gallery; verify
top15: ablation, verification over the 15 retrieved GPS without LMM answers.) With G3's
GPS capsules fine-tuned as in the paper (quick, seed 0) G3 reaches 0.330. G3 beats GeoCLIP-style
gallery matching on the real gallery by 0.11-0.18 but **loses to retrieval-only top-1** by
0.08-0.13: geo-verification with the image<->GPS alignment learned on a few thousand records
(capsules frozen on a CPU) ranks the retrieved places worse than image-image similarity
does. So ``beats_baseline`` is false and the system stays ``partial``; the test asserts this
honest outcome (G3 > GeoCLIP-style matching + 0.05, G3 < retrieval top-1) on quick, seed 0.
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
    assert "NOT the paper's LMM" in r.details["lmm"]
    assert set(r.details["winning_candidate_sources"]) <= {
        "retrieval_top1", "zero_shot", "rag_5", "rag_10", "rag_15"
    }
