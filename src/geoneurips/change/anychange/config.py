"""AnyChange hyper-parameters (Sec. 3.2-3.3, Sec. 4) and the angle/cosine conversions.

The change threshold ``theta`` and the point query's object threshold are given as angles in
degrees; the matching compares cosines (a change needs ``-cos(x_1, x_2) > cos(theta)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from geoneurips.errors import InvalidInputError

__all__ = ["AnyChangeConfig", "angle_to_cosine", "cosine_to_angle"]


def angle_to_cosine(angle: float) -> float:
    """``cos`` of an angle in degrees (``0 <= angle <= 180``)."""
    if not 0.0 <= angle <= 180.0:
        raise InvalidInputError(f"angle must be in [0, 180] degrees, got {angle}")
    return math.cos(math.radians(angle))


def cosine_to_angle(cosine: float) -> float:
    """Angle in degrees of a cosine in ``[-1, 1]``."""
    return math.degrees(math.acos(max(-1.0, min(1.0, float(cosine)))))



@dataclass(frozen=True)
class AnyChangeConfig:
    """Hyper-parameters, paper/public-code defaults (Sec. 3.2-3.3, Sec. 4 "implementation").

    Attributes:
        points_per_side: side of the regular point grid prompting SAM (32 -> 1024 points).
        points_per_batch: points decoded at once (memory only).
        pred_iou_thresh: keep masks with SAM's predicted IoU above this (0.5).
        stability_score_thresh: keep masks with stability score at least this (0.95).
        stability_score_offset: logit offset of the stability score (1.0).
        box_nms_thresh: box IoU of the NMS inside a date and of the final merge (0.7).
        area_thresh: drop proposals covering this fraction of the image or more (0.8).
        change_confidence_threshold: ``theta`` in degrees; a change needs ``-cos > cos(theta)``
            (155; the README of the public code uses 145).
        auto_threshold: choose ``theta`` by Otsu on the per-pixel ``-cos`` map.
        otsu_bins: histogram bins of the Otsu threshold.
        use_normalized_feature: undo the neck's last LayerNorm affine before matching.
        bitemporal_match: match proposals of both dates (paper); else only date 2's.
        match_hist: histogram-match image 2 to image 1 first.
        object_sim_thresh: angle (degrees) of the point query's object map (60).
        query_area_range: a proposal must have ``lo |q| < area < hi |q|`` (0.25, 4).
        top_k: number of change masks kept after the merge (1000).
    """

    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.5
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    area_thresh: float = 0.8
    change_confidence_threshold: float = 155.0
    auto_threshold: bool = False
    otsu_bins: int = 256
    use_normalized_feature: bool = True
    bitemporal_match: bool = True
    match_hist: bool = False
    object_sim_thresh: float = 60.0
    query_area_range: tuple[float, float] = (0.25, 4.0)
    top_k: int = 1000

    def __post_init__(self) -> None:
        if self.points_per_side < 1 or self.points_per_batch < 1 or self.top_k < 1:
            raise InvalidInputError("points_per_side, points_per_batch and top_k must be >= 1")
        for name in ("change_confidence_threshold", "object_sim_thresh"):
            v = getattr(self, name)
            if not 0.0 <= v <= 180.0:
                raise InvalidInputError(f"{name} must be an angle in [0, 180], got {v}")
        if not 0.0 < self.area_thresh <= 1.0:
            raise InvalidInputError(f"area_thresh must be in (0, 1], got {self.area_thresh}")

    @classmethod
    def tiny(cls, **overrides: Any) -> AnyChangeConfig:
        """A small configuration for tests with a random SAM (4 x 4 grid, no score filters).

        A randomly initialised SAM predicts meaningless IoUs and unstable masks, so the
        thresholds are opened (0) to let proposals reach the matching stage.
        """
        base: dict[str, Any] = dict(
            points_per_side=4, points_per_batch=16, pred_iou_thresh=0.0,
            stability_score_thresh=0.0, top_k=100,
        )
        base.update(overrides)
        return cls(**base)
