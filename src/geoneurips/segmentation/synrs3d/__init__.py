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
            "safe loader, public DPT heads, source loss, frozen-feature constraint, EMA "
            "teacher, photometric view, height-consistency and confidence weights, "
            "ground-guided refinement, ClassMix of a second source batch, FDA / HM / PDA). "
            "Earlier fixes (each tested): the height head's collapse (lr 3e-4, decoder x10, "
            "clipping 1.0 for every run); a target that did not test the claim; the EMA "
            "ramp; the DPT output convolutions; 240 unseen test scenes. Fixed this session "
            "(tests fail on the old code): the teacher's second view and the ClassMix "
            "images' strong transform now follow the public script with albumentations' "
            "1.x defaults - get_transforms' OneOf keeps its default p 0.5, so 13/24 of the "
            "views are the image itself (weight 1), draws per image, jitter ops in random "
            "order with grey-mean contrast, blur sigma OpenCV's for the 3-7 px kernel (was "
            "U(0.1, 2)); the HM + jitter baseline's augmentation is unchanged. Checked and "
            "matching the public script: confidence and consistency weights are scalars "
            "over its batch of 1 (ours per image), the consistency ratio is taken on the raw "
            "teacher heights before refinement, lambda 0.8 scales the source and target "
            "height losses, feature threshold 0.8 (RS3DAda.sh sets fl_decrement 0). "
            "Deliberate differences (random tiny ViT on CPU): a source phase with style "
            "augmentation stands in for DINOv2 pretraining; lr 3e-4 (paper 1e-6), clipping "
            "1.0, batch 4, FDA beta 0.05; style references from train.txt; the teacher "
            "copies the student's BatchNorm statistics (the public teacher never updates "
            "its own, a quirk); no flips / rotations (one sun direction carries the height "
            "cue); no hue jitter in the demo (pipeline.HUE: albumentations' default 0.2 "
            "turns moves a roof colour nearest another class's in 41-54 % of draws, as "
            "tested; chosen on development seeds 10-12, F1^HE(1.25) gains 0.090 / 0.077 / "
            "0.084 vs 0.064 / 0.064 / 0.034 with hue). Measured, full demo (one core, "
            "49-57 s CPU), F1^HE(1.25) RS3DAda / source-only / HM + jitter / ablation "
            "without self-training: seed 0 0.482 / 0.470 / 0.430 / 0.470; 1 0.571 / 0.498 / "
            "0.468 / 0.511; 2 0.502 / 0.487 / 0.426 / 0.488; confirmation 3 0.567 / 0.485 / "
            "0.468 / 0.498; 4 0.567 / 0.490 / 0.457 / 0.476 (gains 0.012, 0.073, 0.015, "
            "0.082, 0.077). RS3DAda leads on whole MAE / RMSE, F1^HE at 1.25^2 and 1.25^3 "
            "and mIoU (0.78-0.81 vs 0.73-0.76) on every seed; on seeds 1, 3, 4 on every "
            "paper metric (seed 3, which failed before, now 3.138 / 3.794 vs 3.198 / 3.807 m "
            "high MAE / RMSE). Why still partial: on seeds 0 and 2 the F1^HE(1.25) gain "
            "(0.012, 0.015) is not above the margin 0.015 and high-pixel metrics are behind "
            "(seed 0 MAE / RMSE 3.429 / 4.074 vs 3.384 / 4.002 m; seed 2 MAE 3.403 vs "
            "3.389 m), so the demo decides False there (all numbers with one thread, "
            "OMP_NUM_THREADS=1). The same seed 0 run with two threads (only the "
            "floating-point summation order differs) gives 0.504 vs 0.467 and high MAE / "
            "RMSE 3.295 / 3.933 vs 3.430 / 4.057 m, ahead on every metric: the seed-0 "
            "deficits are of the size of this run-to-run variation (reported, not used as "
            "an explanation). Before this session's fix the gains "
            "were 0.041 / 0.077 / 0.047 / 0.058 / 0.058 with seed 3's high pixels behind; "
            "with the public hue 0.2 they are 0.021 / 0.045 / 0.018 / 0.036 / 0.027 with "
            "seeds 0 and 3 behind on high pixels: no variant holds on seeds 0-4. Measured "
            "about the high-pixel deficit: (1) the target's height distribution (buildings "
            "6-12 m vs the source's 3-12 m, as the issue asks and as SynRS3D's real targets "
            "differ from its mixture) is not its cause: with the target's heights set to "
            "the source's, RS3DAda (hue 0.2) is still behind HM + jitter on high MAE (seed "
            "3 3.180 vs 3.051 m, seed 12 3.202 vs 3.014 m) while the ablation without "
            "self-training is not (2.980, 3.035 m); (2) per image it is spread, not a few "
            "scenes: seed 0 (final recipe) worse on 134 / 240 images, median +0.07 m, 90 % "
            "bootstrap interval of the mean over images [0.006, 0.084] m, -0.01 m without "
            "the 20 worst; seed 3 (before this session) 146 / 240, median +0.11 m, "
            "[0.05, 0.13] m, +0.03 m without the 20 worst; (3) its source is "
            "self-training: more truly tall pixels predicted below 1 m (seed 0 8878 vs "
            "7541, trees 6695 vs 5566; seed 3 before 8394 vs 6538, 2135 of them on pixels "
            "RS3DAda's own land-cover head calls tree, HM + jitter 1039) while it has fewer "
            "false tall pixels (seed 0 6782 vs 10128) and no larger building bias (-3.51 "
            "vs -3.55 m). The quick demo (128 iterations, 64 adapting; about 24 s CPU) "
            "reports without deciding (quick_decides False; gains 0.018, -0.043, -0.038 on "
            "seeds 0-2). The frozen-feature constraint never binds at this "
            "scale (minimum token cosine 0.993, threshold 0.8); unit tests check that it "
            "acts. The height command writes the nDSM and land cover in two streamed passes."
        ),
    )
)
