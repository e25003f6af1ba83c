"""The MMM-RS demo's frozen judge: which GSD level and which weather does an image show?

GSD is metres per pixel: the same town at a coarser GSD shows smaller parcels, roads and
roofs, i.e. more of its contrast at high spatial frequencies. Weather changes colour and
contrast (fog: bright and flat; low light: dark and noisy; snow: white cover). The judge
therefore reads

- colour: per-band mean and standard deviation, and the mean absolute gradient (log);
- scale: the radial power spectrum of the contrast-normalised grey image (log power in 8
  frequency rings), whose profile over the rings does not depend on brightness (up to one
  constant from the contrast floor), so a dark (low-light) image's scale is read too;

and fits one multinomial logistic regression per attribute (standardised features, L2,
full-batch L-BFGS) on **real renders of other scenes**. It is frozen afterwards and judges
real test renders (its ceiling), generated images and every baseline alike.

The same features give the demo's feature-space Frechet distance (FID's formula on these
features, used when torch-fidelity's Inception weights are absent) and an Inception-Score-
style score on the judge's joint (GSD x weather) posterior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["FeatureJudge", "judge_features", "train_judge"]

_RINGS = 8


def judge_features(images: Tensor) -> Tensor:
    """Colour and scale features ``(N, 3 + 3 + 3 + 8)`` of images ``(N, 3, H, W)`` in [0, 1]."""
    x = images.clamp(0, 1).double()
    mean, std = x.mean((2, 3)), x.std((2, 3))
    grad = ((x[..., 1:] - x[..., :-1]).abs().mean((2, 3))
            + (x[..., 1:, :] - x[..., :-1, :]).abs().mean((2, 3)))
    grey = x.mean(1)
    grey = (grey - grey.mean((1, 2), keepdim=True)) / (grey.std((1, 2), keepdim=True) + 0.02)
    power = torch.fft.fft2(grey).abs() ** 2
    fy = torch.fft.fftfreq(grey.shape[-2], dtype=torch.float64)
    fx = torch.fft.fftfreq(grey.shape[-1], dtype=torch.float64)
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    edges = torch.linspace(0, float(radius.max()) + 1e-9, _RINGS + 1, dtype=torch.float64)
    rings = torch.stack([power[:, (radius >= edges[i]) & (radius < edges[i + 1])].mean(1)
                         for i in range(_RINGS)], 1)
    return torch.cat([mean, std, torch.log(grad + 1e-3), torch.log(rings + 1e-3)], 1)


def _fit(feats: Tensor, labels: Tensor, classes: int, l2: float, iters: int) -> Tensor:
    """Multinomial logistic regression weights ``(F + 1, classes)`` by full-batch L-BFGS."""
    w = torch.zeros(feats.shape[1] + 1, classes, dtype=torch.float64, requires_grad=True)
    xb = torch.cat([feats, torch.ones(len(feats), 1, dtype=torch.float64)], 1)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=iters, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xb @ w, labels) + l2 * (w[:-1] ** 2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return w.detach()


@dataclass(frozen=True)
class FeatureJudge:
    """A frozen two-head (GSD level, weather) logistic regression on :func:`judge_features`."""

    mean: Tensor
    scale: Tensor
    w_gsd: Tensor
    w_weather: Tensor

    def standardised(self, images: Tensor) -> Tensor:
        """Standardised features (the space of the Frechet distance)."""
        return (judge_features(images) - self.mean) / self.scale

    def logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """GSD-level and weather logits."""
        f = self.standardised(images)
        fb = torch.cat([f, torch.ones(len(f), 1, dtype=f.dtype)], 1)
        return fb @ self.w_gsd, fb @ self.w_weather

    def predict(self, images: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Predicted GSD level and weather index of each image."""
        lg, lw = self.logits(images)
        return lg.argmax(1).numpy(), lw.argmax(1).numpy()

    def joint_logits(self, images: Tensor) -> Tensor:
        """Log-posterior of the (GSD level, weather) pair, ``(N, levels * weathers)``."""
        lg, lw = self.logits(images)
        lp = torch.log_softmax(lg, 1)[:, :, None] + torch.log_softmax(lw, 1)[:, None, :]
        return lp.flatten(1).float()


def train_judge(images: Tensor, gsd: Tensor, weather: Tensor, levels: int, weathers: int,
                l2: float = 1e-3, iters: int = 200) -> FeatureJudge:
    """Fit the judge on real renders (labels: GSD level index, weather index)."""
    f = judge_features(images)
    mean, scale = f.mean(0), f.std(0).clamp_min(1e-6)
    z = (f - mean) / scale
    return FeatureJudge(mean, scale, _fit(z, gsd.long(), levels, l2, iters),
                        _fit(z, weather.long(), weathers, l2, iters))
