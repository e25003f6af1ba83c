"""Safe file handling: atomic writes, safe checkpoint loading, safe archive extraction.

Rules of the project (developers' guide, "Safety"):

* every output is written to a temporary file in the destination folder and renamed into
  place only when complete (:func:`atomic_path`, :func:`write_json`, :func:`write_text`), so a
  crash never leaves a half-written output behind;
* checkpoints are read with ``torch.load(weights_only=True)`` or safetensors
  (:func:`load_checkpoint`), never with a bare unpickler;
* archives are extracted only after every member was checked to stay inside the target
  folder (:func:`safe_extract`);
* a local Hugging Face model folder is checked before ``from_pretrained`` (safetensors
  weights only, no remote code: :func:`safe_pretrained_folder`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import CheckpointError, InvalidInputError

__all__ = [
    "CONFIG_KEY",
    "atomic_path",
    "load_checkpoint",
    "load_model_state",
    "load_weights",
    "safe_extract",
    "safe_pretrained_folder",
    "save_checkpoint",
    "save_model",
    "write_json",
    "write_text",
]


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched (an
    existing file there keeps its old content).

    Args:
        path: the final destination.
        suffix: suffix of the temporary file (defaults to ``path``'s, so that writers that
            pick a format from the extension, e.g. matplotlib or GDAL, still work).
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dest.name}.",
        suffix=suffix if suffix is not None else dest.suffix,
        dir=dest.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (NaN and numpy scalars handled)."""
    return write_text(path, json.dumps(_jsonable(obj), indent=indent, sort_keys=False) + "\n")


def _jsonable(obj: Any, finite: bool = True) -> Any:
    """Convert numpy/torch scalars, arrays and paths to plain JSON types (NaN and inf to
    None unless ``finite`` is False: then plain Python values, floats kept as they are)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v, finite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, finite) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float):
        return obj if not finite or (obj == obj and abs(obj) != float("inf")) else None
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return _jsonable(obj.tolist(), finite)
    if hasattr(obj, "item") and callable(obj.item):
        return _jsonable(obj.item(), finite)
    return obj


_BLOCKED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _unsafe_load_message(path: Path, exc: BaseException) -> str:
    """One line for a refused checkpoint: what was blocked, never advice to load unsafely.

    torch's own text suggests re-running with ``weights_only=False``, which would execute
    whatever code the file holds; we do not pass that advice on.
    """
    text = str(exc)
    found = _BLOCKED_GLOBAL.search(text)
    if found:
        return (
            f"checkpoint {str(path)!r} refused: it references {found.group(1)!r}, which is "
            "not a tensor, number, string or container; geoneurips loads weights only "
            "(save the model's state_dict with tensors alone)"
        )
    opcode = re.search(r"Unsupported operand (\w+)", text)
    if opcode or "Weights only" in text or "weights_only" in text:
        what = f" (pickle opcode {opcode.group(1)})" if opcode else ""
        return (
            f"checkpoint {str(path)!r} refused: it is not a plain tensor dict{what}; "
            "geoneurips loads weights only"
        )
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return f"checkpoint {str(path)!r} cannot be read: {first[:200]}"


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely and return its state dict.

    ``.safetensors`` files are read with safetensors (if installed); anything else with
    ``torch.load(weights_only=True)``, which refuses arbitrary pickled objects. Lightning
    checkpoints and ``{"state_dict": ...}``/``{"model": ...}`` wrappers are unwrapped.

    Raises:
        CheckpointError: when the file is missing, unreadable or not a safe tensor dict.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {str(p)!r} does not exist (pass a local file path)")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(p), device=map_location)
        else:
            import torch

            state = torch.load(p, map_location=map_location, weights_only=True)
    except ImportError as exc:
        raise CheckpointError(f"cannot read {str(p)!r}: {exc}") from exc
    except Exception as exc:
        raise CheckpointError(_unsafe_load_message(p, exc)) from None
    if isinstance(state, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            inner = state.get(key)
            if isinstance(inner, Mapping):
                state = inner
                break
    if not isinstance(state, Mapping):
        raise CheckpointError(f"checkpoint {str(p)!r} does not hold a state dict")
    return dict(state)


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Write a checkpoint that :func:`load_checkpoint` reads back, atomically.

    ``state`` maps names to tensors (stored detached, on the CPU) and to plain values
    (numbers, strings, lists and dicts of them, e.g. a model configuration), all of which
    ``torch.load(weights_only=True)`` accepts. On any error nothing is left at ``path``.
    """
    import torch

    flat = {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in state.items()}
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(flat, tmp)
    return Path(path)


#: key of the JSON model configuration stored beside the weights by :func:`save_model`
CONFIG_KEY = "__config__"


def save_model(path: str | Path, model: Any, config: Mapping[str, Any]) -> Path:
    """Write ``model``'s weights with its configuration (a JSON string under
    :data:`CONFIG_KEY`) as one checkpoint, atomically; :func:`load_model_state` reads it."""
    state: dict[str, Any] = dict(model.state_dict())
    state[CONFIG_KEY] = json.dumps(dict(config))
    return save_checkpoint(path, state)


def load_model_state(path: str | Path, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_model` (or by Lightning from a task whose
    model attribute is ``model``): ``(weights, config dict)``, weights without the
    Lightning ``model.`` prefix.

    Args:
        path: the checkpoint.
        what: the system's name for messages (``"Kuro Siwo"``).

    Raises:
        CheckpointError: unreadable or unsafe file, or no JSON config inside.
    """
    state = load_checkpoint(path)
    raw = state.pop(CONFIG_KEY, None)
    if not isinstance(raw, str):
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds no {what} config (key {CONFIG_KEY!r}); write it "
            f"with the system's save_checkpoint or its demo"
        )
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise CheckpointError(f"bad {what} config in {str(path)!r}: {exc}") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"bad {what} config in {str(path)!r}: not a JSON object")
    if any(k.startswith("model.") for k in state):  # Lightning: strip the task prefix
        state = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    return state, config


def load_weights(model: Any, state: Mapping[str, Any], path: str | Path, what: str) -> Any:
    """``model.load_state_dict(state, strict=True)``, a mismatch raised as one clear
    :class:`CheckpointError`; returns the model in eval mode."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"weights in {str(path)!r} do not match its {what} config: {exc}"
        ) from exc
    return model.eval()


def safe_extract(archive: str | Path, dest: str | Path) -> Path:
    """Extract a zip or tar archive into ``dest``, refusing any member that escapes it.

    Raises:
        InvalidInputError: on absolute paths, ``..`` components, or links leaving ``dest``.
    """
    src = Path(archive)
    out = Path(dest).resolve()
    out.mkdir(parents=True, exist_ok=True)

    def check(name: str) -> None:
        target = (out / name).resolve()
        if os.path.isabs(name) or not target.is_relative_to(out):
            raise InvalidInputError(
                f"archive {str(src)!r} member {name!r} would be written outside {str(out)!r}"
            )

    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            for zname in zf.namelist():
                check(zname)
            zf.extractall(out)
    elif tarfile.is_tarfile(src):
        with tarfile.open(src) as tf:
            for member in tf.getmembers():
                check(member.name)
                if member.issym() or member.islnk():
                    check(os.path.join(os.path.dirname(member.name), member.linkname))
                if member.isdev():
                    raise InvalidInputError(
                        f"archive {str(src)!r} member {member.name!r} is a device file"
                    )
            tf.extractall(out, filter="data")
    else:
        raise InvalidInputError(f"{str(src)!r} is neither a zip nor a tar archive")
    return out


_HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
_HF_CONFIGS = ("config.json", "processor_config.json", "preprocessor_config.json",
               "tokenizer_config.json")


def safe_pretrained_folder(path: str | Path, what: str) -> Path:
    """Check a local Hugging Face folder before ``from_pretrained`` (no pickles, no remote code).

    Needs ``config.json`` and safetensors weights (``model.safetensors`` or its sharded
    index): pickled ``pytorch_model*.bin`` weights are refused rather than unpickled, and a
    model, processor or tokenizer config whose ``auto_map`` asks for the folder's own Python
    code is refused (``trust_remote_code`` is never set).

    Raises:
        InvalidInputError: no such folder or no ``config.json``.
        CheckpointError: no safetensors weights, or the config needs remote code.
    """
    p = Path(path)
    if not p.is_dir() or not (p / "config.json").is_file():
        raise InvalidInputError(
            f"local {what} folder {str(p)!r} not found (needs config.json and weights in "
            "Hugging Face layout; nothing is downloaded)"
        )
    if not any((p / w).is_file() for w in _HF_WEIGHTS):
        pickled = sorted(q.name for q in p.glob("*.bin")) + sorted(q.name for q in p.glob("*.pt*"))
        found = f" (found pickled {', '.join(pickled)}: not loaded)" if pickled else ""
        raise CheckpointError(
            f"local {what} folder {str(p)!r} has no safetensors weights{found}; save it with "
            "save_pretrained (safetensors) or convert the weights"
        )
    for name in _HF_CONFIGS:
        f = p / name
        if not f.is_file():
            continue
        try:
            cfg = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{f} is not readable JSON: {err}") from err
        if isinstance(cfg, dict) and cfg.get("auto_map"):
            raise CheckpointError(
                f"local {what} folder {str(p)!r} needs its own Python code (auto_map in "
                f"{name}); remote code is never executed: use a model transformers supports"
            )
    return p
