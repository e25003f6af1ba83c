"""The TorchSpatial demo: location encoders compared on a task where the sphere matters.

TorchSpatial's point (Wu et al., arXiv 2406.15658, Sec. 4.1, Table 3) is the comparison of
location encoders inside the same location prior: the spherical encoders (Sphere2Vec,
Mai et al. 2023) are claimed to beat the planar ones (wrap, rbf, Space2Vec) where planar
lon/lat geometry is wrong, near the poles and across the antimeridian. The demo tests that
claim on :func:`.synthetic.make_synthetic_species` (species ranges that cap the poles or
straddle the date line, confusable twins, an image classifier that mixes twins up):

* method: image classifier x Sphere2Vec-sphereC+ prior (the paper's best overall);
* baselines: "no prior" (image classifier alone) and the same prior with the strongest
  simple encoders: ``wrap`` (Mac Aodha et al. 2019), ``rbf`` (200 anchors from the training
  locations) and ``space2vec_theory``; every prior gets the same locations, network, loss,
  optimiser and epochs; the strongest baseline on Top-1 decides;
* ablation: ``xyz`` (the point on the sphere without Sphere2Vec's multi-scale sinusoids).

The data go through :func:`.data.write_fixture` in the BirdSnap layout and are read back with
:class:`.data.BirdSnap`; test points come from random streams never used in training.
Scales were set once for every encoder on seeds 0-2 of the task (rbf kernel 10 deg,
Space2Vec ``r_min`` 3 deg, Sphere2Vec ``r_min`` 0.03), not per seed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geoneurips.demo import DemoResult, finish, new_figure
from geoneurips.seed import seed_everything, single_thread

from .data import BirdSnap, write_fixture
from .model import combine
from .pipeline import classification_metrics, predict_prior, train_prior, write_results_csv
from .synthetic import make_synthetic_species

__all__ = ["DEMO_MARGIN", "ENCODER_SETTINGS", "METHOD", "run_demo"]

#: Top-1 (fraction) by which sphereC+ must beat the strongest baseline.
DEMO_MARGIN = 0.01

METHOD = "sphere_c_plus"
BASELINE_ENCODERS = ("wrap", "rbf", "space2vec_theory")
ABLATIONS = ("xyz",)

_COMMON: dict[str, Any] = {"out_dim": 64, "hidden_dim": 128, "dropout": 0.1}
#: encoder -> keyword arguments of ``build_encoder`` (besides :data:`_COMMON`)
ENCODER_SETTINGS: dict[str, dict[str, Any]] = {
    "sphere_c_plus": {"frequency_num": 16, "min_radius": 0.03},
    "wrap": {},
    "rbf": {"kernel_size": 10.0},
    "space2vec_theory": {"frequency_num": 16, "min_radius": 3.0, "max_radius": 360.0},
    "xyz": {},
}
_LABELS = {"sphere_c_plus": "sphereC+", "wrap": "wrap", "rbf": "rbf",
           "space2vec_theory": "Space2Vec-theory", "xyz": "xyz", "no_prior": "no prior"}
_DIRECTIONS = {"top1": "max", "top3": "max", "top5": "max", "top10": "max", "mrr": "max"}


def run_demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Run the demo (see the module docstring); ``pipeline.demo`` calls this."""
    started = time.perf_counter()
    # one thread: the same float order on any core count (and fastest for tiny models)
    with single_thread():
        return _run(Path(out_dir), quick, seed, started)


def _run(out: Path, quick: bool, seed: int, started: float) -> DemoResult:
    seed_everything(seed)
    n_cls, per_train, per_test, epochs = (24, 15, 30, 60) if quick else (40, 15, 40, 100)
    syn = make_synthetic_species(n_cls, per_train, per_test, seed)
    root = write_fixture(out / "locbench_synthetic", "birdsnap", splits=syn.splits,
                         class_names=[f"species_{c:02d}" for c in range(n_cls)])
    train, test = BirdSnap(root, split="train"), BirdSnap(root, split="test")
    assert test.image_probs is not None
    image = torch.from_numpy(test.image_probs)
    anchors = train.lonlat[np.random.default_rng([seed, 9]).choice(
        len(train), min(200, len(train)), replace=False)]

    results: dict[str, dict[str, float]] = {}
    tasks: dict[str, Any] = {}
    csvs = []
    for name in (METHOD, *BASELINE_ENCODERS, *ABLATIONS):
        kw = {**_COMMON, **ENCODER_SETTINGS[name]}
        if name == "rbf":
            kw["anchors"] = torch.from_numpy(anchors.astype(np.float64))
        task = train_prior(train, encoder=name, encoder_kwargs=kw, max_epochs=epochs,
                           batch_size=256, lr=5e-3, seed=seed)
        scores = combine(image, torch.from_numpy(predict_prior(task, test.lonlat))).numpy()
        results[name] = classification_metrics(scores, test.labels)
        tasks[name] = task
        csvs.append(write_results_csv(out / f"eval_synthetic_{name}.csv", test.lonlat, scores,
                                      test.labels))
    results["no_prior"] = classification_metrics(test.image_probs, test.labels)
    csvs.append(write_results_csv(out / "eval_synthetic_no_prior.csv", test.lonlat,
                                  test.image_probs, test.labels))

    baselines = {n: results[n] for n in ("no_prior", *BASELINE_ENCODERS)}
    fig = _figure(tasks, results, syn, train)
    details = {
        "num_classes": n_cls, "train_size": len(train), "test_size": len(test),
        "epochs": epochs, "method": METHOD,
        "encoder_settings": {n: {**_COMMON, **ENCODER_SETTINGS[n]} for n in ENCODER_SETTINGS},
        "rbf_anchors": int(anchors.shape[0]),
        "task": "species ranges capping the poles / straddling the antimeridian, twins "
                "10 deg apart; test points from unseen random streams",
        "layout": "BirdSnap (birdsnap_with_loc_2019.json + features_inception/*_preds_sparse.npz)",
        "results_csv": [str(p) for p in csvs],
    }
    return finish(
        "torchspatial", results[METHOD], baselines=baselines, primary="top1",
        margin=DEMO_MARGIN, directions=_DIRECTIONS, figure=fig, out_dir=out, started=started,
        ablations={n: results[n] for n in ABLATIONS}, details=details,
    )


def _figure(tasks: dict[str, Any], results: dict[str, dict[str, float]], syn: Any,
            train: BirdSnap) -> Any:
    fig, axes = new_figure(3, 1, size=4.2)
    species = 0  # a pole-capping species
    lon = np.linspace(-180, 180, 181)
    lat = np.linspace(-89.5, 89.5, 90)
    grid = np.stack(np.meshgrid(lon, lat), -1).reshape(-1, 2).astype(np.float32)
    sel = train.labels == species
    twin = int(syn.pairs[species])
    for ax, name in zip(axes[0, :2], (METHOD, "rbf"), strict=True):
        pmap = predict_prior(tasks[name], grid)[:, species].reshape(lat.size, lon.size)
        ax.imshow(pmap, origin="lower", extent=(-180, 180, -89.5, 89.5), cmap="magma",
                  vmin=0, vmax=1, aspect="auto")
        ax.scatter(train.lonlat[sel, 0], train.lonlat[sel, 1], s=5, c="cyan", label="train obs.")
        tw = train.labels == twin
        ax.scatter(train.lonlat[tw, 0], train.lonlat[tw, 1], s=5, c="lime",
                   label=f"look-alike {twin}")
        ax.legend(loc="center left", fontsize=7)
        ax.set_title(f"P(y={species} | x), {_LABELS[name]} prior")
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
    ax = axes[0, 2]
    names = ["no_prior", *BASELINE_ENCODERS, *ABLATIONS, METHOD]
    vals = [results[n]["top1"] for n in names]
    colours = ["grey"] + ["tab:blue"] * len(BASELINE_ENCODERS) + ["tab:orange"] * len(ABLATIONS)
    ax.barh(range(len(names)), vals, color=[*colours, "tab:red"])
    ax.set_yticks(range(len(names)), [_LABELS[n] for n in names])
    for i, v in enumerate(vals):
        ax.text(v + 0.005, i, f"{v:.3f}", va="center", fontsize=8)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("Top-1 (image x prior)")
    ax.set_title("test split (unseen seeds)")
    fig.tight_layout()
    return fig
