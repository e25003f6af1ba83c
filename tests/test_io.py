"""Atomic writes, safe checkpoint loading and safe extraction."""

from __future__ import annotations

import io
import json
import math
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.io import (
    atomic_path,
    load_checkpoint,
    safe_extract,
    safe_pretrained_folder,
    save_checkpoint,
    write_json,
)


def test_atomic_path_success_and_failure(tmp_path: Path) -> None:
    dest = tmp_path / "out.txt"
    dest.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert dest.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_path(dest) as tmp:
        assert tmp.suffix == ".txt" and tmp.parent == tmp_path
        tmp.write_text("new")
    assert dest.read_text() == "new"


def test_write_json_handles_numpy_and_nan(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "r.json", {"a": np.float32(1.5), "b": np.arange(3), "c": math.nan, "d": tmp_path}
    )
    data = json.loads(path.read_text())
    assert data == {"a": 1.5, "b": [0, 1, 2], "c": None, "d": str(tmp_path)}


class _Opaque:
    """A class torch's weights-only unpickler does not allow."""


def test_load_checkpoint_unwraps_and_refuses_pickles(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 3}, good)
    state = load_checkpoint(good)
    assert torch.equal(state["w"], torch.ones(2))

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    bad = tmp_path / "bad.pt"
    with bad.open("wb") as fh:
        pickle.dump({"x": Evil()}, fh, protocol=2)
    with pytest.raises(CheckpointError, match="refused") as info:
        load_checkpoint(bad)
    msg = str(info.value)
    # one line naming the blocked object, never advice to load unsafely
    assert "\n" not in msg and "'print'" in msg
    assert "weights_only=False" not in msg and "trust" not in msg.lower()

    bad2 = tmp_path / "bad2.pt"
    torch.save({"w": torch.ones(1), "obj": _Opaque()}, bad2)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(bad2)
    msg = str(info.value)
    assert "\n" not in msg and "_Opaque" in msg and "weights_only=False" not in msg
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_safe_extract_refuses_traversal(tmp_path: Path) -> None:
    zpath = tmp_path / "a.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("ok/file.txt", "fine")
        zf.writestr("../escape.txt", "bad")
    with pytest.raises(InvalidInputError, match="outside"):
        safe_extract(zpath, tmp_path / "x")
    assert not (tmp_path / "escape.txt").exists()

    tpath = tmp_path / "b.tar"
    with tarfile.open(tpath, "w") as tf:
        data = b"hello"
        info = tarfile.TarInfo("inner/h.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    out = safe_extract(tpath, tmp_path / "y")
    assert (out / "inner" / "h.txt").read_bytes() == b"hello"

    with tarfile.open(tmp_path / "c.tar", "w") as tf:
        link = tarfile.TarInfo("inner/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../etc/passwd"
        tf.addfile(link)
    with pytest.raises(InvalidInputError):
        safe_extract(tmp_path / "c.tar", tmp_path / "z")


def test_save_checkpoint_round_trip_and_atomic(tmp_path: Path) -> None:
    w = torch.arange(6.0, requires_grad=True).view(2, 3)
    state = {"w": w, "cfg": {"n": 3, "name": "x"}, "order": "rgb"}
    path = save_checkpoint(tmp_path / "m.pt", state)
    back = load_checkpoint(path)
    assert torch.equal(back["w"], w.detach()) and not back["w"].requires_grad
    assert back["cfg"] == {"n": 3, "name": "x"} and back["order"] == "rgb"
    with pytest.raises((AttributeError, pickle.PicklingError)):  # a lambda: nothing written
        save_checkpoint(tmp_path / "bad.pt", {"f": lambda: 0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_model_checkpoint_format(tmp_path: Path) -> None:
    """The one weights + JSON-config checkpoint format (Kuro Siwo, OAM-TCD, OpenSatMap, SGNet)."""
    from geoneurips.io import CONFIG_KEY, load_model_state, load_weights, save_model

    net = torch.nn.Linear(3, 2)
    path = save_model(tmp_path / "m.pt", net, {"width": 3, "name": "lin"})
    state, config = load_model_state(path, "Test")
    assert config == {"width": 3, "name": "lin"} and CONFIG_KEY not in state
    fresh = load_weights(torch.nn.Linear(3, 2), state, path, "Test")
    assert torch.equal(fresh.weight, net.weight) and not fresh.training
    # a Lightning checkpoint of a task whose model attribute is ``model``
    lit = {"state_dict": {f"model.{k}": v for k, v in net.state_dict().items()}}
    lit["state_dict"][CONFIG_KEY] = '{"width": 3}'
    torch.save(lit, tmp_path / "lit.ckpt")
    state, config = load_model_state(tmp_path / "lit.ckpt", "Test")
    assert set(state) == {"weight", "bias"} and config == {"width": 3}
    # no config, a config that is not a JSON object, weights of another shape
    torch.save(net.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="holds no Test config"):
        load_model_state(tmp_path / "bare.pt", "Test")
    torch.save({**net.state_dict(), CONFIG_KEY: "[1, 2]"}, tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="not a JSON object"):
        load_model_state(tmp_path / "list.pt", "Test")
    with pytest.raises(CheckpointError, match="do not match its Test config"):
        load_weights(torch.nn.Linear(4, 2), state, path, "Test")


def test_safe_pretrained_folder(tmp_path: Path) -> None:
    """A Hugging Face folder passes only with config.json and safetensors weights and no
    ``auto_map`` (remote code) in its model / processor / tokenizer configs."""
    with pytest.raises(InvalidInputError, match="not found"):
        safe_pretrained_folder(tmp_path / "none", "model")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(CheckpointError, match=r"found pickled pytorch_model\.bin: not loaded"):
        safe_pretrained_folder(tmp_path, "model")
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert safe_pretrained_folder(tmp_path, "model") == tmp_path
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"x": "y.Z"}}))
    with pytest.raises(CheckpointError, match="auto_map in tokenizer_config.json"):
        safe_pretrained_folder(tmp_path, "model")
    (tmp_path / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        safe_pretrained_folder(tmp_path, "model")
