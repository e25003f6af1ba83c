"""AllClear (Zhou et al., NeurIPS 2024 D&B): cloud-removal dataset and benchmark."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="allclear",
        family="restoration",
        status="partial",
        summary=(
            "AllClear cloud removal: TorchGeo NonGeoDataset for the published ROI/date layout, "
            "least-cloudy, mosaicing (fill bug fixed), per-pixel compositing baselines, a "
            "small UnCRtainTS and a data-scaling demo (full vs 1/10 of the ROIs), masked "
            "metrics by land cover (SAM band-axis bug fixed; SSIM the shared one), streamed declouds compositing with s2cloudless (AllClear's "
            "cld_shdw bands) or ukis-csmask masks for stacks without masks"
        ),
        demo="geoneurips.restoration.allclear.pipeline:demo",
        dataset="geoneurips.restoration.allclear.data:AllClearDataset",
        model="geoneurips.restoration.allclear.model:UnCRtainTS",
        commands={"declouds": "geoneurips.restoration.allclear.cli:declouds"},
        quick_decides=False,  # the quick demo (10 ROIs, 200 steps) was never audited
        notes=(
            "Partial: the demo tests the paper's own claim, data scaling (UnCRtainTS, the model "
            "the paper trains on its data, rises from 28.47 to 33.87 dB PSNR with 30x more "
            "training data), and decides it on 5 of 8 seeds at its budget, not on final seed 0. "
            "Method: the small UnCRtainTS (UnCRtainTSConfig.tiny, ours: width 32, 2 + 2 MBConv "
            "blocks, 4 heads) on all 30 synthetic training ROIs; deciding baselines: the same "
            "model, recipe and steps (800 batches of 4 random 12 x 12 crops, Adam 3e-3 with a "
            "half-cosine decay over the last quarter) on the first 3 ROIs (1/10), least-cloudy, "
            "mosaicing and per-pixel compositing; 6 test ROIs from another seed; margin 0.5 dB "
            "PSNR. Every ROI has its own class spectra (per class a gain within +-25 % and a "
            "band tilt within +-15 %: a land-cover class reflects differently from region to "
            "region; before, every ROI drew from the same 9 spectra). PSNR full / 1/10 data "
            "(lead), every arm at 1x and at 2x the steps (benchmarks/budget_audit.py; "
            "deterministic; one thread on a busy 2-core host): dev 10 36.06 / 34.68 (+1.38, but "
            "SSIM 0.9400 vs 0.9427 regresses: False), 2x 39.33 / 36.94 (+2.40); dev 11 34.84 / "
            "33.52 (+1.32), 2x 37.56 / 35.21 (+2.36); dev 12 39.54 / 37.80 (+1.74), 2x 42.05 / "
            "38.78 (+3.27); seed 0 34.92 / 35.81 (-0.89, the small-data model better on every "
            "metric), 2x 37.62 / 37.00 (+0.62, but RMSE, SSIM and SAM regress: False); seed 1 "
            "33.31 / 32.30 (+1.01), 2x 34.88 / 34.21 (+0.67); seed 2 36.43 / 34.96 (+1.47), 2x "
            "39.69 / 35.38 (+4.31); confirmation seeds 3 / 4 at 1x 35.58 / 33.51 (+2.07), 36.27 "
            "/ 35.81 (+0.46 < 0.5, RMSE regresses: False). The PSNR lead is positive on 13 of "
            "14 runs and grows at 2x on 5 of 6 seeds (seed 1: +1.01 to +0.67); on seed 0 the "
            "curve peaks at 3 ROIs (1x, 1 / 3 / 10 / 30 ROIs: 32.21 / 35.81 / 34.80 / 34.92 dB; "
            "why was not measured). Measured reasons for this demo: (1) convergence per "
            "CPU-second: the former recipe (300 steps of 8 crops of 16 px) left every arm far "
            "from convergence (the full-data model gained 4-10 dB from 1x to 2x); 75-80 % of a "
            "step is the network's forward and backward, whose cost is far from linear in the "
            "batch at this size, and progress follows the number of updates (pipeline.Recipe): "
            "on the former shared-spectra data the full-data model reaches 40.92 dB at 1x with "
            "the new recipe (dev 10; 31.95 with the old, for about the same demo CPU) and 41.38 "
            "at 2x. (2) With shared spectra, near convergence, the data effect all but "
            "vanished: full / 1/10 data dev 10 40.92 / 40.32 (+0.60; RMSE, SAM, SSIM regress), "
            "2x 41.38 / 41.18 (+0.20; RMSE, SSIM regress), dev 11 40.43 / 39.62 (+0.82; SAM "
            "regresses), dev 12 38.29 / 34.66 (+3.63). UnCRtainTS on 1 / 3 / 10 / 30 ROIs (dev "
            "10, 1x): shared spectra 31.22 / 40.32 / 40.40 / 40.92, per-ROI spectra 32.86 / "
            "34.68 / 36.06 / 36.06: with per-ROI spectra more ROIs help up to 10 (one seed, one "
            "budget), consistent with shared spectra saturating the curve. Left to do: a budget "
            "or data size at which every seed's lead clears the margin, checked at twice that. "
            "Reported, not deciding: the stacked U-Net on the full data (an alternative "
            "architecture; the paper claims the dataset, not that UnCRtainTS beats a plain "
            "U-Net): 1x dev 10 / 11 / 12 29.99 / 29.06 / 30.02, seeds 0 / 1 / 2 30.29 / 30.53 / "
            "31.08 dB; 2x 32.64 / 31.63 / 32.14, 31.98 / 32.01 / 32.80: below both UnCRtainTS "
            "arms on every run. Temporal-length ablation (the paper's; former recipe and data, "
            "dev 10, benchmarks/allclear_ablations.py): 3 / 2 / 1 input dates 31.95 / 31.11 / "
            "29.10 dB, more dates help as in the paper (one seed). Full demo: 61-71 s CPU "
            "(seeds 0-2, dev 10-12, 1x). Earlier fixes that stand: the UnCRtainTS variance is "
            "parametrised as published ((softplus + 1e-3) on reflectance x 10), masked SAM over "
            "the band axis, the shared SSIM, mosaicing's fill. The quick demo (10 ROIs, 200 "
            "steps) reports without deciding (quick_decides False). No real AllClear sample is "
            "available offline: the reader is tested on a fixture in the published layout and "
            "on real Sentinel-1/2 rasters (Sen1Floods11) arranged in it; the computed masks on "
            "the real Sen1Floods11 Sentinel-2 image. The learned model is a small "
            "UnCRtainTS-style network trained on synthetic data, not the released checkpoints. "
            "Computed masks differ from AllClear's by using L1C TOA NIR and an NDWI water test "
            "where AllClear uses S2_SR B8 and the SCL water class."
        ),
    )
)
