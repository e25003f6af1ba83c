"""AnyChange (Segment Any Change, NeurIPS 2024): zero-shot change detection on SAM."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="anychange",
        family="change",
        status="working",
        summary=(
            "Zero-shot change detection: SAM (or any proposer + feature extractor) mask "
            "proposals, bitemporal latent matching, NMS/top-k merge, point query; tiled "
            "GeoTIFF in, probability/binary GeoTIFFs and GeoJSON out."
        ),
        demo="geoneurips.change.anychange.pipeline:demo",
        dataset="geoneurips.change.anychange.data:LEVIRCD",
        model="geoneurips.change.anychange.model:AnyChange",
        commands={"change": "geoneurips.change.anychange.cli:change"},
        notes=(
            "Real SAM weights are user-supplied (--checkpoint); tests use a tiny random SAM "
            "and the SAM-free SLIC + spectral/texture back end. Readers for LEVIR-CD and "
            "SECOND; S2Looking/xView2 not included."
        ),
    )
)
