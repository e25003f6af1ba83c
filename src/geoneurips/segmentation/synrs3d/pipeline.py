"""The SynRS3D / RS3DAda demo: synthetic source -> shifted "real" target.

:func:`demo` writes synthetic source scenes into two SynRS3D source folders and a shifted
target (an appearance shift with the same geometry cues: another palette per class,
contrast and colour cast, coarse ground texture; heights on the source's range, buildings
taller and trees shorter on average; :mod:`.synthetic` says why the earlier target, with
buildings out of the source's range and roofs coloured like source bare land, did not test
the paper's claim, and why :data:`.synthetic.TARGET_MATERIALS`, a candidate with per-object
roof and crown materials, is one whose gap persists with more steps: :data:`DEMO_TARGET`)
into a ``DFC19_JAX`` folder with DFC19 land-cover
codes (``train.txt``: unlabelled adaptation images; ``test.txt``: evaluation scenes from
an unseen seed), reads everything back with :class:`.data.SynRS3D` and
:class:`.data.SynRS3DTarget` (combined 3-class scheme) and trains the tiny ViT + DPT:

* ``source_only``: the paper's baseline (source loss only);
* ``source_hm_jitter``: what a practitioner tries first against a colour shift: source
  images histogram-matched to random target images (p 0.8, blend 0.8-1) plus strong
  colour jitter and blur;
* RS3DAda: the same number of iterations; the first half is source training with the
  source-style augmentation (the stand-in for the pretrained DINOv2, see below), the
  second half the full method from that point (frozen-feature constraint to the encoder
  at that point, EMA teacher, photometric views, consistency / confidence weights,
  ground-guided refinement, ClassMix of a second source batch into the target images
  and strong augmentation of the mixed images, as published); it and its ablation share the source phase exactly
  (:func:`.training.train_branches`);
* ablation ``no_self_training``: the same two phases without the teacher / pseudo-label
  part (style augmentation and feature constraint only).

Why two phases: the paper starts from a pretrained DINOv2 and constrains the features to
it. Our ViT is random (no weights offline); a random teacher gives useless pseudo-labels
and a feature constraint towards random features stopped the heads from learning (measured
with the earlier lr 1e-3 recipe, not re-measured since: MAE on source 0.92 m, i.e.
predicting 0, with the constraint from step 0). The first
phase gives the method what DINOv2 gives it in the paper: a sensible encoder to start
from and to stay close to.

Every run uses the same network (the tiny ViT with patch 4, so that a tree spans one or
two tokens as a crown does in DINOv2's patches; :meth:`.model.RS3DConfig.tiny`), the same
optimiser (AdamW, lr 3e-4, decoder x10, gradient clipping 1.0, warm-up then poly) and the
same number of iterations; the recipe was chosen on development seeds 10-12 and measured
on seeds 0-4 and with AVX2 kernels (see :data:`MARGIN` and the system's notes).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ...parallel import run_jobs
from .data import COMBINED_CLASSES, SynRS3D, SynRS3DTarget, write_folder
from .inference import save_checkpoint
from .model import RS3DConfig
from .synthetic import SOURCE, TARGET, make_scene
from .training import (
    Settings,
    evaluate,
    load_state,
    predict,
    stack_samples,
    train_branches_state,
    train_state,
)

__all__ = ["demo", "explain_regressions", "write_demo_data"]

# OEM code -> DFC19 code for the target (ground 2, trees 5, building 6, water 9)
_TO_DFC19 = {1: 2, 2: 2, 4: 2, 7: 2, 6: 9, 5: 5, 8: 6}
REPORTED = ("mae_whole", "rmse_whole", "mae_high", "rmse_high", "delta1_whole", "f1he_1",
            "f1he_2", "f1he_3", "miou", "delta1_low")
DIRECTIONS = {"mae_whole": "min", "rmse_whole": "min", "mae_high": "min",
              "rmse_high": "min", "delta1_whole": "max", "f1he_1": "max", "f1he_2": "max",
              "f1he_3": "max", "miou": "max", "delta1_low": "info"}


def write_demo_data(root: Path, seed: int, n_source: int, n_adapt: int, n_test: int,
                    size: int = 64) -> None:
    """Source folders ``grid_g05_mid_v1`` and ``terrain_g05_high_v1`` (train.txt), target
    ``DFC19_JAX`` (train.txt adaptation images from ``seed``, test.txt from
    ``seed + 10_000``, DFC19 codes)."""
    rng = np.random.default_rng(seed)
    lut = np.zeros(256, np.uint8)
    for k, v in _TO_DFC19.items():
        lut[k] = v
    src = [dict(make_scene(rng, SOURCE, size), id=f"syn_{i:05d}") for i in range(n_source)]
    half = n_source // 2
    for name, part in (("grid_g05_mid_v1", src[:half]), ("terrain_g05_high_v1", src[half:])):
        write_folder(root, name, part, {"train": [str(s["id"]) for s in part]})
    tr = np.random.default_rng(seed + 10_000)
    adapt = [make_scene(rng, DEMO_TARGET, size) for _ in range(n_adapt)]
    test = [make_scene(tr, DEMO_TARGET, size) for _ in range(n_test)]
    samples = []
    for prefix, scenes in (("JAX_adapt", adapt), ("JAX_test", test)):
        for i, s in enumerate(scenes):
            samples.append(dict(s, id=f"{prefix}_{i:03d}_0_0", ss_mask=lut[s["ss_mask"]]))
    ids = [str(s["id"]) for s in samples]
    write_folder(root, "DFC19_JAX", samples, {"train": ids[:n_adapt],
                                              "test": ids[n_adapt:],
                                              "test_syn": ids[n_adapt:][: max(1, n_test // 4)]})


def _pick(m: dict[str, float]) -> dict[str, float]:
    return {k: float(m.get(k, float("nan"))) for k in REPORTED}


def demo(out_dir: Path, quick: bool = False, seed: int = 0, workers: int | None = None
         ) -> Any:
    """RS3DAda vs source-only and histogram matching + colour jitter on a shifted target.

    Primary metric: F1^HE at delta < 1.25 (the paper's headline height metric). Writes
    ``synrs3d.png``, ``synrs3d.json`` and ``synrs3d_rs3dada.pt`` (for ``geoneurips
    height``). ``workers``: processes for the three independent training jobs (default:
    the available cores; :func:`geoneurips.parallel.run_jobs`); every arm trains on one
    thread, so the results do not depend on it (83.9 -> 53.1 s of wall time with two on
    the 2-core development host, ``benchmarks/parallel_arms.py``). A script calling this
    with ``workers`` > 1 needs the usual ``if __name__ == "__main__":`` guard (the workers
    are spawned).

    The full demo decides (margin :data:`MARGIN`; regressions explained only where
    :func:`explain_regressions`' measured condition holds). The quick demo (72
    iterations, 36 adapting) reports without deciding and explains nothing: with so few
    adaptation steps its lead is not robust (patch-4 tiny ViT with the reordered heads:
    F1^HE(1.25) gains 0.060, 0.039, -0.009 on seeds 0-2, the ablation without
    self-training ahead of RS3DAda on seed 0; 40-42 s of one core's CPU on a loaded host;
    before the reorder 0.046, 0.042, 0.014; with patch 8 and 128 iterations it was
    0.059, -0.006, -0.058), so its ``beats_baseline`` is whatever the numbers give (False
    on seeds 0-2), no test relies on it, and the system is registered with
    ``quick_decides=False``.
    """
    started = time.perf_counter()
    from ...seed import single_thread

    with single_thread():  # the decision must not depend on the machine's core count
        return _demo(Path(out_dir), quick, seed, started, workers)


def _demo(out_dir: Path, quick: bool, seed: int, started: float, workers: int | None
          ) -> Any:
    from ...demo import finish, new_figure

    n_source, n_adapt, n_test, iters = QUICK if quick else FULL
    size = SIZE
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_demo_data(root, seed, n_source, n_adapt, n_test, size)
        source = stack_samples(SynRS3D(root, "train"))
        adapt = stack_samples(SynRS3DTarget(root, "DFC19_JAX", "train", labels=False))
        test = stack_samples(SynRS3DTarget(root, "DFC19_JAX", "test"))
    config = RS3DConfig.tiny(num_classes=len(COMBINED_CLASSES), img_size=size)
    start = int(iters * ADAPT_START)
    base = Settings(iters=iters, batch=BATCH)
    style = ("FDA", "HM", "PDA")
    # the baselines weight the height loss as the public sourceonly.sh does (--lambda_dsms
    # 1.0; RS3DAda.sh: 0.8, the method's and its ablation's)
    source_only = replace(base, lam=SOURCE_ONLY_LAMBDA)
    runs = {
        "source_only": source_only,
        "source_hm_jitter": replace(source_only, style=("HM",), colour_jitter=True),
        "rs3dada": replace(base, style=style, feature_constraint=1.0, uda=True,
                           uda_start=start, mix_source="second", hue=HUE),
        "no_self_training": replace(base, style=style, feature_constraint=1.0,
                                    uda_start=start),
    }
    images = adapt["image"]
    # RS3DAda and its ablation share every iteration before adaptation starts (one job);
    # the two source-only baselines are a job each. Each job runs on one thread in its own
    # process (workers > 1), so every arm computes what it computes alone.
    tree = {k: runs[k] for k in ("rs3dada", "no_self_training")}
    states = run_jobs({"tree": (train_branches_state, (source, images, config, tree, seed)),
                       **{k: (train_state, (source, images, config, runs[k], seed))
                          for k in ("source_only", "source_hm_jitter")}}, workers=workers)
    models = {k: load_state(config, v) for k, v in states.items() if k != "tree"}
    models |= {k: load_state(config, v) for k, v in states["tree"].items()}
    scores = {name: _pick(evaluate(m, test, config.num_classes)) for name, m in models.items()}
    baselines = {k: scores[k] for k in ("source_only", "source_hm_jitter")}
    save_checkpoint(out_dir / "synrs3d_rs3dada.pt", models["rs3dada"])
    show = test["image"][:1]
    preds = {n: predict(models[n], show) for n in ("source_only", "source_hm_jitter", "rs3dada")}
    vmax = float(test["height"][0].max()) or 1.0
    fig, axes = new_figure(ncols=6, nrows=1, size=2.6)
    panels = [("target image", show[0].permute(1, 2, 0).numpy() / 255.0, None),
              ("true nDSM", test["height"][0].numpy(), "magma")]
    panels += [(f"{n} nDSM", p[0][0], "magma") for n, p in preds.items()]
    panels.append(("RS3DAda land cover", preds["rs3dada"][1][0], "viridis"))
    for ax, (title, arr, cmap) in zip(axes.ravel(), panels, strict=True):
        if cmap is None:
            ax.imshow(np.clip(arr, 0, 1))
        elif cmap == "magma":
            ax.imshow(arr, cmap=cmap, vmin=0, vmax=vmax)
        else:
            ax.imshow(arr, cmap=cmap, vmin=0, vmax=2, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    return finish(
        "synrs3d", scores["rs3dada"],
        baselines=baselines,
        ablations={"no_self_training": scores["no_self_training"]},
        primary="f1he_1", margin=MARGIN, directions=DIRECTIONS, figure=fig,
        out_dir=out_dir, started=started,
        regressions_explained={} if quick else explain_regressions(scores["rs3dada"],
                                                                   baselines),
        details={"seed": seed, "test_seed": seed + 10_000, "quick": quick,
                 "source_scenes": n_source, "adaptation_images": n_adapt,
                 "test_scenes": n_test, "iterations": iters, "size": size,
                 "model": config.to_dict(), "settings": {k: repr(v) for k, v in runs.items()},
                 "checkpoint": str(out_dir / "synrs3d_rs3dada.pt"),
                 "task_command": f"geoneurips height IMAGE.tif -o NDSM.tif --checkpoint "
                                 f"{out_dir / 'synrs3d_rs3dada.pt'}"},
    )


SIZE = 48
#: The target style of the demo's adaptation and test scenes. :data:`.synthetic.
#: TARGET_MATERIALS` (per-object roof / crown materials) is the measured candidate whose gap
#: persists at 2x the iterations (the system's notes); set this to it to run the demo on it.
#: At the demo's 200 iterations RS3DAda is behind on it on dev seeds 10 and 12; the notes
#: give the variants measured there (adaptation start, refinement, a shared pretraining for
#: every arm, the height pseudo-loss, clipping), the step's profile, a cheaper step
#: (halved head widths, 400 / 800 iterations) that did not make the lead hold either, and
#: the full head at 400 iterations (True on dev seeds 10-12, about 2.5 min of wall time
#: here even on two worker processes) and 800 (False on seed 12).
DEMO_TARGET = TARGET
# source scenes, adaptation images, test scenes, iterations (every arm). The full demo's
# test set is 240 unseen scenes (was 24): it does not change training (the test scenes
# come from their own random stream) and lowers the evaluation noise; chosen on
# development seeds 10-12, where the smallest F1^HE(1.25) gain over the strongest
# baseline of the same trained models went 0.033 (24 scenes) -> 0.047 (240), for about
# 5 s of CPU. 440 iterations for every arm instead of 360 (what the freed time would
# allow) did not help there: gains 0.067 / 0.038 / 0.062 vs 0.078 / 0.033 / 0.070 (24
# scenes), seed 11 with unexplained high-pixel regressions, and 56-59 s of CPU.
# 200 iterations (was 360) since the tiny ViT has patch 4 (was 8; :meth:`.model.RS3DConfig.
# tiny` says why): a step on the 12 x 12 token grid costs about 1.9 x one on the 6 x 6 grid
# (the DPT heads' convolutions on maps twice as large; the ViT's width barely matters), so
# 360 iterations took 103-111 s of one core's CPU and 200 keep the demo at about 60 s
# (59-67 s measured under load; 70-75 s with AVX2 kernels). The count was set from that
# budget, for every arm alike, after the over-budget 360-iteration runs below had been
# seen and before any 200-iteration result. Measured, development seeds 10 / 11 / 12,
# F1^HE(1.25) RS3DAda / source-only / HM + jitter / ablation without self-training:
#   patch 4, 200 iterations (this recipe): 0.844 / 0.783 / 0.765 / 0.804, 0.872 / 0.826 /
#   0.725 / 0.846, 0.899 / 0.854 / 0.771 / 0.857 (gains 0.061, 0.046, 0.045; True on all
#   three; high-pixel MAE 1.999 / 1.777 / 1.845 vs at best 2.123 / 2.043 / 2.058 m);
#   patch 4, 360 iterations (over budget): 0.902 / 0.858 / 0.891 / 0.893, 0.909 / 0.903 /
#   0.861 / 0.914, 0.918 / 0.915 / 0.875 / 0.920 (gains 0.011, 0.006, 0.003, below the
#   margin; the ablation ahead of RS3DAda on 11 and 12; every arm near the task's ceiling,
#   so the appearance gap left to self-training is small; seed 0 with AVX2 kernels: gain
#   0.016);
#   patch 8, 200 iterations (control: the shorter run alone): gains 0.002, 0.008, -0.031,
#   False on all three (unexplained high-pixel regressions; AVX2 seed 0 -0.006);
#   patch 8, 360 iterations (before): gains 0.048, 0.076, 0.093, False on seed 10 (high-
#   pixel MAE / RMSE behind HM + jitter).
FULL = (64, 32, 240, 200)
# The one deliberate difference in RS3DAda's augmentation: no hue jitter. The public
# script's ColorJitter keeps albumentations' default hue range, 0.2 turns (+-72 degrees),
# in the teacher's photometric view and in the ClassMix images' strong transform. Our
# synthetic classes are coded by hue (a palette), and that range carries one class's colour
# onto another's: a source roof colour rotated by U(-0.2, 0.2) turns is nearest another
# source class's colour in 41 % of the draws (target roofs 54 %, source agriculture 66 %;
# ``tests/segmentation/test_synrs3d_design.py``), which real roofs and trees, told apart
# by texture and shape as much as by hue, are not. Measured on development seeds 10-12 (full
# demo, 240 test scenes), F1^HE(1.25) gain over the strongest baseline with hue 0.2 /
# without: 0.064 / 0.090, 0.064 / 0.077, 0.034 / 0.084; high-pixel MAE with hue 0.2
# behind HM + jitter on seed 12 (3.230 vs 3.182 m), without ahead on all three. Then
# measured on seeds 0-4 (both, not chosen there): hue 0.2 gains 0.021, 0.045, 0.018,
# 0.036, 0.027 (high-pixel regressions on seeds 0 and 3); hue 0 0.012, 0.073, 0.015,
# 0.082, 0.077 (high-pixel regressions on seeds 0 and 2). All of these are from before the
# FDA fix (rs3dada.py: beta drawn from U(0, limit)); with it, hue 0 gains 0.042, 0.055,
# 0.025, 0.095, 0.059 (hue 0.2 not re-measured).
HUE = 0.0
# Where RS3DAda's adaptation starts (a fraction of the iterations) and the batch of every
# arm. Budget and schedule, measured (full demo, one core): the public script's schedule is
# linear warm-up then poly 0.9 to 0 over the run (``training._poly``), ours too, for every
# arm, so the end point is already annealed. Where the CPU goes (cProfile, seed 0, 56.6 s):
# the 1260 training iterations (360 + 360 + 180 shared + 2 x 180) 88 %, of which the
# network's forward and backward are 88 % per source step (32.5 ms: forward 12.0,
# backward 16.6, clipping 1.6, AdamW 1.8, zero_grad 0.5 ms); data generation with the
# GeoTIFF round trip 4 %, the four evaluations on 240 scenes 3 %, the numpy style
# augmentation 2.5 %, imports 5 %. The step is overhead-bound (17.7 / 21.9 / 28.9 / 43.0 ms
# at batch 1 / 2 / 4 / 8), and no forward pass is redundant, so no saving was there to
# spend on more iterations. Variants for every arm alike, development seeds 10-12,
# F1^HE(1.25) gain over the strongest baseline and seeds with unexplained regressions
# (this recipe: 0.090 / 0.077 / 0.084, none): a second warm-up + poly from the start of
# adaptation 0.076 / 0.056 / 0.033 (high-pixel regressions on all three); adaptation from
# a third of the run 0.099 / 0.075 / 0.080 (seed 11 high-pixel); lr x 0.3 from half-way
# 0.054 / 0.031 (seeds 10, 11; smaller); batch 8 for 240 iterations (same CPU) 0.055 /
# 0.027 / 0.114 (seed 11 high-pixel); 4x the source scenes and adaptation images (256 /
# 128, every arm better: source-only 0.599 vs 0.502 on seed 10) 0.057 / 0.034 / 0.066
# (seeds 11 and 12 high-pixel). None was better than this recipe; it stays.
ADAPT_START = 0.5
BATCH = 4
# The quick demo: 72 iterations (was 128 with patch 8; scaled as the full demo's 360 ->
# 200, to keep about 20 s of CPU).
QUICK = (48, 24, 16, 72)
# The full demo's decision margin on F1^HE(1.25) (unchanged). With the patch-4 tiny ViT and
# 200 iterations for every arm the gains on seeds 0-4 are 0.050 / 0.053 / 0.081 / 0.030 /
# 0.074 (development seeds 10-12: 0.063 / 0.052 / 0.028), at least 0.013 above it, with the
# DPT heads' exact reorder (:class:`.model.DPTHead`; measured on a host without AVX-512,
# i.e. AVX2 kernels; before it, the same function up to float rounding, on an AVX-512
# host: 0.046 / 0.061 / 0.069 / 0.042 / 0.076 and 0.061 / 0.046 / 0.045; with
# AVX2 kernels - ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2 - seeds 0-4 0.049 /
# 0.062 / 0.076 / 0.038 / 0.061 and 10-12 0.072 / 0.057 / 0.023). The demo decides True on
# every run, with high-pixel MAE leads of 0.09-0.39 m (seed 0 1.874 vs 2.258 m). Before
# (patch 8, 360 iterations) the gains were 0.030 / 0.049 / 0.028 / 0.088 / 0.076 and the
# demo decided False on development seed 10 and on AVX2 seed 0 (high-pixel MAE / RMSE
# behind HM + jitter by 0.02-0.05 m).
MARGIN = 0.015
#: The source-only baselines' height-loss weight: the public ``sourceonly.sh`` passes
#: ``--lambda_dsms 1.0`` (``RS3DAda.sh`` 0.8, :class:`.training.Settings`' default).
SOURCE_ONLY_LAMBDA = 1.0
_GROUND_DELTA = (
    "the published 'whole' delta counts every pixel after heights <= 0 become 1e-6, so "
    "on ground (true 0) only a prediction <= 0 is right: a model whose ground output is "
    "slightly negative scores high, one predicting 0.01 m scores 0. Here the deficit is "
    "on such pixels only: on the pixels above 1 m (truth or prediction, 'delta1_low') "
    "RS3DAda's delta is at least every baseline's. It measures the sign of tiny ground "
    "outputs, not height quality (F1^HE, MAE do).")


def explain_regressions(scores: dict[str, float],
                        baselines: dict[str, dict[str, float]]) -> dict[str, str]:
    """The full demo's explanations, given only where the measured condition holds: a
    deficit on the published 'whole' delta is explained when the method's delta on the
    pixels above 1 m (``delta1_low``) is at least every baseline's, i.e. the deficit sits
    on pixels where truth and prediction are both <= 1 m (ground). Any other regression
    stays unexplained and the demo fails. The quick demo explains nothing (it does not
    decide; see :func:`demo`)."""
    out: dict[str, str] = {}
    if scores["delta1_low"] >= max(b["delta1_low"] for b in baselines.values()):
        out["delta1_whole"] = _GROUND_DELTA
    return out
