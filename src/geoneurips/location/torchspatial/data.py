"""LocBench datasets of TorchSpatial (Wu et al., arXiv 2406.15658, Sec. 3 and App. "LocBench").

Readers for the *published* on-disk layouts of the LocBench tasks (figshare DOI
10.6084/m9.figshare.26026798, one tar per dataset; CC BY-NC 4.0), as read by the reference
loader ``main/datasets.py`` of github seai-lab/TorchSpatial. The image classifier is frozen
in LocBench: the files hold pre-computed image-classifier predictions (softmax, InceptionV3;
MoCo-v3 for fMoW) and 2048-d image features, never images.

============  ==========================================================================
dataset       files under ``root``
============  ==========================================================================
BirdSnap /    ``birdsnap_with_loc_2019.json`` (``nabirds_with_loc_2019.json``):
NABirds       ``{"train"|"valid"|"test": [{"valid_image", "im_path", "class_id",
              "orig_meta"|"ebird_meta": {"user_id", "lon", "lat", "date"}}], "classes": [..]}``;
              ``features_inception/<ds>_<split>_preds_sparse.npz`` (scipy sparse, one row per
              entry with ``valid_image``) and ``<ds>_<split>_net_feats.npy``.
              BirdSnap† / NABirds† are the ``ebird_meta`` (eBird-simulated) locations.
iNat2017/18   ``<split><year>_locations.json`` ``[{"id", "lon", "lat", "date_c", "user_id"}]``,
              COCO-style ``<split><year>.json`` (``images``, ``annotations``),
              ``categories<year>.json``, ``features_inception/inat<year>_<split>_preds_sparse.npz``.
YFCC          ``train_test_split.csv`` (``lon, lat, class, split``), ``class_names.csv``
              (``id, name``), ``features_inception/YFCC_<split>_preds.npy``.
fMoW          ``<split>_location.json``, ``<split>.json`` (COCO-style), ``category.json``
              (``{name: id}``), ``feature_moco/fmow_<split>_preds.npy``.
MOSAIKS       ``Y_<name>.csv`` (``lon, lat, split, <name>``) and ``X_<name>.npy`` (N x 2048).
SustainBench  ``dhs_{trainval,test}_labels.csv`` (``lon, lat, nl_mean, <label>_normalized``);
              see :mod:`.readers_sustainbench`.
============  ==========================================================================

Every dataset is a map-style ``torch.utils.data.Dataset`` following TorchGeo's
``NonGeoDataset`` protocol: ``__getitem__`` returns a dict with ``"lonlat"`` (2,) float32
(longitude first, degrees), ``"label"`` (int64) or ``"target"`` (float32), and
``"image_probs"`` (C,) / ``"image_features"`` (D,) when loaded; ``plot`` draws a map of the
locations coloured by class. :func:`write_fixture` writes a small synthetic dataset in
exactly these layouts.

The readers live in :mod:`.readers_json` (BirdSnap, NABirds, iNat, fMoW) and
:mod:`.readers_csv` (YFCC, MOSAIKS), on the shared base of :mod:`.locbench`; the fixture
writers in :mod:`.fixtures`. This module re-exports every public name, so
``from geoneurips.location.torchspatial.data import ...`` keeps working.
"""

from __future__ import annotations

from geoneurips.location.torchspatial.fixtures import DATASETS, SplitArrays, write_fixture
from geoneurips.location.torchspatial.locbench import FIGSHARE_URL, LocBenchClassification
from geoneurips.location.torchspatial.locbench import Transform as Transform
from geoneurips.location.torchspatial.readers_csv import YFCC, Mosaiks
from geoneurips.location.torchspatial.readers_json import BirdSnap, FMoW, INat, NABirds
from geoneurips.location.torchspatial.readers_sustainbench import (
    SUSTAINBENCH_LABELS,
    SustainBench,
    write_sustainbench_fixture,
)

__all__ = [
    "DATASETS",
    "FIGSHARE_URL",
    "YFCC",
    "BirdSnap",
    "FMoW",
    "INat",
    "LocBenchClassification",
    "Mosaiks",
    "NABirds",
    "SUSTAINBENCH_LABELS",
    "SplitArrays",
    "SustainBench",
    "write_fixture",
    "write_sustainbench_fixture",
]
