"""Does a `working` demo's lead survive a longer training budget for every arm?

Runs one system's full demo with every trained arm's budget (epochs / steps / boosting
rounds) multiplied by ``FACTOR`` -- the method, its ablations and its baselines alike --
without editing the library: each system's budget knob is patched here (module constants,
or a wrapper that scales the budget argument of the training function every arm goes
through). Compare the written ``<id>.json`` with the normal full demo's (``FACTOR`` 1).

A lead that holds only at the demo's budget shows faster convergence, not the paper's
claim; the systems' notes record this audit's results (2x, seed 0; AllClear also 4x).

    python benchmarks/budget_audit.py fusu 2 [SEED] [OUT_DIR]
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

#: system -> the module holding ``demo`` and its budget knobs
MODULES = {"fusu": "change.fusu.pipeline", "kurosiwo": "segmentation.kurosiwo.pipeline",
           "opensatmap": "segmentation.opensatmap.pipeline",
           "oamtcd": "segmentation.oamtcd.demo", "allclear": "restoration.allclear.pipeline",
           "cosmic": "restoration.cosmic.demo", "solarcube": "forecasting.solarcube.pipeline",
           "geoplant": "location.geoplant.pipeline",
           "vrsbench": "vision_language.vrsbench.pipeline",
           "synrs3d": "segmentation.synrs3d.pipeline"}


def scale_argument(mod: ModuleType, name: str, arg: str, factor: int,
                   position: int | None = None) -> None:
    """Replace ``mod.name`` by a wrapper multiplying its budget argument ``arg`` (keyword,
    or positional index ``position``); fails loudly if a call does not pass it."""
    original: Callable[..., Any] = getattr(mod, name)

    @functools.wraps(original)
    def scaled(*args: Any, **kwargs: Any) -> Any:
        args_list = list(args)
        if arg in kwargs:
            kwargs[arg] *= factor
        elif position is not None and len(args_list) > position:
            args_list[position] *= factor
        else:
            raise RuntimeError(f"{name}: budget argument {arg!r} not passed explicitly")
        return original(*args_list, **kwargs)

    setattr(mod, name, scaled)


def patch(system: str, mod: ModuleType, factor: int) -> None:
    """Multiply every trained arm's budget of ``system``'s full demo by ``factor``."""
    if system == "fusu":  # epochs are a local of _demo; every arm calls train_and_evaluate
        scale_argument(mod, "train_and_evaluate", "epochs", factor, position=2)
    elif system == "kurosiwo":  # both U-Nets; the Otsu baselines are not trained
        scale_argument(mod, "train_model", "epochs", factor)
    elif system == "opensatmap":  # (train scenes, epochs) of every network
        mod.FULL = (mod.FULL[0], mod.FULL[1] * factor)
    elif system == "oamtcd":  # every U-Net arm, and the reported Mask R-CNN
        mod.EPOCHS *= factor
        mod.MASK_RCNN_STEPS *= factor
    elif system == "allclear":  # Recipe.steps is bound as a default: scale _fit's steps
        scale_argument(mod, "_fit", "steps", factor, position=2)
    elif system == "cosmic":  # COSMIC's codec + compensation, the learned baselines' codecs
        for name in ("train_codec", "train_compensation", "train_rd_codec"):
            scale_argument(mod, name, "steps", factor)
    elif system == "solarcube":  # ConvLSTM, Cuboid and point models; baselines closed-form
        scale_argument(mod, "train", "steps", factor)
    elif system == "geoplant":  # every ResNet arm, and LightGBM's boosting rounds
        scale_argument(mod, "fit", "epochs", factor, position=2)
        boosted = mod.GradientBoostedSpecies

        def more_rounds(*args: Any, **kwargs: Any) -> Any:
            kwargs["n_estimators"] = factor * kwargs.get("n_estimators", 300)
            return boosted(*args, **kwargs)

        mod.GradientBoostedSpecies = more_rounds
    elif system == "synrs3d":  # (source, adaptation, test scenes, iterations of every arm);
        mod.FULL = (*mod.FULL[:3], mod.FULL[3] * factor)  # adaptation starts at a fraction
    elif system == "vrsbench":  # (train scenes, test scenes, epochs, width); baselines untrained
        n, t, e, w = mod.DEMO_FULL
        mod.DEMO_FULL = (n, t, e * factor, w)
    else:
        raise SystemExit(f"no budget knobs recorded for {system!r}: {sorted(MODULES)}")


def main() -> None:
    system, factor = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    out = Path(sys.argv[4]) if len(sys.argv) > 4 else Path(f"budget_audit/{system}_{factor}x_{seed}")
    mod = importlib.import_module(f"geoneurips.{MODULES[system]}")
    if factor != 1:
        patch(system, mod, factor)
    started = _cpu()
    mod.demo(out, quick=False, seed=seed)
    result = json.loads((out / f"{system}.json").read_text())
    primary = result["primary"]
    strongest = result["strongest_baseline"]
    print(json.dumps({
        "system": system, "factor": factor, "seed": seed, "primary": primary,
        "method": result["metrics"][primary],
        "strongest_baseline": strongest, "baseline": result["baselines"][strongest][primary],
        "margin": result["margin"], "beats_baseline": result["beats_baseline"],
        "regressions": [(r["metric"], r["ours"], r["best"], bool(r["explanation"]))
                        for r in result["regressions"]],
        "cpu_s": round(_cpu() - started, 1)}, indent=1))


def _cpu() -> float:
    """CPU seconds of this process and of its finished child processes (the demos' worker
    processes, :mod:`geoneurips.parallel`)."""
    import resource

    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


if __name__ == "__main__":
    main()
