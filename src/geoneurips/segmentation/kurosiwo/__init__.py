"""Kuro Siwo: a global multi-temporal SAR flood mapping dataset (Bountos et al., NeurIPS 2024
Datasets and Benchmarks)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="kurosiwo",
        family="segmentation",
        status="partial",
        summary=(
            "GRD patch layout, SLC grid index and event catalogue readers, RandomEvents/"
            "Climatic splits; U-Net, Siam-Conc/Diff, SNUNet on post + pre-event SAR"
        ),
        demo="geoneurips.segmentation.kurosiwo.pipeline:demo",
        dataset="geoneurips.segmentation.kurosiwo.data:KuroSiwo",
        model="geoneurips.segmentation.kurosiwo.model:UNet",
        commands={"flood-map": "geoneurips.segmentation.kurosiwo.cli:flood_map"},
        notes="work in progress",
    )
)
