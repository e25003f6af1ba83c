"""Rasterising OpenSatMap annotations the way the released preparation tools do.

The reference tools (``prepare_data/tools-release``, ``generate_GT_multiclass_only-multi.py``
and ``generate_GT_direction_tag-multi.py``) turn the annotation JSON into label images. We
re-implement them (no code copied) with these conventions:

* every polyline is drawn 1 px wide with OpenCV's 8-connected line iterator
  (``cv2.polylines(..., thickness=1)``) after truncating the float points to ``int32``;
  :func:`line_pixels` reproduces that iterator exactly for in-image end points (tested
  against OpenCV where it is installed and against hand-drawn lines);
* one label image per attribute, ids below (:data:`ATTRIBUTES`); background is 0;
* a pixel drawn by more than one line gets 255 (ignore) in every label image, 0 in the
  instance map and 0 in the direction map;
* ``mask_tag``: channel 0 = category, channel 1 = instance id (line index + 1, from 1),
  channel 2 = 0; uint16 and saved as ``.npy`` when the image has more than 255 lines;
* direction map: channel 0 = ``dy``, channel 1 = ``dx`` of the unit segment direction, stored
  as ``uint8((v + 1) * 127.5)`` (so 127 means 0); within each segment's bounding box (its end
  pixel excluded) every pixel of the line takes that segment's direction, later segments
  overwrite earlier ones (a pixel of several lines is an overlap: 0, see below);
* both PNGs are written by ``cv2.imwrite``, i.e. **BGR on disk**: read with PIL (RGB) a
  ``mask_tag`` PNG gives R = 0, G = instance, B = category (:func:`decode_mask_tag`); the
  ``.npy`` variant is saved by ``np.save`` and is *not* swapped.

Deliberate differences (named): lines with fewer than 2 points are skipped also when they
come first (the public script then fails with an unbound variable); the tag script drops
repeated points (``np.unique``) before drawing, the per-attribute script does not - we follow
each script; out-of-image end points are not clipped the way OpenCV's ``clipLine`` does, so
tie-breaking may differ by a pixel there.

Tiling (``cut_satellite.py``): tiles of ``clip`` px (512 at level 19, 1024 at level 20) at
multiples of ``clip``, the last row/column moved inward to end at the border
(:func:`tile_boxes`); tiles whose image is all black are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ATTRIBUTES",
    "CATEGORY_NAMES",
    "IGNORE",
    "RasterizedLines",
    "decode_direction",
    "decode_mask_tag",
    "dilate_labels",
    "encode_direction",
    "encode_mask_tag",
    "line_pixels",
    "polyline_pixels",
    "rasterize_lines",
    "tile_boxes",
]

IGNORE = 255

#: attribute key in the JSON -> {value: id}, as in the reference tools.
ATTRIBUTES: dict[str, dict[str, int]] = {
    "category": {"Lane line": 1, "Curb": 2, "Virtual line": 3},
    "color": {"White": 1, "Yellow": 2, "Others": 3, "None": 4},
    "line_type": {"Solid": 1, "Dashed": 2, "Thick solid": 3, "Short dashed": 4, "Others": 5,
                  "None": 6},
    "line_num": {"Single": 1, "Double": 2, "Others": 3, "None": 4},
    "function": {"None": 1, "No parking": 2, "Deceleration lane": 3, "Bus lane": 4,
                 "Others": 5, "Tidal lane": 6, "Chevron markings": 7, "Parking space": 8,
                 "Vechile staging area": 9, "Guidance line": 10, "Lane-borrowing area": 11},
    "bidirection": {"False": 1, "True": 2},
    "boundary": {"True": 1, "False": 2},
}

#: category id -> name (0 is background).
CATEGORY_NAMES: tuple[str, ...] = ("background", "Lane line", "Curb", "Virtual line")


def line_pixels(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """``(x, y)`` pixels of OpenCV's 8-connected line from ``(x0, y0)`` to ``(x1, y1)``.

    The iterator always runs left to right, steps along the major axis and takes a minor
    step while its error term is negative (error starts at ``major - 2 * minor``).
    """
    dx, dy = x1 - x0, y1 - y0
    if dx < 0:
        x0, y0, dx, dy = x1, y1, -dx, -dy
    sy = -1 if dy < 0 else 1
    dy = abs(dy)
    steep = dy > dx
    if steep:
        dx, dy = dy, dx
    err = dx - 2 * dy
    x, y = x0, y0
    out: list[tuple[int, int]] = []
    for _ in range(dx + 1):
        out.append((x, y))
        minor = err < 0
        err += -2 * dy + (2 * dx if minor else 0)
        if steep:
            y += sy
            x += 1 if minor else 0
        else:
            x += 1
            y += sy if minor else 0
    return out


def polyline_pixels(points: Sequence[Sequence[float]], shape: tuple[int, int], *,
                    dedupe: bool = False) -> np.ndarray | None:
    """Unique in-image ``(x, y)`` pixels of a 1-px open polyline (``None``: < 2 points),
    sorted row by row.

    Points are truncated to int32 like the reference tools; ``dedupe`` drops repeated points
    (keeping first occurrences) as the tag/direction script does. Works on the line's pixel
    list only (no image-sized buffer), so 4096-px level-20 images with hundreds of lines
    rasterise in about a second.
    """
    if len(points) < 2:
        return None
    pts = _int_points(points, dedupe)
    h, w = shape
    chunks = [pts[:1]] if len(pts) == 1 else [
        np.asarray(line_pixels(int(a[0]), int(a[1]), int(b[0]), int(b[1])), dtype=np.int64)
        for a, b in zip(pts[:-1], pts[1:], strict=True)]
    px = np.concatenate(chunks).astype(np.int64)
    keep = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    flat = np.unique(px[keep, 1] * w + px[keep, 0])
    return np.stack([flat % w, flat // w], axis=1)


def _int_points(points: Sequence[Sequence[float]], dedupe: bool) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2).astype(np.int32)
    if dedupe:
        _, idx = np.unique(pts, axis=0, return_index=True)
        pts = pts[np.sort(idx)]
    return pts


@dataclass
class RasterizedLines:
    """Label images of one annotated image (all ``(H, W)`` unless said otherwise).

    ``labels[attr]``: uint8 ids of :data:`ATTRIBUTES` (0 background, 255 ignore);
    ``instance``: instance ids from 1 (uint8, uint16 beyond 255 lines; 0 at overlaps);
    ``direction``: float32 ``(2, H, W)`` summed unit directions ``(dy, dx)``;
    ``tag_category``: the category channel of ``mask_tag`` (drawn by the tag script, after
    dropping repeated points; equal to ``labels["category"]`` unless a line repeats a point).
    """

    labels: dict[str, np.ndarray]
    instance: np.ndarray
    direction: np.ndarray
    tag_category: np.ndarray

    @property
    def category(self) -> np.ndarray:
        return self.labels["category"]


def _segment_directions(pixels: np.ndarray, pts: np.ndarray, shape: tuple[int, int]
                        ) -> np.ndarray:
    """``(N, 2)`` ``(dy, dx)`` of a line's ``pixels``: each segment writes its unit direction
    on the line pixels inside its bounding box (its end pixel excluded), later segments
    overwrite earlier ones; pixels no segment reaches keep 0."""
    h, w = shape
    out = np.zeros((len(pixels), 2), dtype=np.float64)
    x, y = pixels[:, 0], pixels[:, 1]
    for p1, p2 in zip(pts[:-1], pts[1:], strict=True):
        d = (p2 - p1).astype(np.float64)
        n = float(np.hypot(d[0], d[1]))
        if n == 0:
            continue
        d /= n
        y0, y1 = sorted((int(p1[1]), int(p2[1])))
        x0, x1 = sorted((int(p1[0]), int(p2[0])))
        sel = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        ex, ey = min(int(p2[0]), w - 1), min(int(p2[1]), h - 1)
        if ex >= 0 and ey >= 0:
            sel &= ~((x == ex) & (y == ey))
        out[sel, 0] = d[1]
        out[sel, 1] = d[0]
    return out


def rasterize_lines(lines: Sequence[Mapping[str, Any]], shape: tuple[int, int]
                    ) -> RasterizedLines:
    """All label images of one image's ``lines`` (the JSON's ``"lines"`` list).

    Attribute values are compared as strings, so the JSON's ``"True"``/``"False"`` and the
    booleans of the project page's schema (``"bidirection": bool``) both work; keys the
    rasterisation does not use (``image_width``, ``clearness``, ``occlusion``/``shaded``)
    are ignored, as by the released scripts.

    Raises:
        KeyError / ValueError: a line without ``points`` or with an attribute value that is
            not in :data:`ATTRIBUTES` (callers turn this into ``InvalidInputError``).
    """
    h, w = shape
    # overlaps: lines per pixel, each line counted once per pixel (the attribute script
    # draws the points as given, the tag script after dropping repeated points: each
    # counts its own overlaps)
    count = np.zeros((2, h, w), dtype=np.uint16)
    pix_plain: list[np.ndarray | None] = []
    pix_dedup: list[np.ndarray | None] = []
    for line in lines:
        pts = line["points"]
        for k, dedupe in enumerate((False, True)):
            px = polyline_pixels(pts, shape, dedupe=dedupe)
            (pix_dedup if dedupe else pix_plain).append(px)
            if px is not None and len(px):
                count[k, px[:, 1], px[:, 0]] += 1
        for attr, ids in ATTRIBUTES.items():
            value = str(line[attr])
            if value not in ids:
                raise ValueError(f"unknown {attr} value {value!r}; expected one of "
                                 f"{sorted(ids)}")
    visited_plain, visited = count[0] > 1, count[1] > 1
    del count
    # a pixel covered by one line takes that line's id (the tools' sum of one term); pixels
    # of several lines are overwritten with the ignore value below
    labels = {a: np.zeros((h, w), dtype=np.uint8) for a in ATTRIBUTES}
    for line, pp in zip(lines, pix_plain, strict=True):
        if pp is None:
            continue
        for attr, ids in ATTRIBUTES.items():
            labels[attr][pp[:, 1], pp[:, 0]] = ids[str(line[attr])]
    too_long = len(lines) > 255
    instance = np.zeros((h, w), dtype=np.uint16 if too_long else np.uint8)
    tag_cat = np.zeros((h, w), dtype=np.uint8)
    direction = np.zeros((2, h, w), dtype=np.float32)
    for i, (line, pd) in enumerate(zip(lines, pix_dedup, strict=True)):
        if pd is None:
            continue
        instance[pd[:, 1], pd[:, 0]] = i + 1
        tag_cat[pd[:, 1], pd[:, 0]] = ATTRIBUTES["category"][str(line["category"])]
        seg = _segment_directions(pd, _int_points(line["points"], True), shape)
        direction[:, pd[:, 1], pd[:, 0]] = seg.T
    for lab in labels.values():
        lab[visited_plain] = IGNORE
    instance[visited] = 0
    tag_cat[visited] = IGNORE
    direction[:, visited] = 0
    return RasterizedLines(labels, instance, direction, tag_cat)


def encode_direction(direction: np.ndarray) -> np.ndarray:
    """``(2, H, W)`` float ``(dy, dx)`` -> the on-disk ``(H, W, 3)`` uint8 **in memory
    order** (ch0 dy, ch1 dx, ch2 0) as ``(v + 1) * 127.5`` truncated."""
    enc = ((np.asarray(direction, dtype=np.float32) + 1.0) * 127.5).astype(np.uint8)
    return np.stack([enc[0], enc[1], np.zeros_like(enc[0])], axis=-1)


def decode_direction(rgb: np.ndarray) -> np.ndarray:
    """A direction PNG read with PIL (RGB, i.e. the BGR-on-disk channels reversed) ->
    ``(2, H, W)`` float ``(dy, dx)`` in ``[-1, 1]`` (0 at pixels stored as 127)."""
    arr = np.asarray(rgb)
    dy, dx = arr[..., 2].astype(np.float32), arr[..., 1].astype(np.float32)
    out = np.stack([dy, dx]) / 127.5 - 1.0
    out[:, (arr[..., 2] == 127) & (arr[..., 1] == 127)] = 0.0
    return out.astype(np.float32)


def encode_mask_tag(category: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` in memory order (ch0 category, ch1 instance, ch2 0); uint16 when the
    instance ids need it."""
    dtype = np.uint16 if instance.dtype == np.uint16 or int(instance.max(initial=0)) > 255 \
        else np.uint8
    return np.stack([category.astype(dtype), instance.astype(dtype),
                     np.zeros(category.shape, dtype)], axis=-1)


def decode_mask_tag(arr: np.ndarray, *, from_png: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(category, instance)`` of a ``mask_tag`` file's array.

    ``from_png=True``: the array as PIL reads the PNG (RGB), so category is channel 2 (B)
    and instance channel 1 (G). ``from_png=False``: the ``.npy`` array (not swapped), so
    category is channel 0.
    """
    a = np.asarray(arr)
    if a.ndim != 3 or a.shape[-1] < 3:
        raise ValueError(f"mask_tag must be (H, W, 3), got shape {a.shape}")
    cat = a[..., 2] if from_png else a[..., 0]
    return cat.astype(np.int64), a[..., 1].astype(np.int64)


def tile_boxes(height: int, width: int, clip: int) -> list[tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` tiles of ``cut_satellite.py``: starts at multiples of ``clip``,
    the last one moved inward so it ends at the border; images smaller than ``clip`` give
    one (smaller) tile."""
    def starts(n: int) -> list[int]:
        if n <= clip:
            return [0]
        k = -(-(n - clip) // clip)
        count = k if k * clip + clip >= n else k + 1
        out = []
        for i in range(count + 1):
            s = i * clip
            out.append(s if s + clip <= n else n - clip)
        return out

    boxes = []
    for y0 in starts(height):
        for x0 in starts(width):
            boxes.append((x0, y0, min(x0 + clip, width), min(y0 + clip, height)))
    return boxes


def dilate_labels(label: np.ndarray, kernel: int, ignore: int = IGNORE) -> np.ndarray:
    """Dilate a 1-px label map with a ``kernel x kernel`` square (``DilateGT``).

    The published ``DilateGT`` transform is not in the released code; we dilate each class
    separately: a pixel covered by exactly one class takes it, by several classes gets
    ``ignore``; original ignore pixels covered by no class stay ``ignore``. ``kernel`` 1
    returns the map unchanged. Also used on instance maps (``ignore=0``: touching instances
    become 0 there).
    """
    from scipy import ndimage

    lab = np.asarray(label)
    if kernel <= 1:
        return lab.copy()
    struct = np.ones((kernel, kernel), dtype=bool)
    values = [int(v) for v in np.unique(lab) if v != 0 and v != ignore]
    out = np.zeros(lab.shape, dtype=lab.dtype)
    hits = np.zeros(lab.shape, dtype=np.int32)
    for v in values:
        d = ndimage.binary_dilation(lab == v, structure=struct)
        out[d] = v
        hits += d
    out[hits > 1] = ignore
    if ignore != 0:
        out[(hits == 0) & (lab == ignore)] = ignore
    return out
