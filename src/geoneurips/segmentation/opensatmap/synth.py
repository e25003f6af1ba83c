"""Synthetic road scenes with lane annotations in the OpenSatMap JSON schema.

A scene is a top-down tile: textured ground with buildings (hard edges, some bright roofs),
one road of dark asphalt with curbs on both sides (a thin light
curb stone between asphalt and pavement), painted lane lines (white or yellow, solid or
dashed, 1-2 px) and distractors on the road: cars (some white, as bright as paint),
shadows with hard edges and worn paint (gaps in solid lines). Every line is annotated as the
published JSON does (``points`` in pixel coordinates plus the seven attributes); curbs are
``category="Curb"`` with color/line_type/line_num ``"None"``; the yellow centre line that
separates the two driving directions is ``bidirection="True"``.

A paint threshold finds the lane lines but also white cars and roofs; an edge detector
finds curbs but also buildings and shadows: the network has to use context, the claim the
paper's baseline rests on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["render_scene"]


def _dist_to_segment(xx: np.ndarray, yy: np.ndarray, a: np.ndarray, b: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Distance of pixel centres to segment ``a``-``b`` and the arc position along it."""
    d = b - a
    n2 = float(d @ d) or 1.0
    t = np.clip(((xx - a[0]) * d[0] + (yy - a[1]) * d[1]) / n2, 0.0, 1.0)
    px, py = a[0] + t * d[0], a[1] + t * d[1]
    return np.hypot(xx - px, yy - py), t * np.sqrt(n2)


def _clip_line(c: np.ndarray, u: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """End points of the line ``c + s * u`` inside ``[0, size - 1]^2`` (None if it misses)."""
    lo, hi = -1e9, 1e9
    for k in range(2):
        if abs(u[k]) < 1e-9:
            if not 0 <= c[k] <= size - 1:
                return None
            continue
        s0, s1 = (0 - c[k]) / u[k], (size - 1 - c[k]) / u[k]
        lo, hi = max(lo, min(s0, s1)), min(hi, max(s0, s1))
    if hi - lo < 4:
        return None
    return c + lo * u, c + hi * u


def _line_record(p0: np.ndarray, p1: np.ndarray, category: str, color: str, line_type: str,
                 n_points: int = 4, bidirection: str = "False") -> dict[str, Any]:
    pts = [p0 + (p1 - p0) * k / (n_points - 1) for k in range(n_points)]
    return {
        "points": [[round(float(p[0]), 2), round(float(p[1]), 2)] for p in pts],
        "category": category,
        "color": color,
        "line_type": line_type,
        "line_num": "Single" if category == "Lane line" else "None",
        "function": "None",
        "bidirection": bidirection,
        "boundary": "True" if category == "Curb" else "False",
    }


def render_scene(size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One scene: ``(H, W, 3)`` uint8 RGB image and its ``lines`` list (JSON schema)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    ground = np.array([150, 140, 120], float) + rng.normal(0, 12, 3)
    img = np.ones((size, size, 3)) * ground
    img += rng.normal(0, 9, (size, size, 1))
    # buildings: rectangles with hard edges, some with bright roofs
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = rng.integers(0, size - size // 10, 2)
        w, h = rng.integers(size // 12 + 1, size // 3 + 2, 2)
        roof = rng.choice([rng.uniform(60, 120), rng.uniform(215, 245)])
        img[y0:y0 + h, x0:x0 + w] = roof + rng.normal(0, 5, 3)
    lines: list[dict[str, Any]] = []
    for _ in range(1):
        theta = rng.uniform(0, np.pi)
        u = np.array([np.cos(theta), np.sin(theta)])
        nrm = np.array([-u[1], u[0]])
        c = np.array([size / 2, size / 2]) + rng.uniform(-size / 6, size / 6, 2)
        n_lanes = int(rng.integers(2, 4))
        lane_w = rng.uniform(9, 13)
        half = n_lanes * lane_w / 2
        off = (xx - c[0]) * nrm[0] + (yy - c[1]) * nrm[1]
        road = np.abs(off) < half
        asphalt = rng.uniform(55, 85)
        img[road] = asphalt + rng.normal(0, 4, (int(road.sum()), 1))
        stone = (np.abs(off) >= half) & (np.abs(off) < half + 1.3)
        img[stone] = rng.uniform(175, 205)
        for sgn in (-1.0, 1.0):
            ends = _clip_line(c + sgn * half * nrm, u, size)
            if ends is not None:
                lines.append(_line_record(ends[0], ends[1], "Curb", "None", "None"))
        # cars (some white) and shadows on the road
        along = (xx - c[0]) * u[0] + (yy - c[1]) * u[1]
        for _ in range(int(rng.integers(1, 4))):
            s = rng.uniform(-size / 2, size / 2)
            lane = int(rng.integers(0, n_lanes))
            o = -half + (lane + 0.5) * lane_w
            car = (np.abs(along - s) < rng.uniform(4, 7)) & (np.abs(off - o) < lane_w * 0.3)
            col = rng.choice([rng.uniform(225, 250), rng.uniform(30, 120)])
            img[car] = col + rng.normal(0, 3, 3)
        for _ in range(int(rng.integers(0, 3))):
            s = rng.uniform(-size / 2, size / 2)
            sh = (np.abs(along - s) < rng.uniform(3, 10)) & (np.abs(off) < half + 8)
            img[sh] *= 0.55
        for k in range(1, n_lanes):
            o = -half + k * lane_w
            ends = _clip_line(c + o * nrm, u, size)
            if ends is None:
                continue
            yellow = k == n_lanes // 2 and n_lanes > 2 and rng.random() < 0.6
            dashed = not yellow and rng.random() < 0.6
            paint = np.array([235, 200, 40]) if yellow else np.array([240, 240, 235])
            paint = paint * rng.uniform(0.8, 1.0)
            a, b = ends
            dist, arc = _dist_to_segment(xx, yy, a, b)
            width = rng.uniform(0.6, 1.1)
            on = dist < width
            if dashed:
                period, duty = rng.uniform(10, 16), rng.uniform(0.45, 0.6)
                on &= ((arc + rng.uniform(0, period)) % period) < duty * period
            else:
                wear = rng.random(size * 2) < 0.1
                on &= ~wear[np.clip(arc.astype(int), 0, 2 * size - 1)]
            alpha = np.clip(width + 0.5 - dist, 0, 1)[..., None] * on[..., None]
            img = img * (1 - alpha) + alpha * paint
            lines.append(_line_record(a, b, "Lane line", "Yellow" if yellow else "White",
                                      "Dashed" if dashed else "Solid",
                                      bidirection="True" if yellow else "False"))
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), lines
