"""SGNet: surrounding-guided segmentation of ultra-large images (Wang et al., NeurIPS 2024)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="sgnet",
        family="segmentation",
        status="working",
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
            "GeoTIFF). Demo: SGNet mIoU 0.996 vs. 0.523 for the plain sliding window "
            "(margin 0.10), about 1 min of CPU. Benchmark on a 2.06 GiB GeoTIFF "
            "(benchmarks/README.md, SGNet section): peak RSS SGNet / plain 1.02, "
            "independent of the raster height; throughput per CPU second 0.44 (minimal "
            "networks) to 0.60 (default-size networks). No pretrained weights."
        ),
    )
)
