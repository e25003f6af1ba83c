"""The IDEE demo (quick, seed 0): the published layout is written and read back, IDEE and
every baseline are scored on a cube of an unseen generator seed, and the registered status
matches the outcome.

Measured, quick demo (208 x 12 x 12 cube; baselines 4 epochs, IDEE 2 epochs since the
timing round, 4 before), driver F1 on the unseen-seed cube:

======  ====  ====  =========  =====  =====
seed    IDEE  IG    |z| thr.   IF     OCSVM
======  ====  ====  =========  =====  =====
0       0.00  0.28  0.31       0.31   0.22
1       0.00  0.39  0.29       0.29   0.24
2       0.00  0.19  0.28       0.24   0.20
======  ====  ====  =========  =====  =====

Re-measured with the published encoder (per-cell LayerNorm) and the published ``L_anom``
(z_q vs the detached ``project_out(-1)``): the same numbers (the baselines did not change;
IDEE 0.00 on every seed, extreme F1 0.00; quick demo ~30 s of one core's CPU).
Timing round: IDEE trains 2 epochs in the quick demo (the baselines keep 4), the LFQ entropy
uses the closed-form sigmoid of the two-code softmax and the models train channels-last:
the same numbers on seeds 0/1/2 (every baseline unchanged to 3 decimals, IDEE 0.00), the
demo itself 19-22 s of one core's CPU (``time.process_time``), ~25 s with the imports.
The 1-bit quantiser collapses to "all normal" in this CPU budget (paper: 100 epochs on
200 x 200 x 2392 cubes): the commitment and ``L_anom`` gradients on the code are ~10x the
BCE's (see ``model.py``), so ``beats_baseline`` is false and idee is registered ``partial``.
The test asserts the baselines work (strongest > 0.15, weakest > 0.08; driver fraction
~0.04-0.07 is chance) and that the registered status matches the outcome.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.forecasting.idee.pipeline import demo
from geoneurips.registry import get


@pytest.mark.slow
def test_quick_demo(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {
        "Integrated Gradients",
        "z-score |z| threshold",
        "Isolation Forest",
        "one-class SVM",
    }
    assert r.primary == "driver_f1"
    for name, b in r.baselines.items():
        assert 0.0 <= b["driver_f1"] <= 1.0, name
    # the baselines are functional: each finds drivers well above chance (driver fraction
    # ~0.04, so a random mask of the same size scores F1 ~0.04)
    assert r.baseline["driver_f1"] > 0.15
    assert min(b["driver_f1"] for b in r.baselines.values()) > 0.08
    data = json.loads(Path(r.artifacts["result"]).read_text())
    assert data["system"] == "idee" and Path(r.artifacts["figure"]).is_file()
    spec = get("idee")
    assert (spec.status == "working") == r.beats_baseline
