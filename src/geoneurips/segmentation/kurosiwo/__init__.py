"""Kuro Siwo: a global multi-temporal SAR flood mapping dataset (Bountos et al., NeurIPS 2024
Datasets and Benchmarks)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="kurosiwo",
        family="segmentation",
        status="working",
        summary=(
            "GRD patch layout, SLC grid index and event catalogue readers, RandomEvents/"
            "Climatic splits; U-Net, Siam-Conc/Diff, SNUNet on post + pre-event SAR"
        ),
        demo="geoneurips.segmentation.kurosiwo.pipeline:demo",
        dataset="geoneurips.segmentation.kurosiwo.data:KuroSiwo",
        model="geoneurips.segmentation.kurosiwo.model:UNet",
        commands={"flood-map": "geoneurips.segmentation.kurosiwo.cli:flood_map"},
        notes=(
            "Readers checked on the real catalogue.yaml (45 events, !join tag) and "
            "slc_grid_pwater_0.0001.json (20,552 grids, 43 events; 3 act/AOI pairs absent "
            "from the catalogue, as published); no real GRD patch offline, so the patch "
            "reader is checked on our fixture. Published Climatic split lists not retrieved: "
            "the Climatic track takes caller-given 'actid_aoi' lists. Models small, random "
            "init (no ResNet/MAE encoders; no UPerNet, DeepLabv3, BIT, ChangeFormer, "
            "HFA-Net, ADHR-CDNet, TransUNet-CD, ConvLSTM, FloodViT). Demo (synthetic SAR "
            "where flood vs permanent water needs the pre-event dates and tarmac is "
            "water-dark in VV): mIoU U-Net post+pre 0.99 (quick 0.96-0.97) vs Otsu change "
            "on VH 0.76-0.77 (the strongest since 2026-12-07: VH is not fooled by the "
            "tarmac; quick seeds 0-4 0.760/0.768/0.758/0.764/0.757, full 0-2 "
            "0.758/0.770/0.758; smallest lead 0.190, quick seed 1), Otsu change on VV "
            "0.70-0.73, post-only U-Net 0.48-0.57, Otsu post 0.41-0.43 (seeds 0-2); "
            "margin 0.15. Siam-Diff/Siam-Conc/SNUNet learn the same task (mIoU 0.82-0.95 "
            "vs Otsu change 0.57-0.61 on a smaller setting). TorchGeo's Copernicus-Bench "
            "Flood-S1 reader reads our fixture the same way. flood-map runs on the real "
            "Sen1Floods11 S1 sample (dB -> linear)."
            " Budget audit (2026-12-07, full demo, every trained arm trained 2x longer, one "
            "thread): seed 0 mIoU 0.998 vs Otsu on the VV change 0.701 (+0.296; 1x +0.293), post-"
            "only U-Net 0.537 (1x 0.556), no regressions."
        ),
    )
)
