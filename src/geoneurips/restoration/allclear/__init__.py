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
        quick_decides=False,  # measured: 100 steps on 10 ROIs leave the arms undertrained
        notes=(
            "Partial: the demo now tests the paper's own claim, data scaling (UnCRtainTS, the "
            "model the paper trains on its data, rises from 28.47 to 33.87 dB PSNR with 30x "
            "more training data), and does not hold it at its budget. Method: the small "
            "UnCRtainTS on all 30 synthetic training ROIs; deciding baselines: the same model, "
            "recipe and steps (300 batches of 8 random 16 x 16 crops, Adam 3e-3 with a "
            "half-cosine decay over the last quarter) on the first 3 ROIs (1/10), least-cloudy, "
            "mosaicing and per-pixel compositing; 6 test ROIs from another seed; margin 0.5 dB "
            "PSNR. PSNR full / 1/10 data (lead), every arm at 1x and at 2x the steps "
            "(benchmarks/budget_audit.py; one thread on a busy 2-core host; deterministic; "
            "dev 10 and 11 at 1x from a scratch script with the demo's data, arms and "
            "seeding, not rerun through the demo): "
            "dev 10 31.95 / 30.15 (+1.80), 2x 40.12 / 38.87 (+1.25, but SSIM 0.9703 vs 0.9719 "
            "and SAM 2.69 vs 2.60 regress: False); dev 11 35.23 / 35.50 (-0.27), 2x 39.42 / "
            "38.55 (+0.88, SAM 2.40 vs 2.33 regresses: False); dev 12 32.77 / 32.06 (+0.70), "
            "2x 37.49 / 34.71 (+2.78, True); seeds 0 / 1 / 2 at 1x 31.37 / 32.38 (-1.01), "
            "29.53 / 29.77 (-0.24), 33.06 / 33.36 (-0.30): the small-data model leads on all "
            "three (confirmation seeds 3 / 4 at 1x: 31.81 / 32.16, -0.35; 36.34 / 36.23, +0.11 "
            "with SSIM 0.9599 vs 0.9621); at 2x 38.23 / 36.26 (+1.97), 39.20 / 38.33 (+0.87), 38.69 / 38.33 (+0.36, "
            "below the margin), no regression on seeds 0-2. Measured reasons: (1) the demo's "
            "budget is far from "
            "convergence: from 1x to 2x the full-data model gains 4.2-9.7 dB (seeds 0-2 and dev "
            "10-12), several times any data effect, so at 1x the comparison is optimisation "
            "noise; at 2x the full-data model leads on PSNR on all six seeds (+0.36 to +2.78 "
            "dB) but decides on three (dev 10 and 11: SAM / SSIM regress against the "
            "small-data model; seed 2: +0.36 < 0.5). A 600-step demo would need its own 2x "
            "audit (1200 steps) and twice the demo's CPU. At 4x (1200 steps) the lead grows "
            "and both dev seeds measured decide with no regression: dev 10 43.15 / 41.89 "
            "(+1.26), dev 11 42.40 / 39.92 (+2.48; dev 11's lead -0.27, +0.88, +2.48 over "
            "1x, 2x, 4x), so the data-scaling lead grows as every arm trains longer; a "
            "1200-step demo (about 3 min CPU) with its own 2x audit is left to do. (2) On this synthetic "
            "data the scaling curve is flat from 3 ROIs on within run-to-run noise (UnCRtainTS "
            "PSNR at 1x on 1 / 3 / 10 / 30 ROIs: dev 10 25.94 / 29.93 / 30.15 / 31.95, dev 11 "
            "31.17 / 35.50 / 33.21 / 35.23: 10 ROIs 2.3 dB below 3 on dev 11). Only 1 ROI, the "
            "paper's 1/30, is clearly worse, and it is starved (below per-pixel median "
            "compositing on dev 10, 25.94 vs 27.33 dB), so it is not used as the deciding arm. "
            "Every ROI is drawn from the same 9 class spectra (synthetic.make_surface), a "
            "plausible reason for the saturation that was not tested. "
            "Temporal-length ablation (the paper's; full data, trained and tested on the K "
            "input dates nearest the target, benchmarks/allclear_ablations.py, dev 10 at 1x): "
            "3 / 2 / 1 dates 31.95 / 31.11 / 29.10 dB (SSIM 0.9096 / 0.8941 / 0.8486): more "
            "dates help, as in the paper (one seed, one budget; 3 vs 2 is within the noise "
            "above). Reported, not deciding: the stacked U-Net on the full data (an "
            "alternative architecture; the paper claims the dataset, not that UnCRtainTS "
            "beats a plain multi-temporal U-Net; the former demo found that lead does not "
            "survive 2x training, dev 12 -0.36 dB): 1x dev 12 29.30, seeds 0 / 1 / 2 28.48 / "
            "30.94 / 28.33 dB (above both UnCRtainTS arms on seed 1); 2x dev 10 / 11 / 12 "
            "33.29 / 33.53 / 33.30, seeds 0 / 1 / 2 33.84 / 34.56 / 33.94, 4.2-6.8 dB below "
            "the full-data UnCRtainTS; 4x dev 10 / 11 38.04 / 39.73. Full demo: 60 s CPU (dev 12, 1x, "
            "one core of the busy host). Left to do: a budget near convergence (the 4x leads "
            "suggest it) checked again at twice that, and synthetic scenes with per-ROI "
            "spectra so that data diversity grows with the ROI count. "
            "Earlier fixes that stand: the UnCRtainTS variance is parametrised as published "
            "((softplus + 1e-3) on reflectance x 10), masked SAM over the band axis, the "
            "shared SSIM, mosaicing's fill. The quick demo (10 ROIs, 100 steps; seed 0: full "
            "data 22.23 dB, 1/10 = 1 ROI 21.35, median compositing 22.90) reports without "
            "deciding (quick_decides False). No real AllClear sample is available "
            "offline: the reader is tested on a fixture in the published layout and on real "
            "Sentinel-1/2 rasters (Sen1Floods11) arranged in it; the computed masks on the "
            "real Sen1Floods11 Sentinel-2 image. The learned model is a small UnCRtainTS-style "
            "network trained on synthetic data, not the released checkpoints. Computed masks "
            "differ from AllClear's by using L1C TOA NIR and an NDWI water test where "
            "AllClear uses S2_SR B8 and the SCL water class."
        ),
    )
)
