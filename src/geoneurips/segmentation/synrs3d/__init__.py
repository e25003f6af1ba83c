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
            "weights, ground-guided refinement, ClassMix, FDA / HM / PDA). Fixed earlier: "
            "the height head's collapse to one constant height (lr 1e-3, no clipping); "
            "every run uses lr 3e-4, decoder x10, gradient clipping 1.0. Fixed this "
            "session, each with a test that fails on the old code: (1) the synthetic "
            "target did not test the paper's claim: its buildings were 6-20 m, out of the "
            "source's 3-12 m (unreachable for any source-trained model or teacher), and its "
            "roofs, after contrast and cast, were nearer the source's bare-land colour "
            "than its roof colour (a source-only model's median height on target roofs: "
            "0.29 of the truth from the palette alone, 0.67-0.73 from contrast / cast or "
            "texture alone); now an appearance shift with the same geometry cues (heights "
            "on the source's range with another distribution; every class nearest its own "
            "source colour, shifted by 12-29 RGB units; texture, contrast, cast as before); "
            "(2) the EMA teacher started at alpha 0.99, so over the demo's few adaptation "
            "steps it stayed the snapshot taken when adaptation began; it now ramps "
            "min(1 - 1/(t + 1), 0.99) from the start of self-training as the public "
            "script; (3) ClassMix images got jitter 0.4 on every image, now the public "
            "0.2 on 80 %; warm_ss 0 as the published RS3DAda.sh (was a quarter of the "
            "iterations; no measurable effect). Recipe chosen on development seeds "
            "10-12, then measured. Full demo (the default, 360 iterations), F1^HE(1.25) "
            "RS3DAda / source-only / HM + jitter / ablation without self-training: seed 0 "
            "0.611 / 0.499 / 0.498 / 0.518; seed 1 0.636 / 0.588 / 0.598 / 0.582; seed 2 "
            "0.597 / 0.562 / 0.511 / 0.547 (gains over the strongest baseline 0.112, "
            "0.038, 0.035); dev seeds 10-12 gains 0.025, 0.073, 0.039; confirmation seeds "
            "3 0.606 / 0.548 / 0.591 / 0.553 and 4 0.625 / 0.518 / 0.522 / 0.553 (gains "
            "0.015, 0.103). On seeds 0-2 and 4 RS3DAda is also better on whole and "
            "high-pixel MAE / RMSE, F1^HE(1.25^2, 1.25^3) and land-cover mIoU (0.78-0.81 "
            "vs 0.72-0.77), worse only on the published 'whole' delta (explained in the "
            "demo). Margin 0.015, set from seeds 0-2 and asserted on seed 0 (slow test). "
            "Why still partial: (a) confirmation seed 3 does not confirm it: gain 0.015, "
            "not more than the margin, and high-pixel MAE / RMSE worse than HM + jitter "
            "(3.08 vs 3.03 m, 3.75 vs 3.72 m), so beats_baseline is false there; (b) the "
            "quick demo (128 iterations, 64 adapting) does not clear it: "
            "gains 0.007, 0.008, -0.012 on seeds 0-2 (RS3DAda 0.495 / 0.497 / 0.449 vs "
            "strongest 0.488 / 0.489 / 0.461); too few adaptation steps; (c) the frozen-"
            "feature constraint never binds at this scale (minimum token cosine to the "
            "frozen encoder 0.993 after 64 adaptation steps, threshold 0.8; measured on "
            "seed 10 quick), so the demo tests self-training with ground-guided "
            "refinement and source-style augmentation, not the constraint (no ablation of "
            "it would differ). Deliberate "
            "differences (random tiny ViT on CPU): the first half of training is source "
            "training with style augmentation standing in for DINOv2 pretraining (the "
            "feature constraint's reference and the teacher start from it); lr 3e-4 (paper "
            "1e-6 for a pretrained encoder) and gradient clipping 1.0 (none published); "
            "batch 4; FDA beta 0.05; style references from the target's train.txt, not "
            "test.txt as the public loader does; the teacher copies BatchNorm statistics; "
            "no hue jitter; plain PyTorch loop, no LightningModule. CPU time on one core "
            "(2-core machine under load): quick 22.5-24.4 s, full 58.7-63.6 s. The height "
            "command writes the nDSM and land cover in two streamed passes."
        ),
    )
)
