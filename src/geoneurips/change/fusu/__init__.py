"""FUSU: fine-grained urban land-use change segmentation (Yuan et al., NeurIPS 2024)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="fusu",
        family="change",
        status="working",
        summary=(
            "FUSU dataset reader (bi-temporal HR + monthly Sentinel series) and FUSU-Net "
            "(shared HR encoder, U-TAE, fusion, ASPP/SPP heads) with SECOND-style SeK/Score"
        ),
        demo="geoneurips.change.fusu.pipeline:demo",
        dataset="geoneurips.change.fusu.data:FUSU",
        model="geoneurips.change.fusu.model:FUSUNet",
        commands={"fusu-change": "geoneurips.change.fusu.cli:fusu_change"},
        notes=(
            "No real FUSU sample exists in shared/data, so the reader is tested on the "
            "project's own fixture in the published layout only. HRNet-w18 (timm, random init "
            "or a local checkpoint) is the paper default; tests and the demo use the tiny "
            "U-Net stand-in. The demo's synthetic series tells cropland from grass only by "
            "temporal dynamics (equal single-date distributions); baselines: the same network "
            "without the series and the public zoo's Siamese U-Net. SeK counts background "
            "reference pixels as the published metric does. `fusu-change` applies a "
            "checkpoint (pipeline.save_model; the demo writes fusu_demo.pt) to GeoTIFFs: "
            "land-use maps of both dates + binary change."
        ),
    )
)
