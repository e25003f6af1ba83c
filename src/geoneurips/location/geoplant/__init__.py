"""GeoPlant (arXiv 2408.13928): GeoLifeCLEF 2024 species prediction from multi-modal EO."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="geoplant",
        family="location",
        status="partial",
        summary=(
            "GLC24 PA/PO readers (long-format metadata, S2 RGB/NIR JPEG trees, Landsat and "
            "bioclim cubes, environmental CSVs), ResNet-6 per modality, multi-modal ensemble, "
            "top-25 district and LightGBM baselines, top-25 samples-F1, submission CSV"
        ),
        demo="geoneurips.location.geoplant.pipeline:demo",
        dataset="geoneurips.location.geoplant.data:GeoPlantPA",
        model="geoneurips.location.geoplant.model:SpeciesModel",
        notes=(
            "PARTIAL since 2026-12-07: the demo lacked the multi-modal model a practitioner "
            "builds first from the three single-modality ResNet-6 models, their late fusion "
            "(mean predicted probability, pipeline.late_fusion, no extra training). It is "
            "the strongest baseline on every run and the ensemble (joint fine-tuning of the "
            "fused encoders) leads it by less than the 0.02 margin on 6 of 8: F1@25 MME / "
            "late fusion, quick seeds 0-4 0.332/0.317, 0.345/0.330, 0.341/0.323, "
            "0.345/0.328, 0.344/0.326 (+0.015/+0.015/+0.018/+0.017/+0.018), full seeds 0-2 "
            "0.343/0.326, 0.355/0.328, 0.356/0.328 (+0.017/+0.027/+0.028): decides False "
            "on every quick seed and full seed 0. The ensemble does lead it on every run, "
            "on recall@25 (quick 0.725-0.743 vs 0.690-0.709) and macro-AUC too, and beats "
            "the best single modality, the district top-25 and LightGBM by more than the "
            "margin (the issue's bar); missing for working: a lead over the late fusion by "
            "the margin (the margin was not lowered to keep the status). "
            "The tree baseline is LightGBM (the paper used XGBoost); the malpolon "
            "ResNet18 + Swin-T variant and the GLC25 GeoTIFF patches are not implemented"
            ". Budget audit (2026-12-07, full demo, every trained arm trained 2x longer, one "
            "thread): F1@25 leads over LightGBM (600 trees) +0.034 / +0.040 / +0.045 on seeds 0 /"
            " 1 / 2 (1x +0.038 / +0.047 / +0.051; every arm slightly worse), no regressions."
        ),
    )
)
