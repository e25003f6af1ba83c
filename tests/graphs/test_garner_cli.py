"""``geoneurips road-embed`` on a real OSM extract (West Oakland, OSMnx's test file)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from geoneurips.errors import InvalidInputError
from geoneurips.graphs.garner.cli import road_embed


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    app.command()(road_embed)
    return app


def test_embed_real_osm_extract(real_data: Path, tmp_path: Path, app: typer.Typer) -> None:
    osm = real_data / "roads" / "osmnx" / "West-Oakland.osm.bz2"
    np.save(tmp_path / "svi.npy", np.random.default_rng(0).normal(size=(71, 16)).astype("f4"))
    out = tmp_path / "emb.geojson"
    res = CliRunner().invoke(app, [str(osm), "-o", str(out), "--svi", str(tmp_path / "svi.npy"),
                                   "--epochs", "3", "--dim", "8", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output.strip().splitlines()[-1])
    assert info["segments"] == 71 and info["model"] == "garner"
    feats = json.loads(out.read_text())["features"]
    assert len(feats) == 71
    props = feats[0]["properties"]
    assert {f"emb_{i}" for i in range(8)} <= set(props) and "highway" in props
    assert feats[0]["geometry"]["type"] == "LineString"
    out_pq = tmp_path / "emb.parquet"
    res = CliRunner().invoke(app, [str(osm), "-o", str(out_pq), "--road-features-only",
                                   "--epochs", "2", "--dim", "4"])
    assert res.exit_code == 0, res.output
    import geopandas as gpd

    assert len(gpd.read_parquet(out_pq)) == 71


def test_bad_inputs(real_data: Path, tmp_path: Path) -> None:
    osm = real_data / "roads" / "osmnx" / "West-Oakland.osm.bz2"
    out = tmp_path / "o.geojson"
    with pytest.raises(InvalidInputError, match="--svi"):
        road_embed(osm, out)
    np.save(tmp_path / "svi.npy", np.ones((70, 4), dtype="f4"))
    with pytest.raises(InvalidInputError, match="70 rows but the network has 71"):
        road_embed(osm, out, svi=tmp_path / "svi.npy")
    with pytest.raises(InvalidInputError, match=".geojson or .parquet"):
        road_embed(osm, tmp_path / "o.tif", road_features_only=True)
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "svi.npy"]
