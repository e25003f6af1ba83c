"""The progressive exploration-conformal loop (PECL Sec. 3) and the pseudo-labelling baselines.

Closed loop, as the paper describes it: train the detector on the sparse labels, predict
candidates on the training images, let the explorer select pseudo-labels (features ->
policy, rewarded by the evaluator), retrain with them, and repeat (``rounds``).

Calibration by cross-fitting. Split conformal and the positive-unlabelled value estimate need
labelled instances the detector did not fit. The sparse labels of every image are split at
random into two folds; the detector trained on one fold scores the other fold's labels
(their non-conformity scores, pooled over both folds, calibrate; candidates hitting them
are the value estimate's known positives, every sparse label once) -- the protocol keeps
objects uniformly at random, so a held-out fold is an unbiased sample of the objects its
detector missed. The candidates that become pseudo-labels come from the detector trained
on *all* sparse labels, as in the sparse-only and fixed-threshold arms. (Fixed defect: the
exploring detector used to see only half the labels, the other half calibrating; the
conformal-threshold baseline had the same handicap and gets the same cross-fitting.)
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
    fit_value_model,
    match_known,
    reward,
    train_explorer,
    value_features,
)

__all__ = [
    "Fold",
    "Labels",
    "PeclResult",
    "calibration_split",
    "crossfit_cal_scores",
    "crossfit_folds",
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


@dataclass
class Fold:
    """One cross-fitting fold: a detector, the labels it trained on (``train``, sparse, and
    ``pseudo``) and the sparse labels it did not see (``held``: its calibration instances)."""

    model: CenterDetector
    train: Labels
    held: Labels
    pseudo: Labels


def crossfit_folds(
    images: np.ndarray, labels: Labels, det_config: DetectorConfig, seed: int,
    pseudo: Labels | None = None,
) -> list[Fold]:
    """Split ``labels`` into two folds (:func:`calibration_split`) and train one detector per
    fold on that fold (+ ``pseudo``): each detector's held-out fold is the other one."""
    a, b = calibration_split(labels, seed)
    extra = pseudo if pseudo is not None else _empty(len(labels))
    return [Fold(train_detector(images, *_unzip(merge(tr, extra)), det_config, seed), tr, held,
                 extra) for tr, held in ((a, b), (b, a))]


def crossfit_cal_scores(images: np.ndarray, folds: Sequence[Fold],
                        num_classes: int) -> list[np.ndarray]:
    """Per class, the non-conformity scores ``1 - q_c`` of every fold's held-out labels under
    that fold's detector, pooled: every sparse label calibrates once, unseen by its scorer."""
    parts = [_cal_scores(f.model, images, f.held, num_classes) for f in folds]
    return [np.concatenate([p[c] for p in parts]) for c in range(num_classes)]


def _cal_scores(model: CenterDetector, images: np.ndarray, cal: Labels,
                num_classes: int) -> list[np.ndarray]:
    probs, _ = probe(model, images, [b for b, _ in cal])
    scores: list[list[float]] = [[] for _ in range(num_classes)]
    for p, (_, labs) in zip(probs, cal, strict=True):
        for q, c in zip(p, labs, strict=True):
            scores[int(c)].append(1.0 - float(q[int(c)]))
    return [np.asarray(s) for s in scores]


def tuned_threshold_pseudo(
    model: CenterDetector, images: np.ndarray, labels: Labels,
    cal_scores: Sequence[np.ndarray], alpha: float,
) -> Labels:
    """Per-class conformal threshold: select new candidates of ``model`` (trained on all of
    ``labels``) whose split-conformal p-value against the cross-fitted calibration scores
    (:func:`crossfit_cal_scores`) exceeds ``alpha`` (i.e. a class-wise score threshold that
    keeps about ``1 - alpha`` of the calibration objects)."""
    from geoneurips.learning.pecl.explorer import conformal_pvalues

    out: Labels = []
    for i, det in enumerate(detect(model, images)):
        p = conformal_pvalues(cal_scores, 1 - det.scores, det.labels)
        out.append(_take(det, (p > alpha) & _novel(det, labels, i)))
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


def _features(
    model: CenterDetector, images: np.ndarray, proto_labels: Labels,
    cal_s: Sequence[np.ndarray], config: ExplorerConfig, seed: int,
) -> tuple[list[Detections], list[np.ndarray]]:
    """Candidates of ``model`` and their exploratory characteristics (prototypes clustered
    online from ``model``'s embeddings of the labelled instances ``proto_labels``)."""
    c = model.num_classes
    dets = detect(model, images)
    _, emb = probe(model, images, [b for b, _ in proto_labels])
    dim = dets[0].embed.shape[1] if len(dets[0].embed) else 32
    protos = OnlinePrototypes(c, config.prototypes_per_class, dim, seed)
    protos.update(np.concatenate([e.reshape(-1, dim) for e in emb]),
                  np.concatenate([lb for _, lb in proto_labels]))
    return dets, [candidate_features(d, protos, cal_s, config.context_radius) for d in dets]


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


def explore_round(
    model: CenterDetector, images: np.ndarray, labels: Labels, folds: Sequence[Fold],
    config: ExplorerConfig, seed: int, pseudo: Labels | None = None,
    truth: Labels | None = None,
) -> tuple[Labels, Labels, dict[str, float]]:
    """One exploration round: candidates -> characteristics -> evaluator rewards ->
    explorer training -> selections.

    The evaluator's value model (:func:`fit_value_model`) is fitted on the cross-fitted
    candidates: each fold's detector's candidates that it was not trained on, with the hits
    of its held-out fold as known positives (a candidate repeating a training label or a
    pseudo-label is neither a calibration hit nor unlabelled). It then values the new
    candidates of ``model`` (trained on all ``labels`` + ``pseudo``), whose characteristics
    use the same pooled calibration scores; the explorer learns from the rewards of those
    candidates and selects among them. ``truth`` (all objects) is used for diagnostics only
    (ranking AUC of the value and of the score). Returns (the new pseudo-labels of this
    round, the value estimate's own ``v >= 0.5`` selections (ablation), diagnostics)."""
    c = model.num_classes
    cal_s = crossfit_cal_scores(images, folds, c)
    sc, cl, kn, gr = [], [], [], []
    for k, fold in enumerate(folds):
        fd, ff = _features(fold.model, images, fold.train, cal_s, config, seed)
        fitted_k = merge(fold.train, fold.pseudo)
        for i, (d, f) in enumerate(zip(fd, ff, strict=True)):
            nv = _novel(d, fitted_k, i)
            sc.append(d.scores[nv])
            cl.append(value_features(f[nv], d.labels[nv], c))
            kn.append(match_known(d, fold.held[i][0], fold.held[i][1])[nv])
            gr.append(np.full(int(nv.sum()), k))
    vm = fit_value_model(np.concatenate(sc), np.concatenate(cl), np.concatenate(kn),
                         np.concatenate(gr), config.value_c)
    fitted = merge(labels, pseudo) if pseudo is not None else labels
    dets, feats = _features(model, images, labels, cal_s, config, seed)
    novel = [_novel(d, fitted, i) for i, d in enumerate(dets)]
    gs = [vm.known_prob(d.scores, value_features(f, d.labels, c)) if len(d.scores)
          else np.zeros(0) for d, f in zip(dets, feats, strict=True)]
    vals = [np.clip(g / max(vm.c, 1e-6), 0.0, 1.0) for g in gs]
    ep = [f[n] for f, n in zip(feats, novel, strict=True)]
    rw = [reward(v[n], f[n, c + 1], f[n, c + 2], config)
          for v, f, n in zip(vals, feats, novel, strict=True)]
    actor, _, norm = train_explorer(ep, rw, config, seed)
    new: Labels = []
    vonly: Labels = []
    for det, f, n, v in zip(dets, feats, novel, vals, strict=True):
        new.append(_take(det, explore(actor, norm, f) & n))
        vonly.append(_take(det, (v >= 0.5) & n))
    x_nv = np.concatenate(ep)
    r_nv = np.concatenate(rw)
    info = {"candidates": float(sum(len(d.scores) for d in dets)),
            "novel": float(len(x_nv)), "known": float(np.concatenate(kn).sum()),
            "selected": float(sum(len(p[1]) for p in new)),
            "value_uses_clues": float(vm.use_clues),
            "heldout_pu_auc_score": vm.heldout_auc["score"],
            "heldout_pu_auc_clues": vm.heldout_auc["clues"],
            "agree_with_reward": float(np.mean(explore(actor, norm, x_nv) == (r_nv > 0)))
            if len(x_nv) else 1.0}
    if truth is not None:
        y = np.concatenate([match_known(d, truth[i][0], truth[i][1])[n]
                            for i, (d, n) in enumerate(zip(dets, novel, strict=True))])
        info["auc_value"] = _auc(y, np.concatenate([g[n] for g, n in zip(gs, novel,
                                                                           strict=True)]))
        info["auc_score"] = _auc(y, np.concatenate([d.scores[n] for d, n in zip(
            dets, novel, strict=True)]))
    return new, vonly, info


def run_pecl(
    images: np.ndarray, labels: Labels, det_config: DetectorConfig, config: ExplorerConfig,
    rounds: int = 2, seed: int = 0, first_model: CenterDetector | None = None,
    folds: Sequence[Fold] | None = None, refit_folds: bool = True,
    truth: Labels | None = None,
) -> PeclResult:
    """The progressive loop: ``rounds`` of explore + retrain on all ``labels`` + the
    pseudo-labels explored so far (each round adds the new selections of a detector trained
    on the earlier ones); the last retrained detector is the result. The cross-fitting
    folds (:func:`crossfit_folds`, reused from ``folds`` in the first round) are retrained
    with the pseudo-labels between rounds when ``refit_folds``, so that the value model is
    fitted on detectors trained like the one it values. ``PeclResult.pseudo[r]`` holds the
    accumulated pseudo-labels after round ``r``; ``truth`` only feeds diagnostics."""
    model = first_model or train_detector(images, *_unzip(labels), det_config, seed)
    fl = list(folds) if folds is not None else crossfit_folds(images, labels, det_config, seed)
    res = PeclResult(model)
    pseudo = _empty(len(labels))
    for r in range(rounds):
        new, vonly, info = explore_round(model, images, labels, fl, config, seed + r, pseudo,
                                         truth)
        pseudo = merge(pseudo, new)
        res.pseudo.append(pseudo)
        res.value_only.append(merge(res.value_only[-1], vonly) if res.value_only else vonly)
        res.info.update({f"round{r}_{k}": val for k, val in info.items()})
        model = train_detector(images, *_unzip(merge(labels, pseudo)), det_config, seed)
        if r < rounds - 1 and refit_folds:
            fl = crossfit_folds(images, labels, det_config, seed, pseudo)
    res.model = model
    return res


def _unzip(labels: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[
        list[np.ndarray], list[np.ndarray]]:
    return [b for b, _ in labels], [lb for _, lb in labels]
