"""Deterministic seeding for numpy, Python and (if imported) torch, and torch's thread count.

A float sum's order depends on how many intra-op threads split it, so a network trained on
two threads ends elsewhere than on one or sixteen (FUSU's full demo lead: 0.063 SeK with
two threads after other demos in the same process, 0.101 fresh on one thread). Demos that
must decide the same on any machine train and evaluate inside :func:`single_thread`.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import numpy as np

__all__ = ["seed_everything", "single_thread", "torch_threads", "worker_threads"]


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python, numpy and torch (when torch is importable); return a numpy Generator."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - libraries still use the global RNG
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "torch" in sys.modules or _torch_available():
        import torch

        torch.manual_seed(seed)
    return np.random.default_rng(seed)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads; restore the caller's count on exit,
    also when the block raises. Nests (each level restores what it found).

    Only the intra-op count is set: it splits each operator's work, hence the order of its
    float sums. The inter-op pool is left alone: ``torch.set_num_interop_threads`` may be
    called once per process, before any inter-op work, and raises after that, so it cannot
    be restored; it runs independent operators side by side and does not reorder a sum.
    What this does not cover: a different CPU instruction set (AVX2 vs AVX-512 kernels) can
    still change the last bits, so demo margins keep room to spare.

    torch is imported when the block is entered, not when this module is.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"thread count must be a positive int, got {n!r}")
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def worker_threads(n: int) -> None:
    """Set the intra-op thread count of a fresh worker process for good (the initializer of
    :func:`geoneurips.parallel.run_jobs`' workers: the process only runs jobs, so there is
    no caller's count to restore)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"thread count must be a positive int, got {n!r}")
    import torch

    torch.set_num_threads(n)


def single_thread() -> AbstractContextManager[None]:
    """:func:`torch_threads` with one thread: the same float order on any core count."""
    return torch_threads(1)


def _torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None
