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
            "weights, ground-guided refinement, ClassMix, FDA / HM / PDA). Fixed: the "
            "collapses to one constant height (old quick demo: source-only seed 1, RS3DAda "
            "seed 2, three of four runs of the full demo at F1^HE 0) were the height head "
            "dying after one huge step (lr 1e-3, decoder 1e-2, no clipping: pre-activations "
            "std ~240, 1 of 32 ReLUs alive, 0.145 m everywhere); every run now uses lr 3e-4, "
            "decoder x10, gradient clipping 1.0 (regression test on the old collapse's "
            "data); no run collapses on seeds 0-2 or 10-12. Why still partial: with the "
            "collapse gone RS3DAda does not beat the strongest baseline on F1^HE(1.25). "
            "Recipe chosen on seeds 10-12 (strong augmentation of mixed images back on, "
            "the paper's default: it helped there), then measured on seeds 0-2. Quick "
            "(48 px tiles, 128 iterations), F1^HE(1.25) RS3DAda / source-only / HM + jitter "
            "/ ablation without self-training: seed 0 0.165 / 0.194 / 0.149 / 0.173; seed 1 "
            "0.161 / 0.192 / 0.196 / 0.208; seed 2 0.106 / 0.172 / 0.124 / 0.140; confirmation "
            "seeds 3, 4: 0.160 / 0.189 / 0.199 / 0.205, 0.190 / 0.203 / 0.208 / 0.182 (dev seeds "
            "10-12: 0.141-0.191 vs best baseline 0.192-0.202). Full (360 iterations): seed "
            "0 0.210 / 0.188 / 0.227 / 0.210; seed 1 0.263 / 0.220 / 0.279 / 0.234; "
            "seed 2 0.240 / 0.216 / 0.212 / 0.232 (wins only here, by 0.024; dev seed 10: "
            "0.245 / 0.261 / 0.227 / 0.239). RS3DAda is "
            "better on whole-image MAE on every run (e.g. quick seed 0 1.24 vs 1.34-1.40 m) "
            "and on land-cover mIoU in the full demo (0.66-0.70 vs 0.60-0.65), worse on "
            "high-pixel MAE / RMSE. Diagnosis (seed 10, 160 iterations): all models predict target "
            "buildings at ~15 % of their true height (in-domain the median ratio is 0.83), "
            "so the teacher's pseudo-heights are gross underestimates and self-training on "
            "them lowers building and tree heights further; ground-guided refinement does "
            "cut false heights on ground (5.3 % vs 7.8 % of ground pixels above 1 m). The "
            "paper's teacher is a pretrained DINOv2; a tiny random ViT trained for 64-180 "
            "iterations is not a usable teacher. Deliberate "
            "differences (random tiny ViT on CPU): the first half of training is source "
            "training with style augmentation standing in for DINOv2 pretraining (feature "
            "constraint and teacher start from it; the constraint from step 0 stopped the "
            "heads learning, measured with the old lr 1e-3 recipe, not re-measured); lr "
            "3e-4 (paper 1e-6 for a pretrained encoder) and gradient clipping 1.0 (none "
            "published); batch 4; FDA beta 0.05; style references from the target's "
            "train.txt, not test.txt as the public loader does; plain PyTorch loop, no "
            "LightningModule. CPU time on one core (2-core machine under load): quick "
            "21.7-23.5 s, full 55-56 s (was 62-69 s and 75 s). The height command writes the "
            "nDSM and land cover in two streamed passes."
        ),
    )
)
