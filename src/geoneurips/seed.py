"""Deterministic seeding for numpy, Python and (if imported) torch."""

from __future__ import annotations

import os
import random
import sys

import numpy as np

__all__ = ["seed_everything"]


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python, numpy and torch (when torch is importable); return a numpy Generator."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - libraries still use the global RNG
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "torch" in sys.modules or _torch_available():
        import torch

        torch.manual_seed(seed)
    return np.random.default_rng(seed)


def _torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None
