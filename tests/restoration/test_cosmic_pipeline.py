"""COSMIC demo: COSMIC against JPEG and compressai's learned codecs at matched rate, the
decoder-only ablation, the rho = 1 sampler and the tile-seam test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.restoration.cosmic.baselines import build_baseline, real_coding
from geoneurips.restoration.cosmic.demo import batch_to_tiles, match_rate, tiles_to_batch


def test_match_rate_rules() -> None:
    pts = [{"bpp": 0.3, "psnr": 24.0}, {"bpp": 0.1, "psnr": 20.0}]
    mid = match_rate(pts, 0.2)  # bracketed: linear interpolation in bpp
    assert mid is not None and mid["psnr"] == pytest.approx(22.0) and mid["bpp"] == 0.2
    assert mid["matched"] == 1.0
    low = match_rate(pts, 0.05)  # every point above: the lowest-rate point (more bits)
    assert low is not None and low["bpp"] == 0.1 and low["matched"] == 0.0
    assert match_rate(pts, 0.4) is None  # every point below: no extrapolation


def test_tiles_roundtrip_and_order() -> None:
    x = torch.arange(2 * 3 * 8 * 12, dtype=torch.float32).reshape(2, 3, 8, 12)
    t = batch_to_tiles(x, 4)
    assert t.shape == (12, 3, 4, 4)
    assert torch.equal(t[1], x[0, :, :4, 4:8]) and torch.equal(t[6], x[1, :, :4, :4])
    assert torch.equal(tiles_to_batch(t, 2, 8, 12), x)


def test_learned_baselines_code_real_bitstreams() -> None:
    """The compressai baselines really range-code and decode; their smooth-identity start
    (the same training aid COSMIC's codec gets) already decodes a smooth image closely, a
    random start decodes a near-constant one. Measured (seed 0, 128 px): 24.0 / 23.8 / 23.8
    dB with the identity start vs 16.4 / 16.4 / 16.1 dB without."""
    from geoneurips.restoration.cosmic.metrics import psnr_batch

    yy, xx = torch.meshgrid(torch.linspace(0, 1, 128), torch.linspace(0, 1, 128), indexing="ij")
    x = torch.stack([0.3 + 0.4 * xx, 0.2 + 0.5 * yy, 0.5 + 0.2 * torch.sin(6 * xx)])[None]
    for kind in ("scale_hyperprior", "mean_scale_hyperprior", "factorized_prior"):
        psnr = {}
        for init in (True, False):
            torch.manual_seed(0)
            x_hat, sizes = real_coding(build_baseline(kind, 32, 48, identity_init=init), x)
            assert x_hat.shape == x.shape and sizes[0] > 12
            psnr[init] = psnr_batch(x_hat, x)
        assert psnr[True] > 22.0 and psnr[True] > psnr[False] + 5.0, (kind, psnr)
    with pytest.raises(InvalidInputError, match="baseline"):
        build_baseline("hific", 16, 24)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="multiples of 64"):
        real_coding(build_baseline("factorized_prior", 16, 24), torch.rand(1, 3, 40, 64))


@pytest.mark.slow
def test_demo_full_contract_and_margins(tmp_path: Path) -> None:
    """Full demo, seed 0, the one that decides (``quick_decides=False``; until 2026-12-06
    this test ran the quick demo, which does not decide).

    Measured (PSNR dB at bpp; baselines at their lowest-rate point at or above COSMIC's):
    seed 0: COSMIC 23.05 @ 0.035 (decoder alone 23.04, rho = 1 sampler 21.46), scale
    hyperprior 22.33 @ 0.070, mean-scale hyperprior 22.26 @ 0.054, JPEG file 21.68 @ 0.126,
    JPEG scan-only 21.68; seed 1: 23.19 vs 22.69 (scale hyperprior @ 0.046); seed 2: 22.01
    vs 21.78 (@ 0.093). Full demo (rate-matched by interpolation where bracketed): seed 0
    24.36 vs 23.71, seed 1 24.52 vs 24.06, seed 2 23.91 vs 23.47; confirmation seeds 3 / 4:
    full 24.12 vs 23.67, 23.75 vs 23.24; quick 23.19 vs 23.10 (+0.09, below the margin) and
    23.97 vs 23.35. So the full demo decides (``quick_decides=False``). The demo's margin is
    0.2 dB; this test asserts it on full seed 0 (gain 0.65 dB) and that the gain over the
    strongest baseline exceeds 0.4 dB.
    """
    from geoneurips.restoration.cosmic.demo import demo
    from geoneurips.restoration.cosmic.pipeline import load_model

    res = demo(tmp_path, quick=False, seed=0)
    m, d = res.metrics, res.details
    assert set(res.baselines) == {"jpeg_file", "jpeg_scan_only", "scale_hyperprior",
                                  "mean_scale_hyperprior"}
    assert set(res.ablations) == {"decoder_only", "sampler_rho1"}
    # no stand-in perceptual metrics; the true sampler is reported beside rho = 0
    assert not any("lpips" in k or "fid" in k for k in m)
    assert res.directions["psnr_rho1"] == "info" and np.isfinite(m["psnr_rho1"])
    assert m["psnr_rho1"] == res.ablations["sampler_rho1"]["psnr"]
    # rate matching: every baseline is compared at COSMIC's rate or above
    for name, b in res.baselines.items():
        assert b["bpp"] >= m["bpp"] - 1e-9, name
    assert d["unmatched_baselines"] == []
    assert res.beats_baseline and res.margin == 0.2 and res.primary == "psnr"
    assert m["psnr"] > res.baseline["psnr"] + 0.4, (m, res.baselines)
    # the compensation is reported against the decoder alone (measured +0.02 dB here)
    assert abs(m["psnr"] - res.ablations["decoder_only"]["psnr"]) < 1.0
    # tile test: independently coded tiles leave seams (ratio > 1) that whole-image coding
    # does not; reported for every codec
    tt = d["tile_test"]
    assert set(tt["seam_ratio_tiled"]) == {"cosmic", "decoder_only", "jpeg_file",
                                           "scale_hyperprior", "mean_scale_hyperprior"}
    assert tt["seam_ratio_tiled"]["cosmic"] > tt["seam_ratio_whole_image_coding"]["cosmic"]
    assert Path(res.artifacts["figure"]).stat().st_size > 1000
    saved = json.loads(Path(res.artifacts["result"]).read_text())
    assert saved["system"] == "cosmic" and saved["strongest_baseline"] == res.strongest_baseline
    model = load_model(d["checkpoint"])
    assert model.config.n == d["config"]["n"]


def test_ms_ssim_explanation_only_while_only_jpeg_beats_it() -> None:
    """Defect found by the robustness audit (2026-12-06): the demo explained an MS-SSIM
    regression as "only JPEG files beat it" whenever the *best* baseline on MS-SSIM was the
    JPEG file at over twice COSMIC's rate, even when a learned codec beat COSMIC there too
    (the old inline condition explained the first case below; this test fails on it). Values
    shaped like quick seed 2 (COSMIC 0.6279 @ 0.0401 bpp; JPEG file and scan-only 0.6408 @
    0.1278 / 0.0640), where only JPEG is better and the explanation stays."""
    from geoneurips.restoration.cosmic.demo import explain_ms_ssim

    rate, ours = 0.0401, 0.6279
    base = {"jpeg_file": {"bpp": 0.1278, "ms_ssim": 0.6408},
            "jpeg_scan_only": {"bpp": 0.0640, "ms_ssim": 0.6408},
            "scale_hyperprior": {"bpp": 0.0933, "ms_ssim": 0.6104},
            "mean_scale_hyperprior": {"bpp": 0.0679, "ms_ssim": 0.6011}}
    # a learned codec better than COSMIC (though below the JPEG file): unexplained
    learned = {**base, "scale_hyperprior": {"bpp": 0.0933, "ms_ssim": 0.6300}}
    assert explain_ms_ssim(ours, rate, learned) == {}
    why = explain_ms_ssim(ours, rate, base)["ms_ssim"]
    assert "jpeg_file at 3.2x" in why and "jpeg_scan_only at 1.6x" in why
    # the JPEG file within twice COSMIC's rate: unexplained
    close = {**base, "jpeg_file": {"bpp": 0.0700, "ms_ssim": 0.6408}}
    assert explain_ms_ssim(ours, rate, close) == {}
    # COSMIC ahead of every baseline: nothing to explain
    assert explain_ms_ssim(0.65, rate, base) == {}
