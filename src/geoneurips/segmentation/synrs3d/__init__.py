"""SynRS3D / RS3DAda: synthetic-to-real 3D understanding of remote-sensing images (Song et
al., NeurIPS 2024 Datasets and Benchmarks)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="synrs3d",
        family="segmentation",
        status="partial",
        summary=(
            "SynRS3D source folders and real-target readers (DFC19/OEM/ISPRS remaps, "
            "3-class combined scheme, nDSM cleaning); RS3DAda (DINOv2-shaped ViT + DPT "
            "height / land-cover heads, EMA teacher, ClassMix, FDA/HM/PDA); published "
            "height metrics"
        ),
        demo="geoneurips.segmentation.synrs3d.pipeline:demo",
        dataset="geoneurips.segmentation.synrs3d.data:SynRS3D",
        model="geoneurips.segmentation.synrs3d.model:RS3DModel",
        commands={"height": "geoneurips.segmentation.synrs3d.cli:height"},
        notes=(
            "Readers for the published source / real-target layouts (split lists; OEM, "
            "DFC19, ISPRS normal and combined remaps of utils/datasets_config.py; nDSM "
            "NaN or > 450 m -> 0) checked on our fixture writer and on a real RGB GeoTIFF "
            "as a target image; no real SynRS3D file is offline, and TorchGeo 0.8.1 has no "
            "reader for this layout (its GeoNRW / DFC2022 readers take the original "
            "layouts; no fixtures offline). Metrics as utils/metrics.py (per image; "
            "heights <= 0 -> 1e-6, so 'whole' is every pixel; >= 49 px; F1^HE at 1.25^k), "
            "checked by hand and against scikit-learn. RS3DAda: every component is "
            "implemented and unit-tested (DINOv2-shaped timm ViT with a local DINOv2 "
            "checkpoint through the safe loader, DPT heads, source loss, frozen-feature "
            "constraint, EMA teacher, photometric view, height-consistency and confidence "
            "weights, ground-guided refinement, ClassMix, FDA / HM / PDA). Why partial: the "
            "demo does not clear the bar. Quick demo, F1^HE(1.25) on the shifted target, "
            "RS3DAda / source-only / HM + jitter / ablation without self-training: seed 0 "
            "0.390 / 0.253 / 0.289 / 0.378, but RMSE, high-pixel MAE/RMSE and mIoU worse "
            "than a baseline (unexplained); seed 1 0.373 / 0.000 / 0.048 / 0.341, better on "
            "every metric (beats_baseline true); seed 2 0.000 / 0.307 / 0.293 / 0.335: "
            "self-training collapsed to predicting 0 m (not caused by the weights: it "
            "persists with the public code's 0/0-inconsistent height ratio and the "
            "segmentation-confidence weight for heights during warm-up). Full demo, seed 0: "
            "0.000 / 0.000 / 0.424 / 0.000 (only HM + jitter predicts heights on the "
            "target). The baselines are "
            "unstable at this scale and the gain of self-training over the ablation is "
            "small where it works (0.01-0.04). Deliberate "
            "differences (random tiny ViT on CPU): the first half of training is source "
            "training with style augmentation standing in for DINOv2 pretraining (feature "
            "constraint and teacher start from it; from step 0 the constraint to random "
            "features stops the heads learning); lr 1e-3; FDA beta 0.05 (64 px); strong "
            "augmentation of ClassMix images off in the demo (it cost F1^HE 0.39 -> 0.20, "
            "seed 0); style references from the target's train.txt, not test.txt as the "
            "public loader does; plain PyTorch loop, no LightningModule. The quick demo "
            "takes 62-69 CPU-s (64 s wall), three times the budget; the full one 75 s. The "
            "height command writes the "
            "nDSM and land cover in two streamed passes."
        ),
    )
)
