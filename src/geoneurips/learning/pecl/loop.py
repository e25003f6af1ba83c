"""The progressive exploration-conformal loop (PECL Sec. 3) and the pseudo-labelling baselines.

Closed loop, as the paper describes it: train the detector on the sparse labels, predict
candidates on the training images, let the explorer select pseudo-labels (features ->
policy, rewarded by the evaluator), retrain with them, and repeat (``rounds``).

Calibration. Split conformal needs labelled instances the detector did not fit, so the
sparse labels of every image are split at random into a training part ``A`` and a
calibration part ``B`` (half each). While exploring, the detector trains on ``A`` (plus
pseudo-labels) and ``B`` is background like every other unlabelled object; the protocol keeps
objects uniformly at random, so ``B`` is then an unbiased sample of the objects the
detector missed. ``B`` gives the conformal non-conformity scores and the known positives of
the value estimate; the final detector trains on ``A + B + pseudo-labels``. The
tuned-threshold baseline receives the same ``A``/``B`` split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from geoneurips.learning.pecl.detector import (
    CenterDetector,
    Detections,
    DetectorConfig,
    detect,
    probe,
    train_detector,
)
from geoneurips.learning.pecl.explorer import (
    ExplorerConfig,
    OnlinePrototypes,
    candidate_features,
    explore,
    match_known,
    reward,
    train_explorer,
    value_estimator,
    value_features,
)

__all__ = [
    "Labels",
    "PeclResult",
    "calibration_split",
    "fixed_threshold_pseudo",
    "merge",
    "run_pecl",
    "tuned_threshold_pseudo",
]

#: Per image: (xyxy boxes ``[n, 4]``, labels ``[n]``).
Labels = list[tuple[np.ndarray, np.ndarray]]


def merge(*sets: Labels) -> Labels:
    """Per-image union of several label sets."""
    return [(np.concatenate([s[i][0].reshape(-1, 4) for s in sets]),
             np.concatenate([s[i][1] for s in sets]).astype(np.int64))
            for i in range(len(sets[0]))]


def calibration_split(labels: Labels, seed: int) -> tuple[Labels, Labels]:
    """Split each image's sparse labels at random into training ``A`` and calibration ``B``."""
    rng = np.random.default_rng(seed)
    a: Labels = []
    b: Labels = []
    for boxes, labs in labels:
        m = rng.random(len(labs)) < 0.5
        a.append((boxes[~m], labs[~m]))
        b.append((boxes[m], labs[m]))
    return a, b


def _novel(det: Detections, known: Labels, i: int) -> np.ndarray:
    """Candidates that do not overlap (IoU > 0.3) an existing label of image ``i`` of *any*
    class. (Fixed defect: a same-class test let a wrong-class candidate on a labelled object
    through, so the object got two conflicting labels.)"""
    return ~match_known(det, known[i][0], known[i][1], thr=0.3, any_class=True)


def _take(det: Detections, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kept candidates as labels, after class-agnostic greedy NMS (IoU > 0.3, highest
    score wins): the per-class heatmaps can put two candidates of different classes on one
    object, and a pseudo-label set must not label one object twice. Every arm uses it."""
    import torch
    from torchvision.ops import nms

    idx = np.flatnonzero(keep)
    kept = nms(torch.as_tensor(det.boxes[idx], dtype=torch.float64).reshape(-1, 4),
               torch.as_tensor(det.scores[idx], dtype=torch.float64), 0.3).numpy()
    sel = idx[kept]
    return det.boxes[sel].reshape(-1, 4), det.labels[sel].astype(np.int64)


def fixed_threshold_pseudo(
    model: CenterDetector, images: np.ndarray, labels: Labels, threshold: float = 0.5
) -> Labels:
    """Fixed-threshold pseudo-labelling: every new candidate scoring ``>= threshold``."""
    out: Labels = []
    for i, det in enumerate(detect(model, images)):
        out.append(_take(det, (det.scores >= threshold) & _novel(det, labels, i)))
    return out


def _cal_scores(model: CenterDetector, images: np.ndarray, cal: Labels,
                num_classes: int) -> list[np.ndarray]:
    probs, _ = probe(model, images, [b for b, _ in cal])
    scores: list[list[float]] = [[] for _ in range(num_classes)]
    for p, (_, labs) in zip(probs, cal, strict=True):
        for q, c in zip(p, labs, strict=True):
            scores[int(c)].append(1.0 - float(q[int(c)]))
    return [np.asarray(s) for s in scores]


def tuned_threshold_pseudo(
    model: CenterDetector, images: np.ndarray, train: Labels, cal: Labels, alpha: float,
) -> Labels:
    """Per-class conformal threshold: select new candidates whose split-conformal p-value
    against the calibration instances ``cal`` exceeds ``alpha`` (i.e. a class-wise score
    threshold that keeps about ``1 - alpha`` of the calibration objects)."""
    from geoneurips.learning.pecl.explorer import conformal_pvalues

    num_classes = model.num_classes
    cal_s = _cal_scores(model, images, cal, num_classes)
    out: Labels = []
    known = merge(train, cal)
    for i, det in enumerate(detect(model, images)):
        p = conformal_pvalues(cal_s, 1 - det.scores, det.labels)
        out.append(_take(det, (p > alpha) & _novel(det, known, i)))
    return out


@dataclass
class PeclResult:
    """The final detector, the pseudo-labels of each round and diagnostics."""

    model: CenterDetector
    pseudo: list[Labels] = field(default_factory=list)
    value_only: list[Labels] = field(default_factory=list)
    info: dict[str, float] = field(default_factory=dict)


def _empty(n: int) -> Labels:
    return [(np.zeros((0, 4)), np.zeros(0, np.int64)) for _ in range(n)]


def explore_round(
    model: CenterDetector, images: np.ndarray, train: Labels, cal: Labels,
    config: ExplorerConfig, seed: int, pseudo: Labels | None = None,
) -> tuple[Labels, Labels, dict[str, float]]:
    """One exploration round: candidates -> characteristics -> evaluator rewards ->
    explorer training -> selections.

    ``pseudo`` are the pseudo-labels the detector was trained with (earlier rounds). The
    value estimate is fitted on the candidates the detector was *not* trained on: a
    candidate that repeats a training label or an earlier pseudo-label is neither a
    calibration hit (the random sample of missed objects the positive-unlabelled estimate
    relies on) nor unlabelled, and counting it as unlabelled teaches the estimate that
    confident candidates are not objects. Returns (the new pseudo-labels of this round, the
    value estimate's own ``v >= 0.5`` selections (ablation), diagnostics)."""
    c = model.num_classes
    fitted = merge(train, pseudo) if pseudo is not None else train
    dets = detect(model, images)
    _, emb_a = probe(model, images, [b for b, _ in train])
    protos = OnlinePrototypes(c, config.prototypes_per_class, dets[0].embed.shape[1]
                              if len(dets[0].embed) else 32, seed)
    protos.update(np.concatenate([e.reshape(-1, protos.centres.shape[2]) for e in emb_a]),
                  np.concatenate([lb for _, lb in train]))
    cal_s = _cal_scores(model, images, cal, c)
    feats, knowns, novel = [], [], []
    for i, det in enumerate(dets):
        feats.append(candidate_features(det, protos, cal_s, config.context_radius))
        knowns.append(match_known(det, cal[i][0], cal[i][1]))
        novel.append(_novel(det, fitted, i))
    x = np.concatenate(feats)
    known = np.concatenate(knowns)
    nv = np.concatenate(novel)
    labs = np.concatenate([d.labels for d in dets]).astype(np.int64)
    v = np.zeros(len(x))
    if nv.any():
        v[nv] = value_estimator(value_features(x[nv], labs[nv], c), known[nv],
                                config.value_c, seed)
    ent, margin = x[:, c + 1], x[:, c + 2]
    r = reward(v, ent, margin, config)
    splits = np.cumsum([len(f) for f in feats])[:-1]
    ep = [f[n] for f, n in zip(feats, novel, strict=True)]
    rw = [rr[n] for rr, n in zip(np.split(r, splits), novel, strict=True)]
    actor, _, norm = train_explorer(ep, rw, config, seed)
    new: Labels = []
    vonly: Labels = []
    for det, f, k, n, vv in zip(dets, feats, knowns, novel, np.split(v, splits), strict=True):
        ok = n & ~k
        new.append(_take(det, explore(actor, norm, f) & ok))
        vonly.append(_take(det, (vv >= 0.5) & ok))
    info = {"candidates": float(len(x)), "known": float(known.sum()),
            "selected": float(sum(len(p[1]) for p in new)),
            "agree_with_reward": float(np.mean(explore(actor, norm, x[nv]) == (r[nv] > 0)))
            if nv.any() else 1.0}
    return new, vonly, info


def run_pecl(
    images: np.ndarray, train: Labels, cal: Labels, det_config: DetectorConfig,
    config: ExplorerConfig, rounds: int = 2, seed: int = 0,
    first_model: CenterDetector | None = None,
) -> PeclResult:
    """The progressive loop: ``rounds`` of explore + retrain on ``train`` + the pseudo-labels
    explored so far (each round adds the new selections of a detector that was trained on
    the earlier ones), then the final detector on ``train + cal + pseudo-labels``.
    ``PeclResult.pseudo[r]`` holds the accumulated pseudo-labels after round ``r``."""
    model = first_model or train_detector(images, *_unzip(train), det_config, seed)
    res = PeclResult(model)
    pseudo = _empty(len(train))
    for r in range(rounds):
        new, vonly, info = explore_round(model, images, train, cal, config, seed + r, pseudo)
        pseudo = merge(pseudo, new)
        res.pseudo.append(pseudo)
        res.value_only.append(merge(res.value_only[-1], vonly) if res.value_only else vonly)
        res.info.update({f"round{r}_{k}": val for k, val in info.items()})
        if r < rounds - 1:
            model = train_detector(images, *_unzip(merge(train, pseudo)), det_config, seed)
    res.model = train_detector(images, *_unzip(merge(train, cal, pseudo)), det_config, seed)
    return res


def _unzip(labels: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[
        list[np.ndarray], list[np.ndarray]]:
    return [b for b, _ in labels], [lb for _, lb in labels]
