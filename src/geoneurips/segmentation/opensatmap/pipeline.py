"""Training, evaluation and the demo of the OpenSatMap baseline.

* :class:`LaneTask`: LightningModule (the released losses, :func:`.losses.lane_loss`, on the
  dilated category map and attribute maps; AdamW as in the released SegNeXt config).
* :func:`train_model`: Lightning training on CPU (:func:`geoneurips.nn.training.make_trainer`).
* :func:`evaluate`: the released evaluator's conventions for any predictor
  ``image -> (label, probs, attributes)``: semantic mIoU of the raw predicted map against
  the test-dilated reference (no thinning), COCO mask AP and chamfer line AP of the
  watershed instances redrawn at the test width.
* :func:`demo`: synthetic road scenes written in the published layout, read back through
  :class:`.data.OpenSatMap`; the U-Net trained on dilated lines (``DilateGT`` at the test
  width) against the same U-Net on the raw 1-px lines, that network's output widened to the
  test width (the strongest), and the colour/edge threshold + skeleton baseline; evaluated
  on scenes of an unseen seed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .inference import CONFIG_KEY, load_model, predict_heads, save_checkpoint
from .metrics import Instance, instance_ap, instances_from_map, line_ap, semantic_miou
from .model import ATTRIBUTE_HEADS, LaneConfig, build_model, extract_instances, head_sizes

__all__ = ["LaneTask", "demo", "evaluate", "explain_regressions", "load_model",
           "save_checkpoint", "train_model"]

#: (training scenes, epochs) of the quick and the full demo (batches of 8 random crops of
#: ``CROP`` px: 160 and 240 steps per network).
QUICK = (16, 80)
FULL = (32, 60)
CROP = 48
#: the 1-px U-Net with its category and attribute maps dilated to the test width
WIDENED = "unet_1px_widened_to_test_width"
#: the demo's margin on the primary metric (semantic mIoU).
MARGIN = 0.05
#: metrics on which the method may trail the best baseline in the full demo, and why
#: (measured on seeds 0-4 with the extraction before 2026-12-07, i.e. before the released
#: line score and the rejoined junction pieces; the quick demo explains nothing).
_RANKING = (
    "both U-Nets recall every reference line at this threshold (42 of 42 on seeds 2 and 4); "
    "the difference is the ranking of false positives (score = mean class probability over "
    "the watershed instance): U-Net DilateGT fragments more lines (seed 4: 42 curb "
    "detections for 24 curbs vs 30) and its fragments score as high as whole lines "
    "(0.82-0.87). Measured: seed 2 AP50 / line AP@10 / @15 0.978 vs 0.981 (2 lane-line "
    "false positives, 64 and 114 px, ranked above its last found lane line); seed 4 line "
    "AP@15 0.958 vs 0.968 (1 lane-line + 6 curb false positives above its last found "
    "line, vs 2 + 5); seeds 0, 1, 3 lead; the means (instance AP, line AP) lead on every "
    "seed 0-4")
#: per-threshold AP -> the mean AP of the same family; the explanation holds only while
#: the method leads on that mean and trails at the threshold by at most RANKING_TOLERANCE.
RANKING_FAMILY: dict[str, str] = {
    "instance_ap50": "instance_ap", "line_ap@10": "line_ap", "line_ap@15": "line_ap"}
#: the largest per-threshold deficit the ranking explanation covers (measured: 0.010).
RANKING_TOLERANCE = 0.02


def explain_regressions(scores: dict[str, float],
                        baselines: dict[str, dict[str, float]]) -> dict[str, str]:
    """The full demo's explanations, given only where the measured condition holds.

    A per-threshold AP (``RANKING_FAMILY``) on which the method trails the best baseline is
    explained by the ranking of false positives (:data:`_RANKING`) only when the method
    leads every baseline on that family's mean AP and the deficit is at most
    :data:`RANKING_TOLERANCE`; any other regression stays unexplained, so the demo fails."""
    out: dict[str, str] = {}
    for metric, family in RANKING_FAMILY.items():
        best = max(b[metric] for b in baselines.values())
        best_family = max(b[family] for b in baselines.values())
        deficit = best - scores[metric]
        if 0 < deficit <= RANKING_TOLERANCE and scores[family] > best_family:
            out[metric] = _RANKING
    return out

try:
    import lightning as L

    _LightningBase: Any = L.LightningModule
except ImportError:  # pragma: no cover
    _LightningBase = nn.Module

#: ``image (3, H, W) -> (category map, category probs or None, {attribute: map})``.
Predictor = Callable[[np.ndarray],
                     tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]]


def lr_factor(step: int, total: int, warmup_fraction: float, power: float) -> float:
    """The released schedule as a factor of the base learning rate: ``LinearLR`` from 2e-6
    over the first ``warmup_fraction`` of ``total`` steps, then ``PolyLR`` (``power``,
    down to 0 at ``total``)."""
    warm = int(round(warmup_fraction * total))
    if step < warm:
        return 2e-6 + (1.0 - 2e-6) * step / warm
    if power == 0:
        return 1.0
    return float(max(0.0, 1.0 - (step - warm) / max(1, total - warm)) ** power)


class LaneTask(_LightningBase):  # type: ignore[misc]
    """The released losses (:func:`.losses.lane_loss`: weighted cross-entropy + Dice on the
    category map and on each attribute head, ignore 255); AdamW with the released warm-up +
    poly schedule (:func:`lr_factor`), stepped every batch."""

    def __init__(self, config: LaneConfig) -> None:
        super().__init__()
        self.config = config
        self.model = build_model(config)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.config.mean, device=image.device)[:, None, None]
        std = torch.tensor(self.config.std, device=image.device)[:, None, None]
        return self.model((image - mean) / std)  # type: ignore[no-any-return]

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        from .losses import lane_loss

        loss, _ = lane_loss(self(batch["image"]), batch, self.config)
        self.log("train_loss", loss, batch_size=len(batch["image"]))
        return loss

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.config.lr, weight_decay=0.01)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: lr_factor(step, total, self.config.warmup_fraction,
                                        self.config.poly_power))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"][CONFIG_KEY] = json.dumps(self.config.to_dict())


class _Augment:
    """Collate with a random ``crop`` (None: whole tiles), 90-degree rotation and flip
    (image and mask alike)."""

    def __init__(self, crop: int | None) -> None:
        self.crop = crop

    def __call__(self, batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        return _augment(batch, self.crop)


def _augment(batch: list[dict[str, torch.Tensor]], crop: int | None = None
             ) -> dict[str, torch.Tensor]:
    """The same random crop, 90-degree rotation and flip for the image and every label map
    (``mask`` and the attribute maps present in all samples)."""
    keys = ["mask"] + [a for a in ATTRIBUTE_HEADS if all(a in s for s in batch)]
    out: dict[str, list[torch.Tensor]] = {k: [] for k in ["image", *keys]}
    for s in batch:
        img, maps = s["image"], [s[k] for k in keys]
        h, w = maps[0].shape
        if crop is not None and crop < min(h, w):
            r0 = int(torch.randint(0, h - crop + 1, ()))
            c0 = int(torch.randint(0, w - crop + 1, ()))
            img = img[:, r0:r0 + crop, c0:c0 + crop]
            maps = [m[r0:r0 + crop, c0:c0 + crop] for m in maps]
        k = int(torch.randint(0, 4, ()))
        img, maps = torch.rot90(img, k, (1, 2)), [torch.rot90(m, k, (0, 1)) for m in maps]
        if bool(torch.randint(0, 2, ())):
            img, maps = img.flip(2), [m.flip(1) for m in maps]
        out["image"].append(img)
        for key, m in zip(keys, maps, strict=True):
            out[key].append(m)
    return {k: torch.stack(v) for k, v in out.items()}


def train_model(config: LaneConfig, samples: Sequence[dict[str, torch.Tensor]], *,
                epochs: int = 20, batch_size: int = 8, seed: int = 0, crop: int | None = None,
                checkpoint: str | Path | None = None) -> nn.Module:
    """Train the segmenter on ``{"image", "mask"}`` samples (random ``crop``-px windows
    when given); return it in eval mode."""
    from torch.utils.data import DataLoader

    from ...nn.training import make_trainer
    from ...seed import seed_everything

    seed_everything(seed)
    task = LaneTask(config)
    data: Any = list(samples)
    loader: DataLoader[Any] = DataLoader(data, batch_size=batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed),
                                         collate_fn=_Augment(crop))
    make_trainer(max_epochs=epochs, seed=seed).fit(task, loader)
    model: nn.Module = task.model.eval()
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, config)
    return model


def network_predictor(model: nn.Module, config: LaneConfig) -> Predictor:
    """``image (3, H, W) -> (label, probs, attribute maps)`` of a trained segmenter."""
    def run(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        heads = predict_heads(model, config, torch.from_numpy(np.asarray(image))[None])
        probs = heads["category"][0].numpy()
        attrs = {a: heads[a][0].numpy().argmax(0).astype(np.int64) for a in config.attributes}
        return probs.argmax(0).astype(np.int64), probs, attrs
    return run


def evaluate(predict: Predictor, samples: Sequence[dict[str, torch.Tensor]],
             config: LaneConfig) -> tuple[dict[str, float], list[np.ndarray]]:
    """mIoU, instance AP and line AP of a predictor on samples whose ``mask``, attribute maps
    and ``instance`` carry the test dilation; for every attribute head in
    ``config.attributes`` the same mIoU (``miou_<attribute>``, background included, ignore
    255) and their mean ``attr_miou``; ``miou_redrawn``: the mIoU of the map the extracted
    instances paint (each line redrawn at the test width, the released post-processing),
    which no longer depends on the width of the predicted lines. Returns the metrics and
    the class maps."""
    preds, targets = [], []
    apreds: dict[str, list[np.ndarray]] = {a: [] for a in config.attributes}
    pairs: list[tuple[list[Instance], list[Instance]]] = []
    redrawn: list[np.ndarray] = []
    for s in samples:
        label, probs, attrs = predict(s["image"].numpy())
        target = s["mask"].numpy()
        preds.append(label)
        targets.append(target)
        for a in config.attributes:
            apreds[a].append(attrs[a])
        gts = instances_from_map(target, s["instance"].numpy())
        lines = extract_instances(label, probs, config)
        dts = [Instance(d.category, d.mask, d.score) for d in lines]
        pairs.append((gts, dts))
        red = np.zeros(label.shape, dtype=np.int64)
        for d in lines:
            red[d.mask] = d.category
        redrawn.append(red)
    sem = semantic_miou(preds, targets, config.num_classes)
    ins = instance_ap(pairs)
    lin = line_ap(pairs)
    metrics = {"miou": sem["miou"], "iou_lane": sem["iou_1"], "iou_curb": sem["iou_2"],
               "instance_ap": ins["ap"], "instance_ap50": ins["ap50"], "line_ap": lin["ap"],
               "miou_redrawn": semantic_miou(redrawn, targets, config.num_classes)["miou"]}
    for k, v in lin.items():
        if k != "ap":
            metrics[f"line_{k}"] = v
    sizes = head_sizes(config)
    for a in config.attributes:
        metrics[f"miou_{a}"] = semantic_miou(apreds[a], [s[a].numpy() for s in samples],
                                             sizes[a])["miou"]
    if config.attributes:
        metrics["attr_miou"] = float(np.mean([metrics[f"miou_{a}"] for a in config.attributes]))
    return {k: float(np.nan_to_num(v)) for k, v in metrics.items()}, preds


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> Any:
    """U-Net with attribute heads on dilated lines (``DilateGT``) vs. the same U-Net on the
    1-px lines and the cheap baseline.

    The method: :meth:`LaneConfig.tiny` (``DilateGT`` 3 at native resolution - the released
    kernel 9 on x4-resized tiles, the width of the test reference -, the released
    class-weighted cross-entropy + Dice, six attribute heads). Baselines, all given the
    same images and labels: colour/edge thresholds + skeleton (widened to the test width)
    with per-category attribute rules; the same U-Net, heads and loss trained on the raw
    1-px lines (the practitioner's answer to thin, rare classes, and the ablation of
    ``DilateGT``), scored as it is and with its category and attribute maps widened to the
    test width (:func:`.baselines.widened`: the released evaluator compares the raw map
    with the 3-px reference, which a 1-px map cannot cover); in the full demo also the same
    U-Net on 1-px lines with plain cross-entropy (the first try). The full demo
    reports the method without the released class weights + Dice (plain cross-entropy on
    the dilated lines) as an ablation. Every network arm goes through the same released
    post-processing (watershed, polyline, redraw, dilate by the test kernel) for the
    instance metrics; the semantic mIoU compares the raw predicted map with the reference,
    as the released evaluator does. Primary metric: semantic mIoU against the test-dilated
    (3 px) reference of scenes of an unseen seed. The trained model is saved as
    ``opensatmap_model.pt`` (usable by ``geoneurips lanes``).

    The full demo decides (mIoU margin 0.05): False on seeds 0-4, the widened 1-px U-Net
    leads mIoU by 0.025/0.008/0.027/0.002/0.079 (numbers in the system's notes; against the
    raw 1-px map the lead was +0.10 to +0.14, a width artefact). The quick one reports
    without deciding: with 160 steps the
    U-Net DilateGT still paints lines too wide (development seeds 10-12: recall 0.97-1.00,
    precision 0.52-0.68 on lane lines and curbs, vs 0.67-0.74 after the full demo's 240
    steps), while the 1-px U-Net has reached its plateau (precision 0.81-0.95, recall
    0.51-0.63, capped by its 1-px target against the 3-px reference), so the mIoU lead is
    +0.02/+0.08/+0.02 there; ``regressions_explained`` is only given to the full demo.
    """
    from ...seed import single_thread

    # one intra-op thread for training and evaluation: the same float order, so the
    # same result, on any core count and after other demos in the same process
    with single_thread():
        return _demo(out_dir, quick, seed)


def _demo(out_dir: Path, quick: bool, seed: int) -> Any:
    import tempfile
    from dataclasses import replace

    from ...demo import finish, new_figure
    from ...seed import seed_everything
    from .baselines import (
        fit_attribute_rules,
        fit_threshold_baseline,
        rule_attributes,
        threshold_baseline,
        widened,
        yellow_paint,
    )
    from .data import OpenSatMap, write_fixture

    started = time.perf_counter()
    seed_everything(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_train, epochs = (QUICK if quick else FULL)
    config = LaneConfig.tiny()  # DilateGT 3, released weighted CE + Dice, attribute heads
    plain = replace(config, class_weight=None, dice_weight=0.0)
    with tempfile.TemporaryDirectory(prefix="opensatmap_demo_") as tmpd:
        train_root = write_fixture(Path(tmpd) / "train", n_train=n_train, n_val=0, n_test=0,
                                   size=128, seed=seed)
        eval_root = write_fixture(Path(tmpd) / "eval", n_train=0, n_val=12, n_test=0,
                                  size=128, seed=seed + 1000)
        train_d = OpenSatMap(train_root, "train", clip=0, dilate=config.train_dilate)
        train_raw = OpenSatMap(train_root, "train", clip=0, dilate=1)
        train_t = OpenSatMap(train_root, "train", clip=0, dilate=config.test_dilate)
        test = OpenSatMap(eval_root, "val", clip=0, dilate=config.test_dilate)
        samples_d = [train_d[i] for i in range(len(train_d))]
        samples_raw = [train_raw[i] for i in range(len(train_raw))]
        samples_t = [train_t[i] for i in range(len(train_t))]
        test_samples = [test[i] for i in range(len(test))]
    t0 = time.perf_counter()
    model = train_model(config, samples_d, epochs=epochs, seed=seed, crop=CROP,
                        checkpoint=out / "opensatmap_model.pt")
    t1 = time.perf_counter()
    scores, preds = evaluate(network_predictor(model, config), test_samples, config)
    nets = {"unet_1px_weighted_ce_dice": (config, samples_raw)}
    if not quick:
        nets["unet_1px_plain_ce"] = (plain, samples_raw)
        nets["without_released_weighting"] = (plain, samples_d)
    results: dict[str, tuple[dict[str, float], list[np.ndarray]]] = {}
    for name, (cfg, data) in nets.items():
        net = train_model(cfg, data, epochs=epochs, seed=seed, crop=CROP)
        results[name] = evaluate(network_predictor(net, cfg), test_samples, cfg)
        if name == "unet_1px_weighted_ce_dice":
            # the same network, its output widened to the test width (the reference's)
            results[WIDENED] = evaluate(widened(network_predictor(net, cfg),
                                                config.test_dilate), test_samples, cfg)
    tp, te = fit_threshold_baseline([s["image"].numpy() for s in samples_t],
                                    [s["mask"].numpy() for s in samples_t],
                                    config.test_dilate)
    rules = fit_attribute_rules([s["mask"].numpy() for s in samples_t],
                                {a: [s[a].numpy() for s in samples_t]
                                 for a in config.attributes})

    def thr(img: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        from scipy import ndimage

        label = threshold_baseline(img, tp, te, config.test_dilate)
        yellow = ndimage.binary_dilation(yellow_paint(img, tp), iterations=2)
        return label, None, rule_attributes(label, rules, yellow)

    results["threshold_skeleton"] = evaluate(thr, test_samples, config)
    names = ["threshold_skeleton", "unet_1px_weighted_ce_dice", WIDENED] + \
        ([] if quick else ["unet_1px_plain_ce"])
    baselines = {k: results[k][0] for k in names}
    fig, axes = new_figure(5, 1, size=2.6)
    s0 = test_samples[0]
    strongest = max(baselines, key=lambda k: baselines[k]["miou"])
    panels = [(s0["image"].numpy().transpose(1, 2, 0) / 255.0, "unseen scene"),
              (s0["mask"].numpy(), "reference (3 px)"),
              (results["threshold_skeleton"][1][0],
               f"threshold+skeleton {baselines['threshold_skeleton']['miou']:.2f}"),
              (results[strongest][1][0], f"{strongest} {baselines[strongest]['miou']:.2f}"),
              (preds[0], f"U-Net DilateGT {scores['miou']:.2f}")]
    for ax, (arr, title) in zip(axes[0], panels, strict=True):
        if arr.ndim == 2:
            arr = np.where(arr == 255, 0, arr)
            ax.imshow(arr, vmin=0, vmax=3, cmap="viridis", interpolation="nearest")
        else:
            ax.imshow(np.clip(arr, 0, 1))
        ax.set_title(title, fontsize=7)
        ax.axis("off")
    # the per-attribute mIoUs are the breakdown of attr_miou, miou_redrawn the map of the
    # redrawn instances (reported, not deciding)
    directions = {k: "info" if k.startswith("miou_") else "max" for k in scores}
    ablations = {"without_dilation (= unet_1px_weighted_ce_dice)":
                 baselines["unet_1px_weighted_ce_dice"]}
    if not quick:
        ablations["without_released_weighting"] = results["without_released_weighting"][0]
    return finish(
        "opensatmap", scores, baselines=baselines,
        primary="miou", margin=MARGIN, directions=directions, figure=fig, out_dir=out,
        started=started, ablations=ablations,
        regressions_explained={} if quick else explain_regressions(scores, baselines),
        details={"train_scenes": len(samples_d), "eval_scenes": len(test_samples),
                 "eval_seed": seed + 1000, "tile": 128, "epochs": epochs, "train_crop": CROP,
                 "model": f"SmallUNet width {config.width} depth {config.depth}, heads "
                          f"{head_sizes(config)}",
                 "train_dilate": config.train_dilate, "test_dilate": config.test_dilate,
                 "loss": {"class_weight": config.class_weight,
                          "dice_weight": config.dice_weight,
                          "attr_class_weight": config.attr_class_weight,
                          "attr_dice_weight": config.attr_dice_weight,
                          "attr_weight": config.attr_weight},
                 "threshold_baseline": {"t_paint": tp, "t_edge": te,
                                        "attribute_rules": rules,
                                        "fitted_on": "training scenes"},
                 "seconds_train": round(t1 - t0, 2),
                 "checkpoint": str(out / "opensatmap_model.pt"),
                 "note": "synthetic scenes; the paper's numbers are on real OpenSatMap"},
    )
