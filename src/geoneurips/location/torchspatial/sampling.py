"""Class-balanced epoch sampler of the TorchSpatial location-prior training.

The public training loop (``main/trainer.py`` with ``--balanced_train_loader``, sampler
``BalancedSampler`` in ``main/utils.py``) caps the examples of every class at
``max_num_exs_per_class`` (100 by default) per epoch: each epoch draws, for every class, at
most that many of its examples without replacement (or exactly that many with replacement),
then shuffles all of them. Rare classes thus keep all their examples while frequent ones are
subsampled afresh each epoch (Mac Aodha et al., ICCV 2019, Sec. 4: "balanced sampling").
This is our own implementation of that behaviour; it draws from a ``torch.Generator`` so
runs are reproducible (the public one uses numpy's global state).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Sampler

from geoneurips.errors import InvalidInputError

__all__ = ["ClassBalancedSampler"]


class ClassBalancedSampler(Sampler[int]):
    """Indices of at most ``max_per_class`` examples per class per epoch, shuffled.

    Args:
        labels: ``(N,)`` integer class ids of the training examples.
        max_per_class: cap per class and epoch (public default 100).
        replacement: draw exactly ``max_per_class`` per class with replacement (public
            ``use_replace=True``) instead of ``min(n_c, max_per_class)`` without.
        generator: random generator (default: a fresh one seeded from torch's global RNG).

    Raises:
        InvalidInputError: empty or non-1-D labels, or ``max_per_class < 1``.
    """

    def __init__(
        self,
        labels: npt.ArrayLike,
        max_per_class: int = 100,
        *,
        replacement: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        y = np.asarray(labels)
        if y.ndim != 1 or y.size == 0:
            raise InvalidInputError(f"labels must be a non-empty 1-D array, got shape {y.shape}")
        if max_per_class < 1:
            raise InvalidInputError(f"max_per_class must be >= 1, got {max_per_class}")
        order = np.argsort(y, kind="stable")
        classes, starts = np.unique(y[order], return_index=True)
        self.groups = [torch.from_numpy(g.astype(np.int64))
                       for g in np.split(order, starts[1:])]
        self.classes = classes
        self.max_per_class = int(max_per_class)
        self.replacement = replacement
        self.generator = generator

    def __len__(self) -> int:
        if self.replacement:
            return self.max_per_class * len(self.groups)
        return int(sum(min(len(g), self.max_per_class) for g in self.groups))

    def __iter__(self) -> Iterator[int]:
        gen = self.generator
        if gen is None:
            gen = torch.Generator()
            gen.manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
        picks = []
        for g in self.groups:
            if self.replacement:
                picks.append(g[torch.randint(len(g), (self.max_per_class,), generator=gen)])
            else:
                picks.append(g[torch.randperm(len(g), generator=gen)[: self.max_per_class]])
        every = torch.cat(picks)
        every = every[torch.randperm(len(every), generator=gen)]
        return iter(every.tolist())
