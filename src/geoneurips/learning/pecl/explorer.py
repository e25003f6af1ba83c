"""PECL's conformal pseudo-label explorer and multi-clue selection evaluator (Sec. 3).

The paper (Lu et al., NeurIPS 2024) casts pseudo-label selection as decision making:

- the **exploratory characteristic** of a candidate concatenates its predicted class
  probabilities, its feature similarity to class prototypes clustered online from labelled
  instances (K per class), a conformal confidence (non-conformity against labelled
  calibration instances) and inter-instance context (:func:`candidate_features`);
- the **conformal pseudo-label explorer** is an MLP policy with two actions (select /
  reject; the paper finds 2 better than 1) that maximises the cumulative reward
  (:class:`Explorer`);
- the **multi-clue selection evaluator** scores selections; its reward combines
  information entropy, confidence margin and value binarization, and it is trained with
  experience replay (:class:`Evaluator`, :func:`reward`).

The public repository has no explorer code and the paper's equations were not available to
us (research notes: "exact formulas [NR]"), so the formulas below are our reading, named
as such:

- non-conformity ``s = 1 - q_c`` (``q_c`` the detector's probability of the predicted class
  ``c``), class-conditional split-conformal p-value ``(1 + #{s_cal >= s}) / (n_c + 1)`` over
  the labelled calibration instances of class ``c``;
- the "value" of a candidate is a positive-unlabelled estimate: an L2-regularised logistic
  regression on a class-aligned summary of the characteristic (:func:`value_features`)
  separating candidates that hit held-out labelled calibration instances from the other
  candidates the detector was not trained on (the protocol keeps objects uniformly at
  random, so the calibration objects are a random sample of the true objects and Elkan &
  Noto's ``P(object | x) = P(labelled | x) / c`` holds; candidates repeating a training
  label or an earlier pseudo-label are left out of the fit), and *value binarization* is
  its sign around 0.5;
- reward of selecting: ``r(x, 1) = beta * bin(v) + lam_e * (1 - H(p) / log(C + 1)) +
  lam_m * (p1 - p2) - (lam_e + lam_m) / 2``; rejecting gets ``r(x, 0) = -r(x, 1)``;
- each image is an episode; the evaluator learns ``Q(x, a)`` from a replay buffer and the
  explorer takes greedy policy-improvement steps on it (:func:`train_explorer`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from geoneurips.learning.pecl.detector import Detections
from geoneurips.learning.pecl.metrics import hbb_iou

__all__ = [
    "Evaluator",
    "Explorer",
    "ExplorerConfig",
    "OnlinePrototypes",
    "candidate_features",
    "conformal_pvalues",
    "context_features",
    "reward",
    "train_explorer",
    "value_estimator",
    "value_features",
]


@dataclass(frozen=True)
class ExplorerConfig:
    """Explorer / evaluator settings (our defaults; the paper's are [NR])."""

    prototypes_per_class: int = 3
    hidden: int = 64
    episodes: int = 400
    replay_size: int = 4096
    batch_size: int = 128
    lr: float = 3e-3
    beta: float = 1.0
    lam_entropy: float = 0.25
    lam_margin: float = 0.25
    context_radius: float = 16.0
    value_c: float = 1.0
    epsilon: float = 0.2
    critic_steps: int = 4
    warmup: int = 50
    entropy_bonus: float = 0.05


class OnlinePrototypes:
    """K prototypes per class, updated online (sequential k-means) from labelled embeddings."""

    def __init__(self, num_classes: int, k: int, dim: int, seed: int = 0) -> None:
        self.k = k
        self.centres = np.zeros((num_classes, k, dim))
        self.counts = np.zeros((num_classes, k))
        self.rng = np.random.default_rng(seed)

    def update(self, embeds: np.ndarray, labels: np.ndarray) -> None:
        """One pass of online k-means: each embedding moves its nearest prototype by 1/n."""
        for i in self.rng.permutation(len(embeds)):
            c, e = int(labels[i]), embeds[i]
            empty = np.flatnonzero(self.counts[c] == 0)
            j = int(empty[0]) if len(empty) else int(np.argmax(self.centres[c] @ e))
            self.counts[c, j] += 1
            self.centres[c, j] += (e - self.centres[c, j]) / self.counts[c, j]

    def similarity(self, embeds: np.ndarray) -> np.ndarray:
        """``[N, C]``: the largest cosine similarity to each class's prototypes."""
        norm = self.centres / np.maximum(np.linalg.norm(self.centres, axis=-1, keepdims=True),
                                         1e-8)
        sim = np.einsum("nd,ckd->nck", embeds, norm)
        sim = np.where(self.counts[None] > 0, sim, -1.0)
        return np.asarray(sim.max(axis=2))


def conformal_pvalues(
    cal_scores: Sequence[np.ndarray], scores: np.ndarray, labels: np.ndarray
) -> np.ndarray:
    """Class-conditional split-conformal p-values.

    ``cal_scores[c]`` are the non-conformity scores of class ``c``'s calibration instances;
    ``p = (1 + #{s_cal >= s}) / (n_c + 1)`` (1.0 for a class without calibration data).
    """
    out = np.ones(len(scores))
    for i, (s, c) in enumerate(zip(scores, labels, strict=True)):
        cal = np.asarray(cal_scores[int(c)])
        if len(cal):
            out[i] = (1.0 + np.sum(cal >= s)) / (len(cal) + 1.0)
    return out


def context_features(det: Detections, radius: float) -> np.ndarray:
    """Inter-instance context per candidate, ``[N, 3]``: score-weighted count and mean score
    of same-class candidates within ``radius`` px, and the candidate's rank in its class."""
    n = len(det.scores)
    out = np.zeros((n, 3))
    if n == 0:
        return out
    ctr = np.stack([(det.boxes[:, 0] + det.boxes[:, 2]) / 2,
                    (det.boxes[:, 1] + det.boxes[:, 3]) / 2], 1)
    d = np.linalg.norm(ctr[:, None] - ctr[None], axis=-1)
    same = (det.labels[:, None] == det.labels[None]) & (d < radius) & ~np.eye(n, dtype=bool)
    w = same * det.scores[None]
    out[:, 0] = w.sum(1)
    out[:, 1] = np.where(same.sum(1) > 0, w.sum(1) / np.maximum(same.sum(1), 1), 0.0)
    for c in np.unique(det.labels):
        m = np.flatnonzero(det.labels == c)
        order = np.argsort(-det.scores[m])
        out[m[order], 2] = np.arange(len(m)) / max(len(m), 1)
    return out


def candidate_features(
    det: Detections, protos: OnlinePrototypes, cal_scores: Sequence[np.ndarray], radius: float
) -> np.ndarray:
    """The exploratory characteristic of each candidate of one image, ``[N, 2C + 7]``:
    probabilities (``C`` classes + background ``1 - max``), normalised entropy, margin,
    prototype similarities (``C``), conformal p-value, context (3)."""
    n = len(det.scores)
    q = det.probs
    p = np.concatenate([q, 1 - q.max(1, keepdims=True)], 1) if n else np.zeros((0, 1))
    p = p / np.maximum(p.sum(1, keepdims=True), 1e-8)
    c1 = p.shape[1]
    ent = -(p * np.log(np.maximum(p, 1e-12))).sum(1) / np.log(c1) if n else np.zeros(0)
    srt = np.sort(p, 1) if n else np.zeros((0, 2))
    margin = srt[:, -1] - srt[:, -2] if n else np.zeros(0)
    pval = conformal_pvalues(cal_scores, 1 - det.scores, det.labels)
    return np.concatenate([
        p, ent[:, None], margin[:, None], protos.similarity(det.embed), pval[:, None],
        context_features(det, radius)], 1)


def reward(
    value: np.ndarray, entropy: np.ndarray, margin: np.ndarray, config: ExplorerConfig
) -> np.ndarray:
    """Reward of *selecting* each candidate (rejecting gets the negative): value
    binarization ``sign(v - 0.5)``, low entropy and a large confidence margin are good."""
    binar = np.where(value >= 0.5, 1.0, -1.0)
    return np.asarray(
        config.beta * binar + config.lam_entropy * (1 - entropy) + config.lam_margin * margin
        - (config.lam_entropy + config.lam_margin) / 2)


def value_features(feats: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The class-aligned summary of a characteristic that the value estimate fits, ``[N, 8 +
    C]``: logit of the predicted-class probability, normalised entropy, margin, similarity to
    the predicted class's prototypes, conformal p-value, context (3), class one-hot.

    (Our choice. The raw characteristic has ``2C + 7`` class-indexed columns; a positive-
    unlabelled fit on the few dozen calibration hits of a 5 % label rate overfits them, and
    its cross-fitted ranking was worse than the detector score alone on development seeds
    10-12.)
    """
    c = num_classes
    n = len(labels)
    rows = np.arange(n)
    q = np.clip(feats[rows, labels], 1e-4, 1 - 1e-4)
    return np.concatenate([
        np.log(q / (1 - q))[:, None], feats[:, c + 1:c + 3], feats[rows, c + 3 + labels][:, None],
        feats[:, 2 * c + 3:2 * c + 7], np.eye(c)[labels]], 1)


def _mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                         nn.ReLU(), nn.Linear(hidden, out))


def value_estimator(
    x: np.ndarray, known: np.ndarray, c_reg: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Positive-unlabelled value ``v = P(object | x)`` of each candidate (Elkan & Noto 2008).

    ``known`` marks candidates that hit held-out labelled calibration instances. An
    L2-regularised logistic regression (inverse strength ``c_reg``) learns
    ``g = P(known | x)`` with 2-fold cross-fitting (no candidate is scored by a model that
    saw its own label); ``c`` is the mean ``g`` on the known positives and
    ``v = clip(g / c, 0, 1)``. (A small MLP overfits the few dozen known positives of a
    5 % label rate: its cross-fitted ranking was near chance on the demo scenes.)
    """
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    xs = (x - x.mean(0)) / (x.std(0) + 1e-6)
    folds = rng.integers(0, 2, len(x))
    g = np.zeros(len(x))
    for f in (0, 1):
        tr = folds != f
        if known[tr].all() or not known[tr].any():
            g[~tr] = float(known[tr].mean()) if tr.any() else 0.0
            continue
        model = LogisticRegression(C=c_reg, max_iter=1000).fit(xs[tr], known[tr])
        g[~tr] = model.predict_proba(xs[~tr])[:, 1]
    c = float(g[known].mean()) if known.any() else 1.0
    return np.asarray(np.clip(g / max(c, 1e-6), 0.0, 1.0))


class Explorer(nn.Module):
    """The conformal pseudo-label explorer: an MLP policy over (reject, select)."""

    def __init__(self, dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = _mlp(dim, hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.net(x))


class Evaluator(nn.Module):
    """The multi-clue selection evaluator: ``Q(x, a)`` for both actions."""

    def __init__(self, dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = _mlp(dim, hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.net(x))


def train_explorer(
    episodes: Sequence[np.ndarray], rewards: Sequence[np.ndarray], config: ExplorerConfig,
    seed: int = 0,
) -> tuple[Explorer, Evaluator, tuple[np.ndarray, np.ndarray]]:
    """Actor-critic with experience replay over image episodes.

    Each episode is one image's candidates (features ``[N, F]``); the explorer samples an
    action per candidate (uniformly random with probability ``epsilon``), the environment returns ``r(x, a)`` (:func:`reward`; ``-r`` for
    reject), transitions go to a FIFO replay buffer, the evaluator regresses ``Q(x, a)`` on
    replayed transitions (``critic_steps`` per episode, alone for the first ``warmup``
    episodes) and the explorer takes a greedy policy-improvement step towards
    ``argmax_a Q(x, a)``, weighted by the action gap ``|Q(x, 1) - Q(x, 0)|``, with an entropy
    bonus. (Our choice: a plain policy-gradient actor collapsed to reject-all when fewer
    than one candidate in ten deserved selection.) Returns the explorer, the
    evaluator and the feature normalisation ``(mean, std)``.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    allx = np.concatenate(list(episodes), 0)
    mu, sd = allx.mean(0), allx.std(0) + 1e-6
    dim = allx.shape[1]
    actor, critic = Explorer(dim, config.hidden), Evaluator(dim, config.hidden)
    oa = torch.optim.Adam(actor.parameters(), lr=config.lr)
    oc = torch.optim.Adam(critic.parameters(), lr=config.lr)
    replay: deque[tuple[np.ndarray, int, float]] = deque(maxlen=config.replay_size)
    for episode in range(config.episodes):
        e = int(rng.integers(len(episodes)))
        if len(episodes[e]) == 0:
            continue
        x = torch.from_numpy((episodes[e] - mu) / sd).float()
        with torch.no_grad():
            a = torch.distributions.Categorical(
                logits=actor(x)).sample().numpy()  # type: ignore[no-untyped-call]
        explore_ = rng.random(len(a)) < config.epsilon  # keeps both actions in the replay
        a = np.where(explore_, rng.integers(0, 2, len(a)), a)
        r = np.where(a == 1, rewards[e], -rewards[e])
        replay.extend(zip(x.numpy(), a.tolist(), r.tolist(), strict=True))
        for _ in range(config.critic_steps):
            batch = [replay[i] for i in rng.integers(0, len(replay), config.batch_size)]
            bx = torch.from_numpy(np.stack([b[0] for b in batch]))
            ba = torch.tensor([b[1] for b in batch])
            br = torch.tensor([b[2] for b in batch], dtype=torch.float32)
            q = critic(bx).gather(1, ba[:, None]).squeeze(1)
            lc = F.mse_loss(q, br)
            oc.zero_grad()
            lc.backward()  # type: ignore[no-untyped-call]
            oc.step()
        if episode < config.warmup:
            continue  # the evaluator learns first, so the explorer does not collapse early
        logits = actor(bx)
        with torch.no_grad():
            qa = critic(bx)
            target = qa.argmax(1)
            gap = (qa[:, 1] - qa[:, 0]).abs()
        # greedy policy improvement on the evaluator's Q, weighted by the action gap
        la = (F.cross_entropy(logits, target, reduction="none") * gap).mean()
        pi = logits.softmax(1)
        ent = -(pi * logits.log_softmax(1)).sum(1).mean()
        la = la - config.entropy_bonus * ent
        oa.zero_grad()
        la.backward()
        oa.step()
    return actor, critic, (mu, sd)


@torch.no_grad()
def explore(actor: Explorer, norm: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The explorer's greedy decisions (True = select) for candidates ``x``."""
    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    logits = actor(torch.from_numpy((x - norm[0]) / norm[1]).float())
    return np.asarray(logits.argmax(1).numpy() == 1)


def match_known(det: Detections, boxes: np.ndarray, labels: np.ndarray,
                thr: float = 0.5, any_class: bool = False) -> np.ndarray:
    """Candidates whose box hits a same-class box of ``boxes`` (any box with ``any_class``)
    with IoU > ``thr``."""
    out = np.zeros(len(det.scores), dtype=bool)
    for i, (b, c) in enumerate(zip(det.boxes, det.labels, strict=True)):
        m = np.ones(len(labels), bool) if any_class else labels == c
        if m.any():
            out[i] = bool(hbb_iou(b, boxes[m], 0.0).max() > thr)
    return out
