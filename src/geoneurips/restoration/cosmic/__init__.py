"""COSMIC (Zhang et al., NeurIPS 2024): satellite image compression with diffusion compensation."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="cosmic",
        family="restoration",
        status="working",
        summary=(
            "COSMIC: lightweight on-board encoder (depthwise/pointwise LCBs + convolutional "
            "attention), compressai mean-scale hyperprior with real range-coded bitstreams, "
            "ground decoder, metadata-conditioned (lon/lat/time/GSD/cloud) diffusion "
            "compensation; bpp/PSNR/MS-SSIM, tile-seam test, encoder FLOPs vs a hyperprior "
            "encoder, compressai baselines, fMoW-rgb reader"
        ),
        demo="geoneurips.restoration.cosmic.demo:demo",
        dataset="geoneurips.restoration.cosmic.data:FMoWRGB",
        model="geoneurips.restoration.cosmic.model:COSMIC",
        commands={"cosmic-compress": "geoneurips.restoration.cosmic.cli:cosmic_compress",
                  "cosmic-decompress": "geoneurips.restoration.cosmic.cli:cosmic_decompress"},
        # measured: quick seed 3 leads by 0.09 dB (margin 0.2) while the full demo leads by
        # 0.44-0.65 dB on seeds 0-4; the full demo decides
        quick_decides=False,
        notes=(
            "The full demo decides (quick_decides False): PSNR leads over the strongest "
            "learned codec at equal or higher rate, seeds 0-4: 0.65 / 0.46 / 0.44 / 0.45 / "
            "0.52 dB (margin 0.2); the quick demo's seed 3 leads by only 0.09 dB. "
            "Demo (seeds 0-2): trained alike (same scenes, steps, lambda), COSMIC's real "
            "bitstreams beat compressai's scale and mean-scale hyperpriors at equal or lower "
            "rate by 0.44-0.65 dB PSNR (full) and 0.23-0.72 dB (quick), JPEG by more; margin "
            "0.2 dB. The win is the codec's: in this one-minute budget the diffusion "
            "compensation adds only +0.02 to +0.10 dB over the decoder alone (rho = 0), and "
            "the true sampler (rho = 1) is 1-2 dB below the decoder in PSNR and MS-SSIM; the "
            "paper's perceptual gains (LPIPS/FID) are not measured: they need VGG/Inception "
            "weights (only the formulas ship, for user networks). The dense baselines may "
            "also be handicapped by the short training (more weights to fit). Tile seams "
            "(64-px tiles coded independently): all learned codecs alike, JPEG 2-3x worse; "
            "the compensation on the stitched mosaic does not remove them. Training choices "
            "that are ours (smooth-identity start and latent gain, given to the baselines "
            "too; entropy-model learning-rate x10; rho = 0 one-step decoding) are documented "
            "in COSMICConfig and pipeline. No fMoW sample is available offline: the reader is "
            "tested on a fixture in the published layout and on a real VHR image arranged "
            "in it."
            " Budget audit (2026-12-07, full demo, every trained arm trained 2x longer, one "
            "thread): seed 0 PSNR +1.27 dB (1x +0.65; the codec's rate 0.091 vs 0.058 bpp, "
            "baselines matched at that rate by the demo's lambda search), seed 1 +0.46 -> +0.97 "
            "dB, no regressions."
        ),
    )
)
