"""Lightning trainer defaults for every trainable system.

Multi-GPU / multi-node training is only a matter of Trainer flags (``accelerator``,
``devices``, ``num_nodes``, ``strategy``). Defaults are CPU-friendly and quiet so that demos
and tests run on a laptop. One callback is ours: fitting starts with the module's
``train()`` (see :func:`make_trainer`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["make_trainer"]


def make_trainer(
    max_epochs: int = 10,
    *,
    accelerator: str = "cpu",
    devices: int | str = 1,
    progress: bool = False,
    seed: int | None = 0,
    **kwargs: Any,
) -> Any:
    """A ``lightning.Trainer`` with quiet, deterministic CPU defaults.

    Args:
        max_epochs: epochs to train.
        accelerator: ``"cpu"`` by default (never CUDA unless asked); ``"auto"`` or ``"gpu"``
            for accelerators.
        devices: devices per node (``devices=8, strategy="ddp"`` for one 8-GPU node).
        progress: show Lightning's progress bar.
        seed: seed passed to ``lightning.seed_everything`` (``None`` to skip).
        **kwargs: any other ``lightning.Trainer`` argument (``num_nodes``, ``strategy``,
            ``precision``, ``limit_train_batches``...); ``callbacks`` are added to ours.

    Fitting starts by calling the module's ``train()``, as Lightning did before 2.2 (it now
    keeps the modes it finds): a module trained again after ``eval()`` would otherwise train
    with BatchNorm and dropout in eval mode, and a ``train()`` override that keeps a frozen
    part in eval mode would never run. Both happened to SSDiff's L-BAF, which continues the
    module that base training returned in eval mode.
    """
    import logging
    import warnings

    import lightning as L

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Lightning 2.6 warns about its own use of torch's pytree API and about few dataloader
    # workers on small CPU jobs: noise for our users.
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    if seed is not None:
        L.seed_everything(seed, workers=True, verbose=False)

    class _TrainModeAtStart(L.Callback):
        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            pl_module.train()

    defaults: dict[str, Any] = {
        "logger": False,
        "enable_checkpointing": False,
        "enable_model_summary": False,
        "deterministic": "warn",
        "log_every_n_steps": 1,
    }
    callbacks = [_TrainModeAtStart(), *(kwargs.pop("callbacks", None) or [])]
    defaults.update(kwargs)
    return L.Trainer(
        callbacks=callbacks,
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=devices,
        enable_progress_bar=progress,
        **defaults,
    )
