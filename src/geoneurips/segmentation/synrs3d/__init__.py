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
        quick_decides=False,
        notes=(
            "Readers for the published source / real-target layouts (split lists; OEM, "
            "DFC19, ISPRS normal and combined remaps of utils/datasets_config.py; nDSM "
            "NaN or > 450 m -> 0) checked on our fixture writer and on a real RGB GeoTIFF "
            "as a target image; no real SynRS3D file is offline, and TorchGeo 0.8.1 has no "
            "reader for this layout. Metrics as utils/metrics.py (per image; heights <= 0 "
            "-> 1e-6, so 'whole' is every pixel; >= 49 px; F1^HE at 1.25^k), checked by "
            "hand and against scikit-learn. RS3DAda: every component implemented and "
            "unit-tested (DINOv2-shaped timm ViT with a local DINOv2 checkpoint through the "
            "safe loader, DPT heads, source loss, frozen-feature constraint, EMA teacher, "
            "photometric view, height-consistency and confidence weights, ground-guided "
            "refinement, ClassMix, FDA / HM / PDA). Earlier fixes (each tested): the height "
            "head's collapse (every run: lr 3e-4, decoder x10, clipping 1.0); a synthetic "
            "target that did not test the claim (now an appearance shift with heights on "
            "the source's range); the EMA ramp from the start of self-training; ClassMix "
            "jitter 0.2 on 80 %; warm_ss 0. Fixed this session (test fails on the old "
            "code): the DPT output convolutions were Depth Anything's (conv 3x3 -> ReLU -> "
            "conv 1x1 in both heads); the public models/dpt.py has no activation there in "
            "the height head and gives the land-cover head its own conv 3x3 + conv 1x1 at "
            "the fused size. RS3DAda's ClassMix now pastes a second source batch, as the "
            "public script. The full demo evaluates on 240 unseen test scenes (was 24; "
            "the test scenes do not change training). CPU profile of the full demo (one "
            "core): 90 % is the network's forward / backward (backward 50 %, the two DPT "
            "heads' small convolutions most of the forward); data synthesis 0.7 s, style "
            "augmentation 1.5 s, evaluation 0.5 s, figure 1.3 s, imports 3.7 s: no waste "
            "to move into more steps (cached parameter lists for the EMA and clipping save "
            "little). CPU (one core, 2-core machine under load 5-10): 47.3 s before, "
            "42-53 s after (seeds 0-4, 10-12). Recipe study (dev seeds 10-12, full demo, "
            "every arm the same iterations; gain over the strongest baseline): public "
            "heads, 24 test scenes 0.078 / 0.033 / 0.070; 240 scenes 0.088 / 0.047 / "
            "0.067; + ClassMix from a second source batch 0.092 / 0.058 / 0.082 (adopted); "
            "440 iterations for every arm (24 scenes) 0.067 / 0.038 / 0.062 with "
            "unexplained high-pixel regressions and 56-59 s of CPU; teacher from a quarter "
            "0.070 / 0.071 / 0.020 at 55-58 s (neither adopted). Measured, full demo, "
            "F1^HE(1.25) RS3DAda / source-only / HM + jitter / ablation without "
            "self-training: seed 0 0.511 / 0.470 / 0.430 / 0.470; 1 0.575 / 0.498 / 0.468 "
            "/ 0.511; 2 0.534 / 0.487 / 0.426 / 0.488; confirmation 3 0.544 / 0.485 / 0.468 "
            "/ 0.498; 4 0.547 / 0.489 / 0.457 / 0.476 (gains 0.041, 0.077, 0.047, 0.058, "
            "0.058; dev 10-12 0.092, 0.058, 0.082). Margin 0.015 (asserted on seed 0). "
            "RS3DAda is better on whole MAE / RMSE and land-cover mIoU (0.78-0.80 vs "
            "0.72-0.76) on every seed; the 'whole' delta deficits (seeds 2, 4) are on "
            "ground pixels (delta1_low at least every baseline's) and explained. Why still "
            "partial: (a) confirmation seed 3 does not confirm: high-pixel MAE / RMSE worse "
            "than HM + jitter (3.29 vs 3.20 m, 3.96 vs 3.81 m), unexplained, so "
            "beats_baseline is false there (dev seed 11: RMSE 4.003 vs 4.000 m, level but "
            "also unexplained). Measured why (dev seed 12, same-batch ClassMix, 240 scenes): "
            "every image counts for every model (not the metric's image-skip artefact); on "
            "truly tall pixels (> 3 m) RS3DAda's MAE is 3.14 vs 3.09 m (bias -2.67 vs -2.58 "
            "m) with fewer false tall pixels (21 vs 38 a scene). The teacher under-predicts "
            "target buildings (6-12 m, taller than the source's mean): bias on truly tall "
            "adaptation pixels -3.4 m when adaptation starts, -2.7 m at the end (dev seed "
            "11); ground-guided refinement zeroes the 19-30 % of tall pixels the teacher "
            "labels ground (bias 0.3-0.5 m lower) - the public formula "
            "(pesudo_dsms_ori[ground_mask] = 0, weights from the raw teacher heights), not "
            "a discrepancy - so self-training carries the source's low-height prior into "
            "the pseudo-heights; (b) the quick demo (128 iterations, "
            "64 adapting) reports without deciding (quick_decides False): gains -0.014, "
            "0.033, -0.066 on seeds 0-2 (behind: 64 adaptation steps are too few); (c) the frozen-feature constraint never binds at this scale "
            "(minimum token cosine 0.993 after 64 adaptation steps, threshold 0.8), so the "
            "demo tests self-training with refinement and style augmentation, not the "
            "constraint; unit tests check that it acts below the threshold. Deliberate "
            "differences (random tiny ViT on CPU): the first half of training is source "
            "training with style augmentation standing in for DINOv2 pretraining; lr 3e-4 "
            "(paper 1e-6) and clipping 1.0; batch 4; FDA beta 0.05; style references from "
            "the target's train.txt; per-image (not per-batch) weights; the teacher copies "
            "BatchNorm statistics; no hue jitter; plain PyTorch loop. The height command "
            "writes the nDSM and land cover in two streamed passes."
        ),
    )
)
