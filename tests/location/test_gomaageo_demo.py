"""The GOMAA-Geo demo (quick) end to end: files, metrics, and that the learned policy
clearly beats the cheap baselines and the PPO-only ablation.

MEASURED_PLACEHOLDER
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.location.gomaageo.pipeline import demo


@pytest.mark.slow
def test_quick_demo(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert (tmp_path / "gomaageo.png").is_file()
    saved = json.loads((tmp_path / "gomaageo.json").read_text())
    assert saved["metrics"]["sr_mean"] == pytest.approx(r.metrics["sr_mean"])
    assert set(r.baselines) == {"random_walk", "greedy_similarity", "memoryless_mlp"}
    assert set(r.ablations) == {"gasp_only", "ppo_only"}
    ours = r.metrics["sr_mean"]
    ASSERTS_PLACEHOLDER
