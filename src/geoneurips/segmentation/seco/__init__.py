"""SeCo (NeurIPS 2024): connectivity-driven correction of segmentation pseudo-labels."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="seco",
        family="segmentation",
        status="working",
        summary=(
            "Pseudo-label refinement: pixel semantic aggregation over SAM (or Felzenszwalb) "
            "segments and box/point-prompted things, then semantic connectivity correction "
            "(mask-guided component classifier, loss thresholds, drop/relabel); LoveDA "
            "reader; GeoTIFF/PNG label maps in and out."
        ),
        demo="geoneurips.segmentation.seco.pipeline:demo",
        dataset="geoneurips.segmentation.seco.data:LoveDA",
        model="geoneurips.segmentation.seco.model:SeCo",
        commands={"seco-refine": "geoneurips.segmentation.seco.cli:seco_refine"},
        notes=(
            "SAM weights are user-supplied (--sam-checkpoint); tests use AnyChange's tiny "
            "random SAM and the SAM-free Felzenszwalb/region-growing back end. The SCC "
            "classifier is trained from scratch unless local ResNet weights are given. "
            "Large rasters are refined tile by tile (thresholds per tile). No real LoveDA "
            "sample is available offline; the reader is tested on a fixture and against "
            "torchgeo's reader."
        ),
    )
)
