"""OpenSatMap: fine-grained high-resolution satellite dataset for large-scale map
construction (Zhao et al., NeurIPS 2024 Datasets & Benchmarks)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="opensatmap",
        family="segmentation",
        status="partial",
        summary=(
            "OpenSatMap annotation JSON reader + the released rasterisation (1-px lines per "
            "attribute, overlaps ignored, instance/direction maps, BGR on disk), tiling, "
            "U-Net on dilated lines, watershed instances, polylines, mIoU / mask AP / "
            "chamfer line AP"
        ),
        demo="geoneurips.segmentation.opensatmap.pipeline:demo",
        dataset="geoneurips.segmentation.opensatmap.data:OpenSatMap",
        model="geoneurips.segmentation.opensatmap.model:build_model",
        commands={"lanes": "geoneurips.segmentation.opensatmap.cli:lanes"},
        notes="in progress",
    )
)
