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
            "ramp; the DPT output convolutions; 240 unseen test scenes; the teacher's second "
            "view and the ClassMix images' strong transform as the public script with "
            "albumentations' 1.x defaults. Line-by-line audit of the self-training against "
            "train_dpt_RS3DAda.py, utils/ and RS3DAda.sh (commit ab5a485), matching: "
            "ground-guided refinement sets the teacher's target pseudo-heights to a hard 0 "
            "where its pseudo-class is neither trees nor buildings (trees are not ground: "
            "OEM 4 / 7, combined 1 / 2), after the consistency ratio was taken on the raw "
            "heights, nothing else refined; land-cover pseudo-labels are the argmax on every "
            "pixel (no ignore, no per-pixel threshold) weighted by the fraction of pixels "
            "with p >= 0.95 (pesudo_threshold 0.95, not DACS' 0.968); the height pseudo-loss "
            "is SmoothL1 (beta 1) on every pixel times the mixed weight map (1 on pasted "
            "source pixels, the consistency weight - max ratio < 1.55 - elsewhere; warmss 0), "
            "x 0.5 x lambda 0.8, as the source height loss; both weights are scalars over "
            "the public batch of 1 (ours per image); EMA alpha min(1 - 1/(t + 1), 0.99), t "
            "from the start of self-training; the feature constraint on the last returned "
            "layer only (fl_start 3) with threshold 0.8 (fl_decrement 0 in RS3DAda.sh; the "
            "argparse default 0.05 would make it 0.65), weight 1, on the source batch's "
            "tokens. Fixed this session (tests fail on the old code): FDA draws beta from "
            "U(0, beta_limit) as albumentations' FDA does (was the limit itself, at 48 px "
            "always a 5 x 5 window); the source cross-entropy counts ignored pixels in its "
            "mean as the public CE(reduction='none').mean(); ClassMix draws ceil(n/2) of "
            "the label's values with 255 counted, as get_class_masks (the last two change "
            "nothing in the demo, whose labels have no 255). Deliberate differences (random "
            "tiny ViT on CPU): a source phase with style augmentation stands in for DINOv2 "
            "pretraining; lr 3e-4 (paper 1e-6), clipping 1.0, batch 4, FDA beta limit 0.05; "
            "style references from train.txt (as RS3DAda.sh's third images_file); the "
            "teacher copies the student's BatchNorm statistics (the public teacher is a "
            "fresh model whose BatchNorm statistics are never updated, a quirk); no flips / "
            "rotations (one sun direction carries the height cue); no hue jitter in the demo "
            "(pipeline.HUE, measured and tested); land cover trained on the combined 3 "
            "classes, the public --combine_class option (RS3DAda.sh trains the 8 OEM classes "
            "and maps them to 3 on DFC19; with 8 classes and refinement on OEM 4 / 7 the "
            "development seeds 10-12 gave F1^HE(1.25) gains 0.058 / 0.078 / 0.059, seed 12 "
            "behind on high-pixel MAE / RMSE and mIoU, vs 0.090 / 0.077 / 0.084 with 3). "
            "Measured, full demo (one core, OMP_NUM_THREADS=1, 51-56 s CPU), F1^HE(1.25) "
            "RS3DAda / source-only / HM + jitter / ablation without self-training: seed 0 "
            "0.512 / 0.470 / 0.430 / 0.488; 1 0.553 / 0.498 / 0.468 / 0.493; 2 0.512 / "
            "0.487 / 0.426 / 0.468; confirmation 3 0.581 / 0.485 / 0.468 / 0.502; 4 0.549 / "
            "0.490 / 0.457 / 0.472 (gains 0.042, 0.055, 0.025, 0.095, 0.059, all above the "
            "margin 0.015; before the FDA fix 0.012, 0.073, 0.015, 0.082, 0.077); "
            "development seeds 10-12 gains 0.067, 0.080, 0.108. RS3DAda leads on whole MAE "
            "/ RMSE, F1^HE at 1.25^2 and 1.25^3 and mIoU (0.77-0.81 vs 0.74-0.76) on every "
            "seed, and the demo decides True on seeds 0-3 (seed 0 high MAE / RMSE 3.327 / "
            "3.983 vs 3.384 / 4.002 m). Why still partial: the high-pixel errors are tied "
            "with HM + jitter, not ahead - seed 4 high RMSE 3.877 vs 3.874 m, development "
            "seed 10 high MAE / RMSE 3.179 / 3.827 vs 3.176 / 3.805 m - so the demo decides "
            "False there; no faithful variant tried holds on every seed. Measured about it "
            "(seed 0, same first phase, one thread): the deficit is ground-guided refinement "
            "acting on trees the land-cover head misses, not a deviation from the public "
            "code: of 26301 target tree pixels above 1 m, RS3DAda predicts 7386 at <= 1 m "
            "(5364 of them classified non-tree), without refinement 5790, the ablation "
            "without self-training 5333; mean tree height error -1.92 / -1.58 / -1.24 m; "
            "its final land-cover head calls 39 % of those tree pixels non-tree (the trees "
            "are 2-3.4 px discs, below the ViT's 8 px patch). Without refinement high MAE is "
            "3.171 m (ahead of HM + jitter's 3.384) but false tall pixels rise 24666 -> "
            "32559 and F1^HE falls to 0.503: refinement is the paper's component and stays. "
            "The seed-0 deficits of the old recipe were of the size of thread-count "
            "variation (two threads gave 0.504 vs 0.467 and every metric ahead; reported, "
            "not used as an explanation). Also measured earlier: the target's height "
            "distribution is not the cause, and per image the deficit is spread, not a few "
            "scenes. The quick demo (128 iterations, 64 adapting; about 19 s CPU) reports "
            "without deciding (quick_decides False; F1^HE(1.25) gains 0.059, -0.006, -0.058 "
            "on seeds 0-2). The frozen-feature constraint never "
            "binds at this scale (minimum token cosine 0.993, threshold 0.8); unit tests "
            "check that it acts. The height command writes the nDSM and land cover in two "
            "streamed passes."
        ),
    )
)
