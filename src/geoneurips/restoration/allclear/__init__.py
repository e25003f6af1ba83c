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
        notes=(
            "PARTIAL: the demo's verdict is not robust. Full demo (300 steps), PSNR margin of "
            "the small UnCRtainTS over the strongest baseline (least-cloudy, mosaicing, "
            "per-pixel least-cloudy / median / nearest-clear compositing, a stacked U-Net "
            "trained the same steps): without gradient clipping, seeds 0/1/2 +3.76 / -0.79 / "
            "+5.55 dB, and seed 1 went from +2.90 to -0.79 when the date encoding changed by "
            "~1e-5 (float32 exp-log vs pow): no divergence or loss spike, the NLL keeps "
            "falling, but its gradient norm grows to 40-80 over the last 100 steps as the "
            "variance shrinks, and the end point lands on noise. Both learned arms now clip "
            "the gradient norm at 1.0: seeds 0/1/2 +1.22 / +2.91 / +2.10 dB (UnCRtainTS 33.44 "
            "/ 34.42 / 33.56 vs 32.22 / 31.51 / 31.46), with the encoding perturbed +1.84 / "
            "+3.13 / +2.72: the sign holds, but the size moves ~0.6 dB on float noise and seed "
            "0 clears the 1 dB demo margin by only 0.22 dB; seed 3 beats on PSNR (+3.72) but "
            "has an unexplained MAE regression; seed 4 +4.38. Learning-rate decay (exponential "
            "or cosine over the 300 steps) undertrains both arms (seed 1: 22.2 / 28.9 dB). "
            "Quick demo (200 steps) with clipping: +0.60 / -0.42 / -2.67 dB (fails). SAM is "
            "worse than the median of clear dates (explained regression). No real AllClear "
            "sample is "
            "available offline: the reader is tested on a fixture in the published layout and "
            "on real Sentinel-1/2 rasters (Sen1Floods11) arranged in it; the computed masks on "
            "the real Sen1Floods11 Sentinel-2 image. The learned model is a small "
            "UnCRtainTS-style network trained on synthetic data, not the released "
            "checkpoints. Computed masks differ from AllClear's by using L1C TOA NIR and an "
            "NDWI water test where AllClear uses S2_SR B8 and the SCL water class."
        ),
    )
)
