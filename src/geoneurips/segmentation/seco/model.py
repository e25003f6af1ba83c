"""SeCo: Semantic Connectivity-driven pseudo-labelling (Zhao et al., NeurIPS 2024).

SeCo refines the pixel pseudo-labels of any segmentation model (UDA, source-free UDA,
domain generalisation) at the level of *connected components* in two stages:

* **Pixel Semantic Aggregation, PSA** (Sec. 3.2, public code ``PSA/seco_sam.py``;
  :mod:`.psa`): stuff classes are aggregated into the segments of SAM's automatic mask
  generator (share > 0.20, else ignore); every thing component prompts SAM with its
  unclipped minimum-area box and its lowest-spatial-purity points, and the returned mask
  is painted over the stuff.
* **Semantic Connectivity Correction, SCC** (Sec. 3.3, public code ``SCC/``;
  :mod:`.connectivity`, :mod:`.scc`): every 8-connected component of the PSA labels is
  classified by a mask-guided connectivity classifier trained on them; components whose
  loss exceeds the loss thresholds (default ``both_loss``) become ignore (255), kept ones
  take the predicted class.

Back ends (:mod:`.backends`): :class:`SamSegments`/:class:`SamPrompter` on any SAM, and
SAM-free ones (:class:`FelzenszwalbSegments`, :class:`SlicSegments`,
:class:`RegionGrowPrompter`). The deliberate differences from the public code are listed
in the docstrings of :mod:`.psa`, :mod:`.connectivity` and :mod:`.scc`.

This module holds :class:`SeCo` (the whole method) and re-exports every component, so
``from geoneurips.segmentation.seco.model import ...`` gives all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from ...errors import InvalidInputError
from .backends import (
    FelzenszwalbSegments,
    Prompter,
    RegionGrowPrompter,
    SamPrompter,
    SamSegments,
    SegmentGenerator,
    SlicSegments,
)
from .connectivity import (
    Component,
    ConnectivityClassifier,
    crop_region,
    extract_components,
)
from .connectivity import component_noise_report as component_noise_report
from .connectivity import make_crops as make_crops
from .psa import (
    PixelSemanticAggregation,
    PSAConfig,
    min_area_rect,
    prompt_box,
    prompt_points,
    spatial_purity,
)
from .psa import psa_tiny_sam as psa_tiny_sam
from .scc import (
    FILTER_MODES,
    ConnectivityRecord,
    SCCConfig,
    SemanticConnectivityCorrection,
    apply_correction,
    connectivity_thresholds,
    quantile_threshold,
)
from .scc import FilterMode as FilterMode
from .scc import keep_mask as keep_mask

__all__ = [
    "FILTER_MODES",
    "Component",
    "ConnectivityClassifier",
    "ConnectivityRecord",
    "FelzenszwalbSegments",
    "PixelSemanticAggregation",
    "Prompter",
    "PSAConfig",
    "RegionGrowPrompter",
    "SCCConfig",
    "SamPrompter",
    "SamSegments",
    "SeCo",
    "SegmentGenerator",
    "SemanticConnectivityCorrection",
    "SlicSegments",
    "apply_correction",
    "connectivity_thresholds",
    "crop_region",
    "extract_components",
    "min_area_rect",
    "prompt_box",
    "prompt_points",
    "quantile_threshold",
    "spatial_purity",
]

class SeCo:
    """The whole method: PSA then SCC on a set of images and their pseudo-labels.

    Args:
        psa: :class:`PixelSemanticAggregation`.
        scc: :class:`SemanticConnectivityCorrection` (``None``: PSA only).

    Example:
        >>> seco = SeCo.pluggable(7, LOVEDA_STUFF, LOVEDA_THINGS, SCCConfig.tiny())
        >>> refined, info = seco([image], [pseudo])
    """

    def __init__(self, psa: PixelSemanticAggregation,
                 scc: SemanticConnectivityCorrection | None = None) -> None:
        self.psa = psa
        self.scc = scc

    @classmethod
    def pluggable(cls, num_classes: int, stuff: Sequence[int], things: Sequence[int],
                  scc_config: SCCConfig | None = None, psa_config: PSAConfig | None = None,
                  segments: SegmentGenerator | None = None) -> SeCo:
        """SAM-free SeCo (Felzenszwalb segments, region-growing prompter)."""
        psa = PixelSemanticAggregation(num_classes, stuff, things, segments=segments,
                                       config=psa_config)
        return cls(psa, SemanticConnectivityCorrection(num_classes, scc_config))

    @classmethod
    def from_sam(cls, sam: nn.Module, num_classes: int, stuff: Sequence[int],
                 things: Sequence[int], scc_config: SCCConfig | None = None,
                 psa_config: PSAConfig | None = None, **amg_kwargs: Any) -> SeCo:
        """SeCo on a SAM model (``build_sam(type, local checkpoint)`` or the tiny SAM)."""
        psa = PixelSemanticAggregation(
            num_classes, stuff, things, segments=SamSegments(sam, **amg_kwargs),
            prompter=SamPrompter(sam), config=psa_config,
        )
        return cls(psa, SemanticConnectivityCorrection(num_classes, scc_config))

    def __call__(self, images: Sequence[np.ndarray], pseudo: Sequence[np.ndarray],
                 progress: bool = False) -> tuple[list[np.ndarray], dict[str, Any]]:
        """Refined labels (int64, 255 ignore) and ``{"psa": [...], "record": ...}``."""
        if len(images) != len(pseudo):
            raise InvalidInputError(f"{len(images)} images but {len(pseudo)} pseudo-labels")
        from tqdm.auto import tqdm

        psa = [self.psa(im, ps) for im, ps in
               tqdm(list(zip(images, pseudo, strict=True)), desc="PSA", disable=not progress)]
        if self.scc is None:
            return psa, {"psa": psa, "record": None}
        out, rec = self.scc(images, psa, progress=progress)
        return out, {"psa": psa, "record": rec}
