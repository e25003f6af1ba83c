"""seco-refine on rasters: one SCC over the components of the whole raster (Sec. 3.3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from scipy import ndimage

from geoneurips.raster.io import write_raster
from geoneurips.segmentation.seco.data import IGNORE_INDEX, make_noisy_pseudo_label, make_scene
from geoneurips.segmentation.seco.model import (
    SCCConfig,
    SemanticConnectivityCorrection,
    extract_components,
)
from geoneurips.segmentation.seco.pipeline import build_seco, refine_raster
from geoneurips.segmentation.seco.refine import label_components

CRS = "EPSG:32618"
TF = Affine(0.5, 0, 500000, 0, -0.5, 4000000)


def test_streamed_components_equal_whole_array_components(tmp_path: Path) -> None:
    """Strips of 3 rows, merged by union-find (also across diagonals), give exactly the
    components, order, areas and boxes of :func:`extract_components` on the whole array."""
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 3, (20, 17)).astype(np.uint8)
    lab[rng.random((20, 17)) < 0.2] = IGNORE_INDEX
    lab[5, :] = 1
    lab[6, 3] = IGNORE_INDEX
    path = write_raster(tmp_path / "lab.tif", lab, crs=CRS, transform=TF, nodata=255)
    table = label_components(path, tmp_path / "ids.tif", strip_rows=3)
    ref = extract_components(lab.astype(np.int64))
    assert len(table) == len(ref) > 10
    assert table.label.tolist() == [c.label for c in ref]
    assert table.area.tolist() == [c.area for c in ref]
    assert [tuple(b) for b in table.bbox.tolist()] == [c.bbox for c in ref]
    with rasterio.open(tmp_path / "ids.tif") as ds:
        comp = table.lut[ds.read(1).astype(np.int64)]
    for k, c in enumerate(ref):
        assert (comp == k + 1).sum() == c.area
        assert (comp[c.full_mask(lab.shape)] == k + 1).all()


@pytest.fixture()
def scene(tmp_path: Path) -> tuple[np.ndarray, np.ndarray, Path, Path]:
    img, truth = make_scene(64, seed=5)
    ps = make_noisy_pseudo_label(truth, seed=5)
    a = write_raster(tmp_path / "img.tif", img.transpose(2, 0, 1), crs=CRS, transform=TF)
    b = write_raster(tmp_path / "ps.tif", ps, crs=CRS, transform=TF)
    return img, ps, a, b


def test_one_tile_raster_equals_in_memory_seco(scene: tuple[np.ndarray, np.ndarray, Path, Path],
                                               tmp_path: Path) -> None:
    img, ps, a, b = scene
    cfg = SCCConfig.tiny(epochs=3, seed=1)
    ref, _ = build_seco(7, scc=cfg)([img], [ps.astype(np.int64)])
    out = tmp_path / "out.tif"
    res = refine_raster(a, b, out, build_seco(7, scc=cfg), tile_size=64, progress=False)
    with rasterio.open(out) as ds:
        got = ds.read(1)
    assert np.array_equal(got, ref[0])
    assert res["components"] > 10 and 0 < res["kept"] < res["classified"]


def test_classifier_trained_once_and_crossing_components_get_one_label(
    scene: tuple[np.ndarray, np.ndarray, Path, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four 32 px tiles: before, each tile trained its own classifier (4 fits) and split the
    components at tile borders; now one fit, and every PSA component has one output."""
    _, _, a, b = scene
    fits = []
    orig = SemanticConnectivityCorrection.fit

    def counting(self: SemanticConnectivityCorrection, *args: object, **kw: object) -> object:
        fits.append(1)
        return orig(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(SemanticConnectivityCorrection, "fit", counting)
    out, psa = tmp_path / "out.tif", tmp_path / "psa.tif"
    refine_raster(a, b, out, build_seco(7, scc=SCCConfig.tiny(epochs=2)), tile_size=32,
                  overlap=4, progress=False, psa_output=psa)
    assert len(fits) == 1
    with rasterio.open(psa) as ds:
        p = ds.read(1)
    with rasterio.open(out) as ds:
        o = ds.read(1)
    crossing = 0
    for c in np.unique(p[p != IGNORE_INDEX]):
        cc, n = ndimage.label(p == c, structure=np.ones((3, 3)))
        for i in range(1, n + 1):
            m = cc == i
            rows, cols = np.nonzero(m)
            crossing += bool((rows.min() < 32 <= rows.max()) or (cols.min() < 32 <= cols.max()))
            assert np.unique(o[m]).size == 1
    assert crossing >= 3  # the test does exercise components over tile borders
