"""MMM-RS: a multi-modal, multi-GSD, multi-scene remote sensing dataset and benchmark for
text-to-image generation (Luo et al., NeurIPS 2024 Datasets and Benchmarks)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="mmmrs",
        family="vision_language",
        status="partial",
        summary=(
            "MMM-RS builder (square centre crops, resizing rules, multi-GSD crops, 512-px "
            "tiles, fog/low-light/snow, GSD-binned prompts) on GeoTIFF folders; SD + UNet "
            "LoRA with DPM++ 2M Karras; FID/IS/CLIP-score from local weights"
        ),
        demo="geoneurips.vision_language.mmmrs.pipeline:demo",
        dataset="geoneurips.vision_language.mmmrs.data:MMMRS",
        model="geoneurips.vision_language.mmmrs.model:load_pipeline",
        commands={"mmmrs-build": "geoneurips.vision_language.mmmrs.cli:mmmrs_build"},
        notes="work in progress",
    )
)
