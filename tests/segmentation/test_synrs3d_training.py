"""RS3DAda training loop: it learns on source, every component runs, and the demo."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from geoneurips.segmentation.synrs3d.data import SynRS3D, SynRS3DTarget
from geoneurips.segmentation.synrs3d.metrics import HeightMetrics
from geoneurips.segmentation.synrs3d.model import RS3DConfig
from geoneurips.segmentation.synrs3d.pipeline import write_demo_data
from geoneurips.segmentation.synrs3d.training import (
    Settings,
    evaluate,
    predict,
    stack_samples,
    train,
    train_branches,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, torch.Tensor]]:
    root = tmp_path_factory.mktemp("syn")
    write_demo_data(root, seed=3, n_source=24, n_adapt=8, n_test=8)
    src = stack_samples(SynRS3D(root))
    held = tmp_path_factory.mktemp("held")
    write_demo_data(held, seed=4, n_source=8, n_adapt=1, n_test=1)  # unseen source scenes
    return {"source": src, "held": stack_samples(SynRS3D(held)),
            "adapt": stack_samples(SynRS3DTarget(root, "DFC19_JAX", "train", labels=False)),
            "test": stack_samples(SynRS3DTarget(root, "DFC19_JAX", "test"))}


def test_source_training_learns(data: dict[str, dict[str, torch.Tensor]]) -> None:
    """80 iterations (seed 0) on source scenes; evaluated on unseen source scenes the
    model beats predicting 0 m everywhere and the majority class. Measured (seed 0, the
    only one tried; tiny ViT with patch 4): MAE 0.31 m vs 0.80 m, mIoU 0.89 vs 0.30
    (patch 8: 0.49 m, 0.76; margins asserted: 0.2 m, 0.25)."""
    cfg = RS3DConfig.tiny()
    m = train(data["source"], data["adapt"]["image"], cfg, Settings(iters=80), seed=0)
    r = evaluate(m, data["held"], 3)
    zero = HeightMetrics()
    for t in data["held"]["height"].numpy():
        zero.update(np.zeros_like(t), t)
    mask = data["held"]["mask"].numpy()
    valid = mask != 255
    majority = np.bincount(mask[valid]).argmax()
    iou_major = float((mask[valid] == majority).mean())  # IoU of the majority class
    assert r["mae_whole"] < zero.compute()["mae_whole"] - 0.2
    assert r["miou"] > iou_major / 3 + 0.25


def test_every_component_runs(data: dict[str, dict[str, torch.Tensor]]) -> None:
    """The full RS3DAda loop (style augmentation, feature constraint, EMA teacher,
    pseudo-labels with weights, refinement, ClassMix) runs and gives finite metrics; the
    teacher snapshot and the frozen reference differ from the initial weights."""
    cfg = RS3DConfig.tiny()
    s = Settings(iters=6, batch=2, style=("FDA", "HM", "PDA"), feature_constraint=1.0,
                 uda=True, uda_start=2, warmup=2)
    m = train(data["source"], data["adapt"]["image"], cfg, s, seed=1)
    r = evaluate(m, data["test"], 3)
    assert np.isfinite(r["mae_whole"]) and 0 <= r["miou"] <= 1
    m2 = train(data["source"], data["adapt"]["image"], cfg, replace(s, uda=False), seed=1)
    diff = sum(float((a - b).detach().abs().sum()) for a, b in zip(m.parameters(), m2.parameters(),
                                                          strict=True))
    assert diff > 0  # the self-training part changed the training


def test_no_collapse_where_the_old_recipe_collapsed(tmp_path: Path) -> None:
    """Defect (fixed): with lr 1e-3 (decoder 1e-2) and no gradient clipping, source-only
    training on these scenes (the old quick demo's seed 1, 64 px) blew up near iteration
    60 and the height head's ReLUs died (1 of 32 alive): the model predicted a constant
    0.145 m on every pixel (F1^HE 0 on the target). The default recipe (lr 3e-4, decoder
    x10, gradient norm clipped at 1) must predict heights that vary and reach buildings.
    Old code: std 0.000 m, 0 % of building pixels above 1 m. The network is the one the
    collapse was measured with, the tiny ViT with patch 8 (the demo's now has patch 4)."""
    write_demo_data(tmp_path, seed=1, n_source=48, n_adapt=24, n_test=1, size=64)
    src = stack_samples(SynRS3D(tmp_path))
    adapt = stack_samples(SynRS3DTarget(tmp_path, "DFC19_JAX", "train", labels=False))
    cfg = RS3DConfig.tiny()
    cfg.patch_size = 8
    m = train(src, adapt["image"], cfg, Settings(iters=160, batch=4), seed=1)
    ph, _ = predict(m, src["image"][:16])
    tall = src["height"][:16].numpy() > 3
    assert ph.std() > 0.5
    assert (ph[tall] > 1).mean() > 0.5


def test_shared_first_phase_is_exact(data: dict[str, dict[str, torch.Tensor]]) -> None:
    """RS3DAda and its ablation share the iterations before adaptation: computing them
    once and branching gives exactly the weights of separate runs, also for branches
    whose adaptation starts at another step (``c``: the prefix runs to the earliest start),
    for ClassMix with a second source batch (the public script's option) and for a branch
    without the feature constraint (``d``: it acts only from the start of adaptation)."""
    cfg = RS3DConfig.tiny()
    base = Settings(iters=6, batch=2, style=("FDA", "HM", "PDA"), feature_constraint=1.0,
                    uda_start=3, warmup=2)
    runs = {"a": replace(base, uda=True, strong_aug=False), "b": base,
            "c": replace(base, uda=True, uda_start=2, mix_source="second"),
            "d": replace(base, feature_constraint=0.0)}
    both = train_branches(data["source"], data["adapt"]["image"], cfg, runs, seed=2)
    for name, s in runs.items():
        alone = train(data["source"], data["adapt"]["image"], cfg, s, seed=2)
        for p, q in zip(both[name].state_dict().values(), alone.state_dict().values(),
                        strict=True):
            assert torch.equal(p, q)
    with pytest.raises(ValueError, match="adaptation settings"):
        train_branches(data["source"], data["adapt"]["image"], cfg,
                       {"a": base, "b": replace(base, lr=1e-4)})


def test_jobs_on_worker_processes_equal_one_thread_here(
        data: dict[str, dict[str, torch.Tensor]]) -> None:
    """The demo's jobs (:func:`geoneurips.parallel.run_jobs`): a baseline and a tree of
    branches trained on two worker processes give exactly the weights of the same runs on
    one thread in this process."""
    from geoneurips.parallel import run_jobs
    from geoneurips.seed import single_thread
    from geoneurips.segmentation.synrs3d.training import (
        load_state,
        train_branches_state,
        train_state,
    )

    cfg = RS3DConfig.tiny()
    base = Settings(iters=4, batch=2, style=("HM",), uda_start=2, warmup=1)
    tree = {"m": replace(base, uda=True), "a": replace(base, feature_constraint=1.0)}
    src, images = data["source"], data["adapt"]["image"]
    out = run_jobs({"tree": (train_branches_state, (src, images, cfg, tree, 3)),
                    "b": (train_state, (src, images, cfg, base, 3))}, workers=2)
    with single_thread():
        here = {"b": train(src, images, cfg, base, seed=3),
                **train_branches(src, images, cfg, tree, seed=3)}
    there = {"b": load_state(cfg, out["b"]), **{k: load_state(cfg, v)
                                                for k, v in out["tree"].items()}}
    assert set(there) == {"b", "m", "a"}
    for name, model in here.items():
        for (k, p), q in zip(model.state_dict().items(), there[name].state_dict().values(),
                             strict=True):
            assert torch.equal(p, q), (name, k)


@pytest.mark.slow
def test_demo_against_the_strongest_baseline(tmp_path: Path) -> None:
    """The full demo (``geoneurips demo synrs3d``, seed 0) writes its JSON, figure and
    checkpoint and decides ``beats_baseline``: RS3DAda is ahead of every baseline on
    F1^HE(1.25) by more than the demo's margin, on whole-image and high-pixel MAE and on
    land-cover mIoU, and the checkpoint holds the patch-4 tiny ViT.

    Measured (full demo: tiny ViT with patch 4 - ``RS3DConfig.tiny`` says why - 200
    iterations for every arm, 240 test scenes; one thread, OMP_NUM_THREADS=1; 100-113 s of
    one core's CPU on a loaded host), F1^HE(1.25) RS3DAda / source-only / HM + jitter /
    ablation without self-training, with the DPT heads' exact reorder (``DPTHead``): seed 0
    0.867 / 0.817 / 0.742 / 0.835; 1 0.800 / 0.746 / 0.694 / 0.762; 2 0.878 / 0.797 / 0.737
    / 0.834; confirmation 3 0.883 / 0.853 / 0.737 / 0.876; 4 0.851 / 0.777 / 0.716 / 0.824
    (gains 0.050, 0.053, 0.081, 0.030, 0.074, on a host without AVX-512, i.e. AVX2 kernels;
    development seeds 10-12 in the system's notes; before the reorder, the same function up
    to float rounding, on an AVX-512 host: 0.046, 0.061, 0.069, 0.042,
    0.076, and with AVX2 kernels - ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2 - 0.049,
    0.062, 0.076, 0.038, 0.061). The demo decides True on every run (the whole-image delta
    deficits on seeds 1 and 3 are explained by the measured ground-delta condition).
    Asserted with the room measured on seeds 0-2: F1^HE gain > 0.015 (smallest 0.050);
    whole MAE below every baseline's by 0.03 (0.309 / 0.355 / 0.293 vs at best 0.376 /
    0.409 / 0.378); high-pixel MAE below by 0.1 m (1.874 / 2.057 / 1.851 vs at best 2.258 /
    2.300 / 2.114); mIoU above by 0.02 on seed 0 (0.924 vs at most 0.879; seeds 1 and 2
    lead by 0.020 and only 0.003, so this bound is seed 0's). The demo trains with
    one thread on any machine (``test_demo_pins_one_thread_and_restores``). Run here with
    ``workers=1`` (its jobs one after another, in this process): under ``make test`` both
    cores are busy already, and the worker-process path is checked to give the same weights
    by ``test_jobs_on_worker_processes_equal_one_thread_here``.
    """
    from geoneurips.segmentation.synrs3d.inference import load_model
    from geoneurips.segmentation.synrs3d.pipeline import demo

    demo(tmp_path, quick=False, seed=0, workers=1)
    j = json.loads((tmp_path / "synrs3d.json").read_text())
    assert set(j["baselines"]) == {"source_only", "source_hm_jitter"}
    assert set(j["ablations"]) == {"no_self_training"}
    for m in [j["metrics"], *j["baselines"].values(), *j["ablations"].values()]:
        assert 0.05 < m["f1he_1"] <= 1 and np.isfinite(m["mae_whole"]) and 0 < m["miou"] <= 1
    base = list(j["baselines"].values())
    assert j["metrics"]["f1he_1"] > max(b["f1he_1"] for b in base) + 0.015
    assert j["metrics"]["mae_whole"] < min(b["mae_whole"] for b in base) - 0.03
    assert j["metrics"]["mae_high"] < min(b["mae_high"] for b in base) - 0.1
    assert j["metrics"]["miou"] > max(b["miou"] for b in base) + 0.02
    assert j["beats_baseline"] is True
    assert (tmp_path / "synrs3d.png").stat().st_size > 0
    model, classes = load_model(tmp_path / "synrs3d_rs3dada.pt")
    assert classes == ["other", "tree", "building"] and model.config.patch_size == 4


def test_feature_constraint_acts_below_the_threshold() -> None:
    """The frozen-feature constraint (paper Sec. 4, public loss ``1 - mean(cos)`` over the
    tokens with cos < 0.8) binds only on the tokens that drifted: a token at cos 0.9 adds
    nothing and gets no gradient, one at cos 0.5 gives loss 0.5, and a gradient step on
    the loss turns that token back towards the frozen one. (The demo never reaches the
    threshold - lowest token cosine 0.993 - so this test is what checks it acts.)"""
    import math

    from geoneurips.segmentation.synrs3d.rs3dada import feature_constraint_loss

    frozen = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    angles = (math.acos(0.9), math.acos(0.5))
    student = torch.tensor([[[math.cos(a), math.sin(a)] for a in angles]],
                           requires_grad=True)
    loss = feature_constraint_loss(student, frozen)
    assert float(loss.detach()) == pytest.approx(0.5, abs=1e-6)
    loss.backward()  # type: ignore[no-untyped-call]
    g = student.grad
    assert g is not None
    assert float(g[0, 0].abs().sum()) == 0.0 and float(g[0, 1].abs().sum()) > 0.1
    with torch.no_grad():
        moved = student - 0.5 * g
    cos = torch.nn.functional.cosine_similarity(moved, frozen, dim=-1)
    assert float(cos[0, 1]) > 0.5 + 0.1 and float(cos[0, 0]) == pytest.approx(0.9)
    assert float(feature_constraint_loss(student.detach(), frozen, threshold=0.4)) == 0.0


def test_feature_constraint_acts_in_the_training_loop(
        data: dict[str, dict[str, torch.Tensor]], monkeypatch: pytest.MonkeyPatch) -> None:
    """In the loop, with a reference encoder whose tokens are far from the student's
    (a differently seeded random model stands in for a drifted student), the constraint
    enters the loss from the first adapting step and pulls the student's tokens towards
    the reference: the mean token cosine to it rises over 15 steps more than in the same
    run without the constraint. Measured (seed 0, the only one tried): mean cosine -0.004
    at the start, first constraint loss 1.03; rise 0.70 with weight 5 vs 0.07 without
    (asserted: 0.3 more)."""
    import geoneurips.segmentation.synrs3d.training as T
    from geoneurips.segmentation.synrs3d.model import RS3DModel, frozen_copy

    seen: list[float] = []
    real = T.feature_constraint_loss

    def spy(student: torch.Tensor, frozen: torch.Tensor) -> torch.Tensor:
        out = real(student, frozen)
        seen.append(float(out.detach()))
        return out

    monkeypatch.setattr(T, "feature_constraint_loss", spy)
    cfg = RS3DConfig.tiny()
    x = data["source"]["image"][:4]

    def mean_cos(run: T._Run) -> float:
        assert run.frozen is not None
        with torch.no_grad():
            a = run.model.eval().encode(x)[-1]
            b = run.frozen.encode(x)[-1]
        run.model.train()
        return float(torch.nn.functional.cosine_similarity(a, b, dim=-1).mean())

    rises = {}
    for weight in (0.0, 5.0):
        s = Settings(iters=15, batch=4, feature_constraint=weight, uda_start=0, warmup=1,
                     lr=1e-3)
        run = T._Run(data["source"], data["adapt"]["image"], cfg, s, seed=0)
        torch.manual_seed(123)
        run.frozen = frozen_copy(RS3DModel(cfg))
        before = mean_cos(run)
        run.advance(15)
        rises[weight] = mean_cos(run) - before
    assert before < 0.8
    assert len(seen) == 15 and seen[0] > 0.2
    assert rises[5.0] > rises[0.0] + 0.3, rises


def test_the_student_is_evaluated_as_published(
        data: dict[str, dict[str, torch.Tensor]]) -> None:
    """The public ``train_dpt_RS3DAda.py`` evaluates (``eval(testloaders, model, ...)``)
    and saves (``torch.save(model.state_dict(), ...)``) the *student*, never the EMA
    teacher; :func:`train` returns the student too. Checked here: the returned weights
    are the run's student's, and they differ from its teacher's after self-training."""
    from geoneurips.segmentation.synrs3d.training import _Run

    s = Settings(iters=5, batch=2, uda=True, uda_start=2, warmup=2, strong_aug=False)
    run = _Run(data["source"], data["adapt"]["image"], RS3DConfig.tiny(), s, seed=0)
    out = run.advance(s.iters)
    assert out is run.model and run.teacher is not None and out is not run.teacher
    m = train(data["source"], data["adapt"]["image"], RS3DConfig.tiny(), s, seed=0)
    for p, q in zip(m.state_dict().values(), out.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    assert any(not torch.equal(p, q) for p, q in zip(
        out.parameters(), run.teacher.parameters(), strict=True))


def test_demo_pins_one_thread_and_restores(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    """The demo trains with one torch thread whatever the machine's core count (the
    floating-point summation order, hence the trained networks, would otherwise depend
    on it: seed 0 gave F1^HE(1.25) 0.482 with one thread and 0.504 with two), and gives
    the caller's thread count back afterwards, also when it fails. Old code: it used
    min(2, threads) and did not restore."""
    import geoneurips.segmentation.synrs3d.pipeline as pipeline

    seen: list[int] = []

    def fake(*args: object) -> None:
        seen.append(torch.get_num_threads())
        raise RuntimeError("stop")

    monkeypatch.setattr(pipeline, "_demo", fake)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(RuntimeError, match="stop"):
            pipeline.demo(tmp_path, quick=True, seed=0)
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_schedule_is_the_public_poly(data: dict[str, dict[str, torch.Tensor]]) -> None:
    """Every run's learning rate follows the public ``adjust_learning_rate`` (warm-up
    ``linear``, decay ``poly``, power 0.9, per group: the decoder's initial lr is 10x the
    encoder's) over the whole run, so it is 0 at the end for every arm; RS3DAda's
    adaptation, which starts half-way, runs on the second half of the same schedule.
    Hand values for 360 iterations, warm-up 30: step 195 (half-way through the decay)
    0.5^0.9 = 0.5359; step 359 (1/330)^0.9 = 0.00541. The one difference: our warm-up is
    one step ahead ((t + 1) / 30; the public first step has lr 0)."""
    from geoneurips.segmentation.synrs3d.training import _poly, _Run

    assert _poly(0, 360, 30) == pytest.approx(1 / 30)
    assert _poly(29, 360, 30) == _poly(30, 360, 30) == 1.0
    assert _poly(195, 360, 30) == pytest.approx(0.5359, abs=1e-4)
    assert _poly(359, 360, 30) == pytest.approx(0.00541, abs=1e-5)
    s = Settings(iters=10, batch=2, warmup=2)
    run = _Run(data["source"], data["adapt"]["image"], RS3DConfig.tiny(), s, seed=0)
    run.advance(6)
    lrs = [g["lr"] for g in run.opt.param_groups]
    f = (1 - 4 / 8) ** 0.9
    assert lrs == pytest.approx([3e-4 * f, 3e-3 * f])


def test_baselines_weight_height_as_the_public_sourceonly_script(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The source-only baselines train with the public ``sourceonly.sh``'s ``--lambda_dsms
    1.0``; RS3DAda and its ablation keep ``RS3DAda.sh``'s 0.8. Old code: every arm used
    0.8 (``Settings``' default). Also the demo's jobs: the two baselines alone, RS3DAda
    and its ablation as one job of branches (their shared iterations computed once)."""
    import geoneurips.segmentation.synrs3d.pipeline as pipeline

    seen: dict[str, Any] = {}

    def fake_run_jobs(jobs: dict[str, Any], workers: int | None = None) -> None:
        seen.update(jobs)
        raise RuntimeError("stop")

    monkeypatch.setattr(pipeline, "run_jobs", fake_run_jobs)
    with pytest.raises(RuntimeError, match="stop"):
        pipeline.demo(tmp_path, quick=True, seed=0)
    assert list(seen) == ["tree", "source_only", "source_hm_jitter"]
    lam = {k: seen[k][1][3].lam for k in ("source_only", "source_hm_jitter")}
    lam |= {k: s.lam for k, s in seen["tree"][1][3].items()}
    assert lam == {"source_only": 1.0, "source_hm_jitter": 1.0, "rs3dada": 0.8,
                   "no_self_training": 0.8}
    assert pipeline.Settings().lam == 0.8  # the method's, RS3DAda.sh
