"""Training of SSDiff: patches, the LightningModule and L-BAF.

- :class:`PatchDataset`: random aligned training patches (PAN/LMS/GT ``P x P``, MS
  ``P / ratio``) cut from a PanCollection file (:class:`~geoneurips.restoration.pansharpening.data.PanCollection`).
- :class:`SSDiffModule`: the LightningModule: residual diffusion loss (L1, ``x0``
  prediction), AdamW (paper: lr 1e-3, no weight decay), EMA of the weights (paper: 0.9999),
  and the training *stage* used by the branch-wise alternating fine-tuning.
- :func:`train_ssdiff`: base training followed by **L-BAF** (paper Sec. 3, "LoRA-like
  branch-wise alternating fine-tuning"): after base training, alternately freeze one branch
  and fine-tune the other at a lower learning rate (paper: 1e-4, 30k iterations per phase),
  with no extra parameters. The released code has no L-BAF implementation (only
  commented-out ``detach`` lines in the fusion attention); we freeze by ``requires_grad``,
  keep the shared modules (time embedding, shared down/up-sampling, APFM's shared
  LayerNorm) frozen during the phases unless ``tune_shared=True`` (they feed both branches,
  so updating them would move the frozen branch too) and keep the frozen branch's
  BatchNorm statistics fixed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from ...errors import InvalidInputError
from .diffusion import ResidualDiffusion
from .model import SSNet, SSNetConfig, branch_parameters

__all__ = ["STAGES", "PatchDataset", "SSDiffModule", "set_stage", "train_ssdiff"]

STAGES = ("base", "spatial", "spectral")

# -------------------------------------------------------------------------------------- data


class PatchDataset(Dataset[dict[str, Tensor]]):
    """Random aligned patches of a reduced-resolution PanCollection dataset.

    All images are loaded once (they must have ``gt``). Item ``i`` is a deterministic
    (``seed``, ``i``) crop: ``gt``, ``lms``, ``pan`` of ``patch x patch`` pixels at a position
    that is a multiple of the ratio, and the matching ``ms`` of ``patch / ratio`` pixels, with
    a random flip/transpose (the 8 dihedral symmetries).

    Args:
        dataset: a PanCollection-like dataset of dicts with ``gt``, ``ms``, ``lms``, ``pan``.
        patch_size: PAN-grid patch size (multiple of ``4 * ratio`` so the U-Net and the MS
            grid fit).
        length: number of items per epoch.
        seed: crop/augmentation seed.
        augment: apply the random dihedral transform.
    """

    def __init__(
        self,
        dataset: Any,
        patch_size: int,
        length: int,
        seed: int = 0,
        augment: bool = True,
    ) -> None:
        samples = [dataset[i] for i in range(len(dataset))]
        if not samples:
            raise InvalidInputError("PatchDataset: the dataset is empty")
        if any("gt" not in s for s in samples):
            raise InvalidInputError(
                "PatchDataset needs reduced-resolution data with 'gt' (a full-resolution "
                "PanCollection file has none)"
            )
        self.gt = torch.stack([s["gt"] for s in samples]).float()
        self.lms = torch.stack([s["lms"] for s in samples]).float()
        self.pan = torch.stack([s["pan"] for s in samples]).float()
        self.ms = torch.stack([s["ms"] for s in samples]).float()
        h = self.pan.shape[-1]
        self.ratio = h // self.ms.shape[-1]
        if patch_size % (4 * self.ratio) or patch_size > min(self.pan.shape[-2:]):
            raise InvalidInputError(
                f"patch_size={patch_size} must be a multiple of {4 * self.ratio} and at most "
                f"the image size {tuple(self.pan.shape[-2:])}"
            )
        self.patch = patch_size
        self.length = int(length)
        self.seed = int(seed)
        self.augment = augment

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        n = int(torch.randint(0, self.gt.shape[0], (1,), generator=g))
        r, p = self.ratio, self.patch
        hmax = (self.pan.shape[-2] - p) // r
        wmax = (self.pan.shape[-1] - p) // r
        i = int(torch.randint(0, hmax + 1, (1,), generator=g)) * r
        j = int(torch.randint(0, wmax + 1, (1,), generator=g)) * r
        out = {
            "gt": self.gt[n, :, i : i + p, j : j + p],
            "lms": self.lms[n, :, i : i + p, j : j + p],
            "pan": self.pan[n, :, i : i + p, j : j + p],
            "ms": self.ms[n, :, i // r : (i + p) // r, j // r : (j + p) // r],
        }
        if self.augment:
            k = int(torch.randint(0, 8, (1,), generator=g))
            out = {key: _dihedral(v, k) for key, v in out.items()}
        return {key: v.contiguous() for key, v in out.items()}


def _dihedral(x: Tensor, k: int) -> Tensor:
    if k & 4:
        x = x.transpose(-2, -1)
    return torch.rot90(x, k & 3, dims=(-2, -1))


# ------------------------------------------------------------------------------------ module


def set_stage(model: SSNet, stage: str, tune_shared: bool = False) -> list[nn.Parameter]:
    """Make only the parameters of ``stage`` trainable and return them.

    ``"base"``: every parameter; ``"spatial"``: the spatial branch (spectral frozen);
    ``"spectral"``: the spectral branch (spatial frozen). ``tune_shared`` adds the shared
    modules to a branch stage.
    """
    if stage not in STAGES:
        raise InvalidInputError(f"stage must be one of {STAGES}, got {stage!r}")
    groups = branch_parameters(model)
    if stage == "base":
        train = [p for g in groups.values() for p in g]
    else:
        train = list(groups[stage]) + (groups["shared"] if tune_shared else [])
    ids = {id(p) for p in train}
    for p in model.parameters():
        p.requires_grad_(id(p) in ids)
    return train


class SSDiffModule(L.LightningModule):
    """LightningModule of SSDiff (residual diffusion, ``x0`` prediction, L1 loss, EMA).

    Args:
        config: the network configuration.
        num_timesteps: diffusion steps ``T`` (1000).
        lr: AdamW learning rate (paper: 1e-3 for base training, 1e-4 for L-BAF).
        weight_decay: AdamW weight decay (paper: 0).
        ema_decay: EMA rate (paper: 0.9999). The effective rate is ``min(ema_decay,
            (1 + n) / (10 + n))`` after ``n`` updates (a warm-up so that short runs are not
            dominated by the initial weights; identical to the paper's rate after ~10^5
            updates).
        stage: ``"base"``, ``"spatial"`` or ``"spectral"`` (see :func:`set_stage`).
        tune_shared: train the shared modules in branch stages.
    """

    def __init__(
        self,
        config: SSNetConfig | None = None,
        num_timesteps: int = 1000,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        ema_decay: float = 0.9999,
        stage: str = "base",
        tune_shared: bool = False,
    ) -> None:
        super().__init__()
        self.config = config or SSNetConfig()
        self.model = SSNet(self.config)
        self.ema = copy.deepcopy(self.model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.diffusion = ResidualDiffusion(num_timesteps)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.ema_decay = float(ema_decay)
        self.ema_updates = 0
        self.tune_shared = tune_shared
        self.losses: list[float] = []
        self.stage = "base"
        self.set_stage(stage)

    def set_stage(self, stage: str, lr: float | None = None) -> None:
        """Switch the trainable branch (and optionally the learning rate)."""
        set_stage(self.model, stage, self.tune_shared)
        self.stage = stage
        if lr is not None:
            self.lr = float(lr)

    def train(self, mode: bool = True) -> SSDiffModule:
        """Training mode except the EMA copy and, in an L-BAF stage, the frozen branch's
        BatchNorm. Every fit starts here (``nn.training.make_trainer``'s callback)."""
        super().train(mode)
        self.ema.eval()
        if mode and self.stage != "base":
            # the frozen branch keeps its BatchNorm statistics
            frozen = "spectral_in" if self.stage == "spatial" else "spatial_in"
            for name, m in self.model.named_modules():
                if name.startswith(frozen) and isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def forward(self, lms: Tensor, pan: Tensor, ms: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        out: Tensor = self.model(lms, pan, ms, x_t, t)
        return out

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.diffusion.training_loss(
            self.model, batch["gt"], batch["lms"], batch["pan"], batch["ms"]
        )
        self.losses.append(float(loss.detach()))
        if self._trainer is not None:  # also callable by hand, outside a Trainer
            self.log("train/loss", loss, prog_bar=True, batch_size=batch["gt"].shape[0])
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)

    @torch.no_grad()
    def update_ema(self) -> None:
        """One EMA update of :attr:`ema` towards :attr:`model` (buffers are copied)."""
        n = self.ema_updates
        decay = min(self.ema_decay, (1.0 + n) / (10.0 + n))
        for pe, pm in zip(self.ema.parameters(), self.model.parameters(), strict=True):
            pe.lerp_(pm.detach(), 1.0 - decay)
        for be, bm in zip(self.ema.buffers(), self.model.buffers(), strict=True):
            be.copy_(bm)
        self.ema_updates += 1

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.update_ema()


def train_ssdiff(
    train: Any,
    *,
    config: SSNetConfig | None = None,
    steps: int = 300,
    batch_size: int = 16,
    patch_size: int = 16,
    lr: float = 1e-3,
    lbaf_steps: int = 0,
    lbaf_rounds: int = 1,
    lbaf_lr: float = 1e-4,
    lbaf_order: Sequence[str] = ("spectral", "spatial"),
    ema_decay: float = 0.9999,
    tune_shared: bool = False,
    seed: int = 0,
    progress: bool = False,
    module: SSDiffModule | None = None,
) -> SSDiffModule:
    """Base training (``steps`` iterations), then L-BAF (``lbaf_rounds`` rounds of
    ``lbaf_steps`` iterations per branch, in ``lbaf_order``).

    Args:
        train: a reduced-resolution PanCollection dataset (values scaled to ``[0, 1]``).
        config: network configuration (default: :meth:`SSNetConfig.tiny` with the data's
            band count).
        steps, batch_size, patch_size, lr: base training (paper: 150k steps on WV3,
            batch 20, 64x64 patches, lr 1e-3).
        lbaf_steps, lbaf_rounds, lbaf_lr, lbaf_order: branch-wise alternating fine-tuning
            (paper: 30k steps per phase at 1e-4); ``lbaf_steps=0`` skips it.
        ema_decay: EMA rate.
        tune_shared: also fine-tune the shared modules in the L-BAF phases.
        seed: seed of the weights, the patches and the diffusion noise.
        progress: show Lightning's progress bar.
        module: continue training this module instead of a fresh one.

    Returns:
        The trained :class:`SSDiffModule` (use ``.ema`` for inference).
    """
    from ...nn.training import make_trainer

    for stage in lbaf_order:
        if stage not in ("spatial", "spectral"):
            raise InvalidInputError(f"lbaf_order holds {stage!r}; use 'spatial'/'spectral'")
    if module is None:
        bands = int(train[0]["ms"].shape[0])
        cfg = config or SSNetConfig.tiny(bands)
        torch.manual_seed(seed)
        module = SSDiffModule(cfg, lr=lr, ema_decay=ema_decay, tune_shared=tune_shared)
    phases: list[tuple[str, int, float]] = [("base", steps, lr)] if steps > 0 else []
    for _ in range(lbaf_rounds if lbaf_steps > 0 else 0):
        phases += [(stage, lbaf_steps, lbaf_lr) for stage in lbaf_order]
    for k, (stage, n_steps, phase_lr) in enumerate(phases):
        module.set_stage(stage, lr=phase_lr)
        data = PatchDataset(train, patch_size, n_steps * batch_size, seed=seed + 7919 * k)
        loader = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0)
        trainer = make_trainer(
            max_epochs=1, max_steps=n_steps, progress=progress, seed=seed + k,
            deterministic=False,
        )
        trainer.fit(module, loader)
    module.set_stage("base")
    module.eval()
    return module
