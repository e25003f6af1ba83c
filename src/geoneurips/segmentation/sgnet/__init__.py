"""SGNet: surrounding-guided segmentation of ultra-large images (Wang et al., NeurIPS 2024)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="sgnet",
        family="segmentation",
        status="partial",
        summary=(
            "Surrounding-context branch (W-MSA + conv + GAP) around any segmentation net; "
            "streams GeoTIFFs larger than memory"
        ),
        demo="geoneurips.segmentation.sgnet.pipeline:demo",
        dataset="geoneurips.segmentation.sgnet.data:InriaAerial",
        model="geoneurips.segmentation.sgnet.model:SGNet",
        commands={"segment": "geoneurips.segmentation.sgnet.cli:segment"},
        notes=(
            "No public code: built from the paper. Loss weights (aux 0.4, boundary 0.5), "
            "W-MSA window and context scale 3 are our defaults. Dataset: Inria Aerial layout "
            "(no real Inria sample in shared data; the patch reader is checked on a real "
            "GeoTIFF). Missing: benchmark numbers (runs timed out on the shared machine); the "
            "demo takes ~3 min on the loaded shared machine, not yet verified at ~60 s."
        ),
    )
)
