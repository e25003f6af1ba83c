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
        # measured: the quick demo (80 epochs) is on a knife edge (whether the series branch
        # learns at all turns on 1e-5 changes: quick seed 3 leads by 0.002, by 0.088 with
        # the pre-shared date encoding, -0.006 on two threads); the full demo decides
        quick_decides=False,
        notes=(
            "The full demo decides (quick_decides False). Full demo SeK leads over the "
            "strongest baseline, seeds 0-4: 0.101 / 0.085 / 0.171 / 0.092 / 0.165 (margin "
            "0.05; no regression on any run). The quick demo's seed 3 does not clear the "
            "margin (lead 0.002; the time-series branch does not learn in 80 epochs there, "
            "cropland / grass IoU 0.25 / 0.41 vs 0.70 / 0.74; 0.088 with the date encoding "
            "before the shared one, which differs by at most 3e-5). "
            "No real FUSU sample exists in shared/data, so the reader is tested on the "
            "project's own fixture in the published layout only. HRNet-w18 (timm, random init "
            "or a local checkpoint) is the paper default; tests and the demo use the tiny "
            "U-Net stand-in. The demo's synthetic series tells cropland from grass only by "
            "temporal dynamics (equal single-date distributions); baselines: the same network "
            "without the series and the public zoo's Siamese U-Net. SeK counts background "
            "reference pixels as the published metric does. `fusu-change` applies a "
            "checkpoint (pipeline.save_model; the demo writes fusu_demo.pt) to GeoTIFFs: "
            "land-use maps of both dates + binary change."
            " Budget audit (2026-12-07, full demo, every trained arm trained 2x longer, one "
            "thread): seed 0 SeK 0.805 vs no-time-series 0.653 (+0.151; 1x +0.101), no "
            "regressions."
        ),
    )
)
