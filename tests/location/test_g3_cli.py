"""``geoneurips geolocate`` on GeoCLIP's real photo (shared/data/geoclip/Kauai.png).

The database is a small MP16-Pro-layout fixture, image features come from the tiny random
tower (no CLIP checkpoint can be downloaded here), the GPS tower is GeoCLIP's real
pretrained encoder; the LMM is the rule-based stand-in, a local OpenAI-compatible stub or a tiny random LLaVA
folder loaded through transformers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from geoneurips.errors import InvalidInputError
from geoneurips.location.g3.cli import geolocate
from geoneurips.location.g3.data import write_mp16pro_fixture

from .test_g3_lmm import _Stub, stub  # noqa: F401  (the stub-server fixture)
from .test_g3_transformers_lmm import tiny_vlm  # noqa: F401  (the tiny LLaVA folder)


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    app.command()(geolocate)
    return app


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mp16")
    rng = np.random.default_rng(0)
    ll = np.stack([rng.uniform(-60, 60, 40), rng.uniform(-180, 180, 40)], 1)
    ll[:10] = [22.07, -159.5] + rng.normal(0, 0.1, (10, 2))  # Kauai
    imgs = rng.integers(0, 255, (40, 24, 24, 3), dtype=np.uint8)
    addr = {"city": [f"city {i % 7}" for i in range(40)], "country": ["X"] * 40}
    return write_mp16pro_fixture(root, ll, addr, imgs)


def _photo(real_data: Path, tmp_path: Path) -> Path:
    src = real_data / "geoclip" / "Kauai.png"
    dst = tmp_path / "Kauai.png"
    shutil.copy(src, dst)
    return dst


def test_geolocate_real_photo_text_and_geojson(
    app: typer.Typer, database: Path, real_data: Path, tmp_path: Path
) -> None:
    photo = _photo(real_data, tmp_path)
    res = CliRunner().invoke(app, [str(photo), "--database", str(database), "--epochs", "1"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 5 and lines[0].lstrip().startswith("1")
    out = tmp_path / "pred.geojson"
    res = CliRunner().invoke(app, [str(photo), "--database", str(database), "--epochs", "1",
                                   "--json", "--top", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    gj = json.loads(res.stdout)
    assert gj == json.loads(out.read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 3
    scores = [f["properties"]["score"] for f in gj["features"]]
    assert scores == sorted(scores, reverse=True)
    lon, lat = gj["features"][0]["geometry"]["coordinates"]
    assert -90 <= lat <= 90 and -180 <= lon <= 180
    assert [f["properties"]["rank"] for f in gj["features"]] == [1, 2, 3]


def test_geolocate_with_openai_compatible_stub(
    app: typer.Typer, database: Path, real_data: Path, tmp_path: Path, stub: str  # noqa: F811
) -> None:
    photo = _photo(real_data, tmp_path)
    res = CliRunner().invoke(app, [str(photo), "--database", str(database), "--epochs", "1",
                                   "--lmm-url", stub, "--lmm-model", "vlm", "--json",
                                   "--top", "25"])
    assert res.exit_code == 0, res.output
    assert len(_Stub.requests) == 4  # zero-shot + RAG 5/10/15
    assert "similar" in _Stub.requests[3]["messages"][0]["content"][0]["text"]
    img = _Stub.requests[0]["messages"][0]["content"][1]["image_url"]["url"]
    assert img.startswith("data:image/png;base64,")
    pts = {tuple(f["geometry"]["coordinates"]) for f in json.loads(res.stdout)["features"]}
    assert (-20.25, 10.5) in pts  # the stub's first answer is among the candidates


def test_geolocate_bad_inputs(app: typer.Typer, database: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, [str(tmp_path / "none.jpg"), "--database", str(database)])
    assert isinstance(res.exception, InvalidInputError)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    res = CliRunner().invoke(app, [str(bad), "--database", str(database), "--epochs", "1"])
    assert isinstance(res.exception, InvalidInputError)
    res = CliRunner().invoke(app, [str(bad), "--database", str(database), "--lmm-url", "http://x"])
    assert isinstance(res.exception, InvalidInputError)
    res = CliRunner().invoke(app, [str(bad), "--database", str(database), "--clip",
                                   str(tmp_path)])
    assert isinstance(res.exception, InvalidInputError)
    res = CliRunner().invoke(app, [str(bad), "--database", str(tmp_path)])
    assert res.exception is not None and "MP16-Pro" in str(res.exception)


def test_geolocate_with_a_local_clip_folder(
    app: typer.Typer, database: Path, real_data: Path, tmp_path: Path
) -> None:
    """Image and text features from a local CLIP folder (a tiny random one built offline)."""
    from .test_g3_model import _tiny_clip

    clip = _tiny_clip(tmp_path / "clip")
    photo = _photo(real_data, tmp_path)
    res = CliRunner().invoke(app, [str(photo), "--database", str(database), "--clip", str(clip),
                                   "--epochs", "1", "--json"])
    assert res.exit_code == 0, res.output
    feats = json.loads(res.stdout)["features"]
    assert len(feats) == 5 and feats[0]["properties"]["rank"] == 1


def test_geolocate_checkpoint_round_trip(
    app: typer.Typer, database: Path, real_data: Path, tmp_path: Path
) -> None:
    photo = _photo(real_data, tmp_path)
    ck = tmp_path / "g3.pt"
    args = [str(photo), "--database", str(database), "--json", "--top", "21"]
    first = CliRunner().invoke(app, [*args, "--epochs", "2", "--save-checkpoint", str(ck)])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, [*args, "--checkpoint", str(ck)])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == json.loads(first.stdout)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    res = CliRunner().invoke(app, [*args, "--checkpoint", str(bad)])
    assert res.exception is not None and "checkpoint" in str(res.exception).lower()


def test_geolocate_with_a_local_transformers_model(
    app: typer.Typer, database: Path, real_data: Path, tmp_path: Path,
    tiny_vlm: Path,  # noqa: F811
) -> None:
    """``--lmm-path``: the real photo goes to a tiny random LLaVA (offline, safetensors);
    its garbage answers take the published (0, 0) fallback and join the candidates."""
    photo = _photo(real_data, tmp_path)
    res = CliRunner().invoke(app, [str(photo), "--database", str(database), "--epochs", "1",
                                   "--lmm-path", str(tiny_vlm), "--lmm-max-tokens", "6",
                                   "--json", "--top", "21"])
    assert res.exit_code == 0, res.output
    feats = json.loads(res.stdout)["features"]
    assert len(feats) == 21  # top-1 + 5 answers of zero-shot and RAG 5/10/15
    src = sorted({f["properties"]["source"] for f in feats})
    assert src == ["rag_10", "rag_15", "rag_5", "retrieval_top1", "zero_shot"]
    lmm = [f for f in feats if f["properties"]["source"] != "retrieval_top1"]
    assert all(f["geometry"]["coordinates"] == [0.0, 0.0] for f in lmm)
    res = CliRunner().invoke(app, [str(photo), "--database", str(database),
                                   "--lmm-path", str(tiny_vlm), "--lmm-max-tokens", "0"])
    assert isinstance(res.exception, InvalidInputError)
