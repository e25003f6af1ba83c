"""SSDiff's training, inference and demo, re-exported from the modules that hold them.

- :mod:`.training`: :class:`PatchDataset`, :class:`SSDiffModule` (LightningModule),
  :func:`set_stage`, :func:`train_ssdiff` (base training + L-BAF);
- :mod:`.inference`: :class:`SamplingConfig`, :class:`SSDiffPansharpener` (tiled DDIM
  inference, identical whatever the windowing), checkpoints (:func:`save_checkpoint`,
  :func:`load_model`, :func:`load_pansharpener`);
- :mod:`.baselines`: the PanNet-style CNN the demo compares with;
- :mod:`.demo`: :func:`evaluate`, :func:`demo`.

Every name keeps its old import path ``geoneurips.restoration.ssdiff.pipeline.<name>``.
"""

from __future__ import annotations

from .demo import DEMO_MARGIN, demo, evaluate
from .inference import (
    CHECKPOINT_FORMAT,
    SamplingConfig,
    SSDiffPansharpener,
    load_model,
    load_pansharpener,
    save_checkpoint,
)
from .training import STAGES, PatchDataset, SSDiffModule, set_stage, train_ssdiff

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEMO_MARGIN",
    "STAGES",
    "PatchDataset",
    "SSDiffModule",
    "SSDiffPansharpener",
    "SamplingConfig",
    "demo",
    "evaluate",
    "load_model",
    "load_pansharpener",
    "save_checkpoint",
    "set_stage",
    "train_ssdiff",
]
