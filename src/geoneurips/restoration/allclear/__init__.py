"""AllClear (Zhou et al., NeurIPS 2024 D&B): cloud-removal dataset and benchmark."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="allclear",
        family="restoration",
        status="partial",
        summary=(
            "AllClear cloud removal: TorchGeo NonGeoDataset for the published ROI/date layout, "
            "least-cloudy, mosaicing (fill bug fixed), per-pixel compositing baselines and a "
            "small UnCRtainTS, masked metrics by land cover (SAM band-axis bug fixed; SSIM "
            "the shared one), streamed declouds compositing with s2cloudless (AllClear's "
            "cld_shdw bands) or ukis-csmask masks for stacks without masks"
        ),
        demo="geoneurips.restoration.allclear.pipeline:demo",
        dataset="geoneurips.restoration.allclear.data:AllClearDataset",
        model="geoneurips.restoration.allclear.model:UnCRtainTS",
        commands={"declouds": "geoneurips.restoration.allclear.cli:declouds"},
        quick_decides=False,  # measured: 200 steps leave both learned arms undertrained
        notes=(
            "Partial since the budget re-examination (2026-12-07): the full demo decides at its "
            "own budget (600 steps; margin 0.3 dB PSNR over the strongest baseline, the stacked "
            "U-Net on every run) on seeds 0-4 and dev seeds 10-12, but the lead shrinks on all "
            "six seeds measured when every arm trains 2x longer and does not survive it on "
            "every seed: part of it is the small UnCRtainTS converging faster. PSNR UnCRtainTS / U-Net (lead) with every learned "
            "arm trained 1x / 2x / 4x the steps (benchmarks/budget_audit.py; dev seeds via the "
            "same recipe and data, bit-identical to the demo's arms): dev 10 41.32/35.94 (+5.38, "
            "1x from the earlier session) / 43.58/40.28 (+3.30); dev 11 "
            "41.40/32.87 (+8.53, earlier) / 44.74/39.31 (+5.43) / 46.81/42.42 (+4.40); dev 12 "
            "36.34/35.09 (+1.24; the earlier session measured 36.12/35.51 before the demo's "
            "single_thread change, 4e-7 float-order noise) / "
            "39.07/39.43 (-0.36, decides False; the U-Net also wins RMSE, 0.0107 vs 0.0116) / "
            "42.00/40.21 "
            "(+1.79); seed 0 +1.31 / +1.14 (decides False on SSIM, 0.98350 vs 0.98364) / +0.74 "
            "(False on RMSE / SSIM); seed 1 +1.07 / +0.34 / +0.10; seed 2 +4.63 / +3.01. The lead "
            "is not monotone in the budget on dev 12 (+1.24, -0.36, +1.79): one run's lead on "
            "the 3 test ROIs is uncertain by 1-2 dB; the sign flips at 2x on dev 12 and the "
            "margin is lost at 4x on seed 1. "
            "Measured causes (dev seeds, pooled PSNR over clear target pixels split by whether "
            "any input date is clear there; 19 % of dev 12's test pixels have none): UnCRtainTS "
            "wins where a clear date exists (dev 12, 2x: 46.66 vs the U-Net's 40.56 dB; 4x "
            "47.64 vs 41.78) and loses where none does, which needs spatial inpainting (31.66 vs "
            "36.29; 4x 35.02 vs 36.39; on dev 11, with 5 % such pixels, it wins both at 4x: "
            "48.01 vs 42.94 and 38.49 vs 37.23): its full-resolution MBConv stack (as "
            "published) sees about 11 pixels, the 2-level U-Net some 40. The share of such pixels in a seed's "
            "test ROIs tracks its 1x lead only loosely (Spearman -0.60 over seeds 0-4 and 10-12, "
            "p 0.12, with the earlier 1x leads): the three thinnest leads (+0.61, +1.31, +1.07) come with the three "
            "largest shares (18.8, 15.7, 8.4 %), the others (3.2-8.0 %) lead by +4.49 to +8.53. "
            "Ablations (reported, not in the demo, which would double its time; "
            "benchmarks/allclear_ablations.py): at 1x on dev 12 both UnCRtainTS components "
            "help (uniform date weights 35.45 dB, L1 without the variance head 36.11, full "
            "36.34); at 2x uniform date weights instead of the L-TAE "
            "attention 41.35 dB on dev 12 (above the full model's 39.07) and 43.17 on dev 11 "
            "(below its 44.74, still 3.86 above the U-Net); L1 without the variance head "
            "39.69 and 45.25, above the NLL model on both; the U-Net on the masked MSE instead "
            "of L1 38.30 (dev 12). So the temporal attention carries part of the lead only where "
            "clear dates are plentiful, and the uncertainty loss costs 0.5-0.6 dB PSNR; no "
            "UnCRtainTS component makes the lead stable. Per step UnCRtainTS costs 4.1-4.6x "
            "the U-Net's CPU (dev 12, one core of a busy host: 166 vs 36 s at 2x, 375 vs 91 s at "
            "4x), so at equal "
            "compute the U-Net has trained longer still. What the paper claims is the dataset "
            "(PSNR of UnCRtainTS, the model it trains on its data, rising from 28.47 to 33.87 "
            "with 30x more training data; temporal length and modality ablations), not that UnCRtainTS beats a plain multi-temporal U-Net on the same "
            "inputs; a demo of the data-scaling claim at convergence is left to do. "
            "Earlier fixes that stand: the UnCRtainTS variance is parametrised as published "
            "((softplus + 1e-3) on reflectance x 10, was softplus + 1e-4 on reflectance; dev "
            "seed 10, same optimiser: 33.52 dB moving to 32.66 on a 1e-5 change of the date "
            "encoding, now 36.57 / 36.45), and both learned arms train alike with Adam 3e-3, a "
            "half-cosine decay to 0 over the last quarter and no clipping (chosen on dev seeds "
            "10-12; the U-Net is strongest with it on every dev seed). Full demo at 1x, seeds "
            "0 / 1 / 2: 39.81 vs 38.51 +1.31, 38.25 vs 37.18 +1.07, 41.39 vs 36.77 +4.63; "
            "confirmation seeds 3 / 4 42.86 vs 38.25 +4.60, 41.52 vs 37.03 +4.49; no regression "
            "at 1x on seeds 0-4 (RMSE and SSIM leads thin on seed 0: 0.0116 vs 0.0120, 0.9742 vs "
            "0.9727). The quick demo (200 steps) reports without deciding (quick_decides "
            "False): seeds 0 / 1 / 2 -1.39 / -3.32 / -2.78 dB. No real AllClear sample is "
            "available offline: the reader is tested on a fixture in the published layout and "
            "on real Sentinel-1/2 rasters (Sen1Floods11) arranged in it; the computed masks on "
            "the real Sen1Floods11 Sentinel-2 image. The learned model is a small "
            "UnCRtainTS-style network trained on synthetic data, not the released checkpoints. "
            "Computed masks differ from AllClear's by using L1C TOA NIR and an NDWI water test "
            "where AllClear uses S2_SR B8 and the SCL water class."
        ),
    )
)
