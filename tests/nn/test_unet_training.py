"""Shared nn blocks: the small U-Net and the Lightning trainer defaults."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

from geoneurips.nn.training import make_trainer
from geoneurips.nn.unet import SmallUNet


def test_small_unet_shapes_and_features() -> None:
    net = SmallUNet(3, 5, width=8, depth=2)
    x = torch.randn(2, 3, 32, 32)
    assert net(x).shape == (2, 5, 32, 32)
    assert net.forward_features(x).shape == (2, 8, 32, 32)


class _Fit(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = SmallUNet(1, 2, width=4, depth=1)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def test_make_trainer_trains_on_cpu() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 1, 16, 16, generator=g)
    y = (x[:, 0] > 0.5).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    model = _Fit()
    with torch.no_grad():
        before = nn.functional.cross_entropy(model.net(x), y).item()
    trainer = make_trainer(max_epochs=15)
    trainer.fit(model, loader)
    model.eval()
    with torch.no_grad():
        after = nn.functional.cross_entropy(model.net(x), y).item()
    assert trainer.accelerator.__class__.__name__ == "CPUAccelerator"
    assert after < 0.7 * before


class _Norm(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        return self.net(batch[0]).square().mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=1e-2)


def test_make_trainer_starts_every_fit_in_training_mode() -> None:
    """Lightning >= 2.2 keeps the modes it finds; ``make_trainer`` calls ``train()`` when
    fitting starts, so a module fitted again after ``eval()`` updates its BatchNorm
    statistics (SSDiff's L-BAF trained in eval mode without it); callbacks given by the
    caller are kept next to ours."""
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0)) + 1.0
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x), batch_size=4)
    model = _Norm().eval()
    seen: list[bool] = []

    class Spy(L.Callback):
        def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 batch: object, batch_idx: int) -> None:
            seen.append(pl_module.net[1].training)

    trainer = make_trainer(max_epochs=1, callbacks=[Spy()])
    trainer.fit(model, loader)
    assert seen == [True, True]
    assert not torch.equal(model.net[1].running_mean, torch.zeros(2))
