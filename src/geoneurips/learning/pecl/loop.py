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
    """Candidates that do not duplicate an existing label of image ``i``."""
    return ~match_known(det, known[i][0], known[i][1], thr=0.3)


def _take(det: Detections, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return det.boxes[keep].reshape(-1, 4), det.labels[keep].astype(np.int64)


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


def explore_round(
    model: CenterDetector, images: np.ndarray, train: Labels, cal: Labels,
    config: ExplorerConfig, seed: int,
) -> tuple[Labels, Labels, dict[str, float]]:
    """One exploration round: candidates -> characteristics -> evaluator rewards ->
    explorer training -> selections. Returns (explorer's pseudo-labels, the value
    estimate's own ``v >= 0.5`` selections (ablation), diagnostics)."""
    c = model.num_classes
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
        novel.append(_novel(det, train, i))
    x = np.concatenate(feats)
    known = np.concatenate(knowns)
    v = value_estimator(x, known, config.value_c, seed)
    ent, margin = x[:, c + 1], x[:, c + 2]
    r = reward(v, ent, margin, config)
    splits = np.cumsum([len(f) for f in feats])[:-1]
    actor, _, norm = train_explorer(feats, np.split(r, splits), config, seed)
    pseudo: Labels = []
    vonly: Labels = []
    for det, f, k, nv, vv in zip(dets, feats, knowns, novel, np.split(v, splits), strict=True):
        ok = nv & ~k
        pseudo.append(_take(det, explore(actor, norm, f) & ok))
        vonly.append(_take(det, (vv >= 0.5) & ok))
    info = {"candidates": float(len(x)), "known": float(known.sum()),
            "selected": float(sum(len(p[1]) for p in pseudo)),
            "agree_with_reward": float(np.mean(explore(actor, norm, x) == (r > 0)))}
    return pseudo, vonly, info


def run_pecl(
    images: np.ndarray, train: Labels, cal: Labels, det_config: DetectorConfig,
    config: ExplorerConfig, rounds: int = 2, seed: int = 0,
    first_model: CenterDetector | None = None,
) -> PeclResult:
    """The progressive loop: ``rounds`` of explore + retrain on ``train`` + pseudo-labels,
    then the final detector on ``train + cal + pseudo-labels``."""
    model = first_model or train_detector(images, *_unzip(train), det_config, seed)
    res = PeclResult(model)
    pseudo: Labels = [(np.zeros((0, 4)), np.zeros(0, np.int64)) for _ in train]
    for r in range(rounds):
        pseudo, vonly, info = explore_round(model, images, train, cal, config, seed + r)
        res.pseudo.append(pseudo)
        res.value_only.append(vonly)
        res.info.update({f"round{r}_{k}": val for k, val in info.items()})
        if r < rounds - 1:
            model = train_detector(images, *_unzip(merge(train, pseudo)), det_config, seed)
    res.model = train_detector(images, *_unzip(merge(train, cal, pseudo)), det_config, seed)
    return res


def _unzip(labels: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[
        list[np.ndarray], list[np.ndarray]]:
    return [b for b, _ in labels], [lb for _, lb in labels]
