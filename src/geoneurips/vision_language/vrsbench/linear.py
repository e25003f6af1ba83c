"""The learned cheap baseline of the VRSBench demo: image features + linear models.

The developers' guide asks every demo for "the method a practitioner would try first"
next to the paper's trivial baselines (VRSBench, Li et al. 2024, Sec. 5 benchmarks only
trained VLMs and trivial ones). Before training a vision-language network, a practitioner
fits linear models on fixed image features, one per task:

* features: downsampled pixels and 3x3-region colour histograms, standardised on the
  training images;
* VQA: a logistic-regression classifier over the answers of each training question text
  (a constant where one answer was seen; a per-type classifier for question texts too
  rare to fit);
* referring (visual grounding): a ridge regression of the box corners for each group of
  referring sentences (grouped by the whole sentence, by its size and position phrase, or
  by its position phrase; the mean box of all sentences where a group is too small);
* captioning: the consensus caption of the ``k`` nearest training images (the one with
  the most n-grams in common with the other ``k - 1``; ``k = 1`` is plain retrieval).

The hyper-parameters (pixel pooling, inverse regularisation ``C``, ridge ``alpha``,
sentence grouping, ``k``) are chosen on a validation split of the training images only
(:func:`tune`): the evaluation scenes are never looked at.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

__all__ = [
    "GRID_ALPHA",
    "GRID_C",
    "GRID_GROUP",
    "GRID_K",
    "GRID_POOL",
    "GRID_VQA_POOL",
    "LinearConfig",
    "TaskData",
    "caption_knn",
    "colour_hist",
    "image_features",
    "pixels",
    "predict_all",
    "refer_ridge",
    "refer_ridge_path",
    "standardise",
    "tune",
    "vqa_logreg",
    "vqa_logreg_path",
]

#: The smallest number of training examples a group needs for its own linear model.
MIN_GROUP = 8

#: The validation grid. Each task picks its own pixel pooling: captions and boxes from
#: :data:`GRID_POOL`; the answers use pooling 16 (on a development split of seed 0's
#: training scenes pooling 8 was 1-3 points less accurate at every ``C`` and the 52-odd
#: logistic regressions took about twice as long).
GRID_POOL: tuple[int, ...] = (4, 8, 16)
GRID_VQA_POOL: tuple[int, ...] = (16,)
GRID_C: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
GRID_ALPHA: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
GRID_GROUP: tuple[str, ...] = ("sentence", "size+position", "position")
GRID_K: tuple[int, ...] = (1, 3, 5, 9)


@dataclass(frozen=True)
class LinearConfig:
    """Hyper-parameters of the pixel-linear baseline (the ``GRID_*`` values are tried):
    pixel pooling of each task's features, the logistic regressions' inverse
    regularisation ``C``, the ridge ``alpha`` and sentence ``group`` and the caption
    neighbours ``k``."""

    cap_pool: int = 8
    k: int = 3
    ref_pool: int = 4
    alpha: float = 10.0
    group: str = "size+position"
    vqa_pool: int = 16
    C: float = 1.0


@dataclass
class TaskData:
    """The training (or evaluation) items of one split, as image rows and texts.

    ``cap_img``/``captions``: one caption per image row; ``ref_img``/``ref_sent``/``ref_box``:
    referring sentences and their boxes (normalised x1, y1, x2, y2; empty for evaluation);
    ``vqa_img``/``vqa_q``/``vqa_type``/``vqa_a``: questions, raw types and answers (empty
    for evaluation).
    """

    cap_img: list[int]
    captions: list[str]
    ref_img: list[int]
    ref_sent: list[str]
    ref_box: list[list[float]]
    vqa_img: list[int]
    vqa_q: list[str]
    vqa_type: list[str]
    vqa_a: list[str]

    def subset(self, rows: set[int]) -> TaskData:
        """The items whose image row is in ``rows``."""

        c = [i for i, r in enumerate(self.cap_img) if r in rows]
        f = [i for i, r in enumerate(self.ref_img) if r in rows]
        v = [i for i, r in enumerate(self.vqa_img) if r in rows]
        return TaskData(
            [self.cap_img[i] for i in c], [self.captions[i] for i in c],
            [self.ref_img[i] for i in f], [self.ref_sent[i] for i in f],
            [self.ref_box[i] for i in f] if self.ref_box else [],
            [self.vqa_img[i] for i in v], [self.vqa_q[i] for i in v],
            [self.vqa_type[i] for i in v], [self.vqa_a[i] for i in v] if self.vqa_a else [])


def pixels(images: np.ndarray, k: int = 4) -> np.ndarray:
    """(N, 3, H, W) images -> (N, 3 * H/k * W/k) means of k x k pixel blocks."""
    n, c, h, w = images.shape
    out: np.ndarray = images.reshape(n, c, h // k, k, w // k, k).mean((3, 5)).reshape(n, -1)
    return out


def colour_hist(images: np.ndarray) -> np.ndarray:
    """3x3 regions x (4 levels per channel = 64 colour codes) histograms, each row summing
    to one (a feature-space descriptor)."""
    n, c, h, w = images.shape
    q = np.clip((images * 4).astype(int), 0, 3)
    code = q[:, 0] * 16 + q[:, 1] * 4 + q[:, 2] + 64 * np.arange(n)[:, None, None]
    feats = []
    for r in range(3):
        for cc in range(3):
            blk = code[:, r * h // 3:(r + 1) * h // 3, cc * w // 3:(cc + 1) * w // 3]
            feats.append(np.bincount(blk.ravel(), minlength=64 * n).reshape(n, 64))
    f: np.ndarray = np.concatenate(feats, 1).astype(np.float32)
    out: np.ndarray = f / f.sum(1, keepdims=True)
    return out


def standardise(train_f: np.ndarray, other_f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both feature sets scaled with the training rows' mean and standard deviation; the
    columns constant on the training rows are dropped (they carry nothing a model fitted
    on them could use)."""
    mu, sd = train_f.mean(0), train_f.std(0)
    keep = sd > 1e-6
    tr = (train_f[:, keep] - mu[keep]) / sd[keep]
    ot = (other_f[:, keep] - mu[keep]) / sd[keep]
    return tr.astype(np.float64), ot.astype(np.float64)


def image_features(train_images: np.ndarray, other_images: np.ndarray, pool: int,
                   hists: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Downsampled pixels (``pool`` x ``pool`` blocks) and region colour histograms of both
    sets, standardised on the training images (:func:`standardise`). ``hists``: the two
    sets' :func:`colour_hist`, when already computed (they do not depend on ``pool``)."""
    h_tr, h_ot = hists if hists is not None else (colour_hist(train_images),
                                                  colour_hist(other_images))
    tr = np.concatenate([pixels(train_images, pool), h_tr], 1)
    ot = np.concatenate([pixels(other_images, pool), h_ot], 1)
    return standardise(tr, ot)


# ----------------------------------------------------------------------------------- VQA
def _classify_path(x: np.ndarray, y: Sequence[str], xt: np.ndarray, cs: Sequence[float]
                   ) -> list[list[str]]:
    """Predictions at ``xt`` of multinomial logistic regressions of ``y`` on ``x`` (L-BFGS,
    at most 500 iterations), one per inverse regularisation ``C``; the same answer
    everywhere where one answer was seen. Where the answers are separable at a large ``C``
    the iteration cap ends the fit (a ``ConvergenceWarning``, silenced: the capped solution
    is the model, and the cap is part of what the validation choice of ``C`` sees)."""
    labels = sorted(set(y))
    if len(labels) == 1:
        return [[labels[0]] * len(xt) for _ in cs]
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    out = []
    for c in cs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LogisticRegression(C=c, max_iter=500).fit(x, list(y))
        out.append([str(a) for a in clf.predict(xt)])
    return out


def vqa_logreg_path(tr_f: np.ndarray, train: TaskData, te_f: np.ndarray, img: Sequence[int],
                    questions: Sequence[str], types: Sequence[str], cs: Sequence[float]
                    ) -> list[list[str]]:
    """:func:`vqa_logreg` for several ``C`` at once (one answer list per ``C``)."""
    by_q: dict[str, list[int]] = defaultdict(list)
    by_t: dict[str, list[int]] = defaultdict(list)
    for i, (q, t) in enumerate(zip(train.vqa_q, train.vqa_type, strict=True)):
        by_q[q].append(i)
        by_t[t].append(i)
    overall = Counter(train.vqa_a).most_common(1)[0][0]
    rows = np.asarray(train.vqa_img)
    outs = [[overall] * len(questions) for _ in cs]
    wanted: dict[tuple[str, str], list[int]] = defaultdict(list)
    for j, (q, t) in enumerate(zip(questions, types, strict=True)):
        if len(by_q.get(q, ())) >= MIN_GROUP:
            wanted[("q", q)].append(j)
        elif by_t.get(t):
            wanted[("t", t)].append(j)
    for (kind, key), js in wanted.items():
        idx = by_q[key] if kind == "q" else by_t[key]
        preds = _classify_path(tr_f[rows[idx]], [train.vqa_a[i] for i in idx],
                               te_f[[img[j] for j in js]], cs)
        for out, pred in zip(outs, preds, strict=True):
            for j, a in zip(js, pred, strict=True):
                out[j] = a
    return outs


def vqa_logreg(tr_f: np.ndarray, train: TaskData, te_f: np.ndarray, img: Sequence[int],
               questions: Sequence[str], types: Sequence[str], c: float) -> list[str]:
    """Answers from a multinomial logistic regression (inverse regularisation ``c``) per
    training question text, fitted on the features of the images that question was asked
    about; question texts with fewer than :data:`MIN_GROUP` training examples fall back to
    a classifier per raw type, and an unseen type to the most frequent training answer."""
    return vqa_logreg_path(tr_f, train, te_f, img, questions, types, [c])[0]


# ----------------------------------------------------------------------------- referring
def _group_key(sentence: str, group: str) -> str:
    """``the <size> <colour> <class> at the <position>`` -> the key of its group."""
    if group == "sentence":
        return sentence
    head, _, pos = sentence.rpartition(" at the ")
    if group == "position":
        return pos
    words = head.split()
    size = words[1] if len(words) > 1 else ""
    return f"{size}|{pos}"


def _ridge_path(x: np.ndarray, y: np.ndarray, xt: np.ndarray, alphas: Sequence[float]
                ) -> list[np.ndarray]:
    """Predictions at ``xt`` of the ridge regressions (with intercept) of ``y`` on ``x``,
    one per ``alpha``, from one thin SVD of the centred ``x``."""
    mx, my = x.mean(0), y.mean(0)
    u, sv, vt = np.linalg.svd(x - mx, full_matrices=False)
    uy = u.T @ (y - my)
    proj = (xt - mx) @ vt.T
    return [proj @ ((sv / (sv ** 2 + a))[:, None] * uy) + my for a in alphas]


def refer_ridge_path(tr_f: np.ndarray, train: TaskData, te_f: np.ndarray,
                     img: Sequence[int], sentences: Sequence[str], alphas: Sequence[float],
                     group: str) -> list[np.ndarray]:
    """:func:`refer_ridge` for several ``alphas`` at once (one array per alpha)."""
    boxes = np.asarray(train.ref_box, dtype=np.float64).reshape(-1, 4)
    rows = np.asarray(train.ref_img)
    members: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(train.ref_sent):
        members[_group_key(s, group)].append(i)
    outs = [np.tile(boxes.mean(0), (len(sentences), 1)) for _ in alphas]
    wanted: dict[str, list[int]] = defaultdict(list)
    for j, s in enumerate(sentences):
        wanted[_group_key(s, group)].append(j)
    for key, js in wanted.items():
        idx = members.get(key, [])
        if not idx:
            continue
        if len(idx) < MIN_GROUP:
            for out in outs:
                out[js] = boxes[idx].mean(0)
            continue
        preds = _ridge_path(tr_f[rows[idx]], boxes[idx], te_f[[img[j] for j in js]], alphas)
        for out, pred in zip(outs, preds, strict=True):
            out[js] = pred
    res = []
    for out in outs:
        lo = np.minimum(out[:, :2], out[:, 2:])
        hi = np.maximum(out[:, :2], out[:, 2:])
        res.append(np.clip(np.concatenate([lo, hi], 1), 0.0, 1.0))
    return res


def refer_ridge(tr_f: np.ndarray, train: TaskData, te_f: np.ndarray, img: Sequence[int],
                sentences: Sequence[str], alpha: float, group: str) -> np.ndarray:
    """(N, 4) boxes (x1, y1, x2, y2 in [0, 1]) from a ridge regression of the training
    boxes per sentence group (``group``: ``sentence``, ``size+position`` or ``position``);
    groups with fewer than :data:`MIN_GROUP` training sentences get the mean training box
    of the group, unseen groups the mean box of all sentences."""
    return refer_ridge_path(tr_f, train, te_f, img, sentences, [alpha], group)[0]


# ---------------------------------------------------------------------------- captioning
def _ngrams(text: str, n_max: int = 4) -> Counter[tuple[str, ...]]:
    w = text.lower().split()
    return Counter(tuple(w[i:i + n]) for n in range(1, n_max + 1) for i in range(len(w) - n + 1))


def caption_knn(tr_f: np.ndarray, captions: Sequence[str], te_f: np.ndarray, k: int
                ) -> list[str]:
    """For each row of ``te_f``, the caption among its ``k`` nearest training rows (squared
    Euclidean distance) sharing the most 1-4-grams with the other ``k - 1`` (ties: the
    nearest); ``k = 1``: the nearest row's caption."""
    d = (te_f ** 2).sum(1)[:, None] - 2 * te_f @ tr_f.T + (tr_f ** 2).sum(1)[None]
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    grams = [_ngrams(c) for c in captions]
    out = []
    for nb in order:
        best, best_s = int(nb[0]), -1.0
        for a in nb:
            s = float(sum(sum((grams[a] & grams[b]).values()) for b in nb if b != a))
            if s > best_s:
                best, best_s = int(a), s
        out.append(captions[best])
    return out


# ------------------------------------------------------------------------------- tuning
def _bleu4(pred: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus BLEU-4 (x100) of whitespace-tokenised lower-case text (the validation score
    of the captioner; the demo reports the published scorer's)."""
    from pycocoevalcap.bleu.bleu import Bleu

    gts = {i: [r.lower()] for i, r in enumerate(refs)}
    res = {i: [p.lower()] for i, p in enumerate(pred)}
    score, _ = Bleu(4).compute_score(gts, res, verbose=0)
    return 100.0 * float(score[3])


def _acc05(pred: np.ndarray, true: Sequence[Sequence[float]]) -> float:
    t = np.asarray(true, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(pred[:, 2], t[:, 2]) - np.maximum(pred[:, 0], t[:, 0]), 0, None)
    ih = np.clip(np.minimum(pred[:, 3], t[:, 3]) - np.maximum(pred[:, 1], t[:, 1]), 0, None)
    inter = iw * ih
    union = ((pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
             + (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1]) - inter)
    return 100.0 * float(np.mean(inter / np.maximum(union, 1e-9) >= 0.5))


def tune(images: np.ndarray, train: TaskData, val_fraction: float = 0.2, seed: int = 0
         ) -> tuple[LinearConfig, dict[str, float]]:
    """Choose :class:`LinearConfig` on a random ``val_fraction`` of the training images
    (fitting on the rest, whose statistics standardise the features): ``cap_pool`` and
    ``k`` by BLEU-4, ``ref_pool``, ``alpha`` and ``group`` by Acc@0.5 (full grids), and
    ``vqa_pool`` and ``C`` by VQA accuracy (full grids). Returns the choice and its
    validation scores (percent)."""
    n = images.shape[0]
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(val_fraction * n)))
    val_rows, fit_rows = set(perm[:n_val].tolist()), set(perm[n_val:].tolist())
    fit, val = train.subset(fit_rows), train.subset(val_rows)
    fit_list = sorted(fit_rows)
    hist = colour_hist(images)
    feats = {p: standardise(np.concatenate([pixels(images[fit_list], p), hist[fit_list]], 1),
                            np.concatenate([pixels(images, p), hist], 1))[1]
             for p in sorted(set(GRID_POOL) | set(GRID_VQA_POOL))}

    def bleu(pool: int, k: int) -> float:
        f = feats[pool]
        c = caption_knn(f[np.asarray(fit.cap_img)], fit.captions, f[val.cap_img], k)
        return _bleu4(c, val.captions)

    def acc05(pool: int, group: str) -> list[float]:
        f = feats[pool]
        return [_acc05(b, val.ref_box) for b in refer_ridge_path(
            f, fit, f, val.ref_img, val.ref_sent, GRID_ALPHA, group)]

    def vqa(pool: int, cs: Sequence[float]) -> list[float]:
        f = feats[pool]
        return [100.0 * float(np.mean([p == t for p, t in zip(a, val.vqa_a, strict=True)]))
                for a in vqa_logreg_path(f, fit, f, val.vqa_img, val.vqa_q, val.vqa_type, cs)]

    cap_pool, k = max(product(GRID_POOL, GRID_K), key=lambda pk: bleu(*pk))
    ref = {(p, a, g): v for p, g in product(GRID_POOL, GRID_GROUP)
           for a, v in zip(GRID_ALPHA, acc05(p, g), strict=True)}
    ref_pool, alpha, group = max(ref, key=lambda pag: ref[pag])
    vq = {(p, c): v for p in GRID_VQA_POOL for c, v in zip(GRID_C, vqa(p, GRID_C), strict=True)}
    vqa_pool, c_best = max(vq, key=lambda pc: vq[pc])
    cfg = LinearConfig(cap_pool, k, ref_pool, alpha, group, vqa_pool, c_best)
    return cfg, {"caption": bleu(cap_pool, k), "refer": ref[(ref_pool, alpha, group)],
                 "vqa": vq[(vqa_pool, c_best)]}


def predict_all(train_images: np.ndarray, train: TaskData, test_images: np.ndarray,
                test: TaskData, cfg: LinearConfig
                ) -> tuple[list[str], np.ndarray, list[str]]:
    """Fit on every training item with ``cfg`` and predict the evaluation items of ``test``
    (its image rows index ``test_images``): captions, (N, 4) boxes and answers."""
    hists = (colour_hist(train_images), colour_hist(test_images))
    tr_f, te_f = image_features(train_images, test_images, cfg.cap_pool, hists)
    caps = caption_knn(tr_f[np.asarray(train.cap_img)], train.captions, te_f[test.cap_img],
                       cfg.k)
    tr_f, te_f = image_features(train_images, test_images, cfg.ref_pool, hists)
    boxes = refer_ridge(tr_f, train, te_f, test.ref_img, test.ref_sent, cfg.alpha, cfg.group)
    tr_f, te_f = image_features(train_images, test_images, cfg.vqa_pool, hists)
    answers = vqa_logreg(tr_f, train, te_f, test.vqa_img, test.vqa_q, test.vqa_type, cfg.C)
    return caps, boxes, answers
