"""MMM-RS: a multi-modal, multi-GSD, multi-scene remote sensing dataset and benchmark for
text-to-image generation (Luo et al., NeurIPS 2024 Datasets and Benchmarks)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="mmmrs",
        family="vision_language",
        status="partial",
        summary=(
            "MMM-RS builder (square centre crops, resizing rules, multi-GSD crops, 512-px "
            "tiles, fog/low-light/snow, GSD-binned prompts) on GeoTIFF folders; SD + UNet "
            "LoRA with DPM++ 2M Karras; FID/IS/CLIP-score from local weights"
        ),
        demo="geoneurips.vision_language.mmmrs.pipeline:demo",
        dataset="geoneurips.vision_language.mmmrs.data:MMMRS",
        model="geoneurips.vision_language.mmmrs.model:load_pipeline",
        commands={"mmmrs-build": "geoneurips.vision_language.mmmrs.cli:mmmrs_build"},
        notes=(
            "Builder follows the public standardisation scripts (centre square, bicubic "
            "down/up-sizing, Inria nested 4096/2048/1024 crops + five native 512 tiles, "
            "WHU-OPT-SAR tiling, fMoW crops); runs on real GeoTIFFs (Landsat-7 UTM with "
            "nodata collar, 0.6 m Web-Mercator COG, real Sentinel-2 pixels), GSD from the "
            "transform. ASSUMED (docs/mmmrs.md): the annotation JSON schema (not "
            "retrievable), the Low/Ultra-low GSD boundary (50 m), the weather words; "
            "Real-ESRGAN upscaling replaced by bicubic; low light and snow are procedural "
            "stand-ins for TPSeNCE and CycleGAN. SD + UNet LoRA (peft) + DPM++ 2M Karras "
            "30 steps CFG 7.5 checked on a tiny random SD saved in the diffusers layout "
            "(our CFG loop == the pipeline; LoRA .safetensors round trip); no real SD "
            "weights offline. FID/IS via torch-fidelity with Inception from a local file "
            "(cross-checked with scipy sqrtm and torchmetrics' formula, known IS answers); "
            "CLIP-score from a local CLIP (checked by hand computation). DEMO FAILS THE BAR "
            "IN BUDGET. The judge now sees GSD: logistic regressions on colour and the "
            "radial power spectrum, one image per GSD level/weather per scene (balanced GSD "
            "accuracy 0.67-0.74 on real renders, weather 1.00; the old CNN judge was at "
            "chance). Full demo (400 steps, UNet 16/32 + text-time embedding, unit-variance "
            "pixels, noise offset 0.1; chosen on dev seeds 10-12; 53-56 s CPU, was 109 s): "
            "joint accuracy on held-out GSD x weather prompts, seeds 0/1/2, 0.10/0.15/0.04 "
            "vs unconditional branch 0.04/0.02/0.00, nearest-prompt retrieval "
            "0.08/0.10/0.10, retrieval blend 0.19/0.15/0.21, attribute mean image "
            "0.33/0.33/0.00: loses (confirmation seeds 3/4: 0.15/0.31 vs 0.33/0.15). "
            "With 3x the training (settings=LONG: 1200 steps, later-"
            "timestep bias 4, noise offset 0.2; 122-151 s CPU, over budget) it follows "
            "both words on dev seeds (0.52/0.31/0.65 vs strongest baseline "
            "0.17/0.15/0.10) but not robustly on seeds 0/1/2: 0.46/0.23/0.52 vs attribute "
            "mean image 0.33/0.33/0.00 and retrieval blend 0.19/0.15/0.21 (loses on seed "
            "1; confirmation seeds 3/4: 0.08/0.33 vs 0.33/0.15, loses seed 3; real renders "
            "score 0.67-0.74, the judge's ceiling). What is missing: "
            "a generator that follows both words on every seed (LONG loses seeds 1 and 3 "
            "to the attribute mean image) within the ~60 s budget (at 400 steps the "
            "sampled brightness ignores the prompt). Tried 2026-12-07 against that "
            "brightness problem (dev seeds, FULL otherwise unchanged; not adopted): "
            "v-prediction, joint accuracy on seen prompts 0.44 / 0.39 / 0.33 (eps: 0.17 on "
            "seed 10) and weather on seen prompts 0.72-0.78 (eps 0.50), but on held-out "
            "combinations 0.04 / 0.00 / 0.00 (eps 0.27 / 0.17 / 0.15): GSD 0.00-0.04, the "
            "generator draws the GSD levels each weather had in training; v-prediction "
            "with a zero-terminal-SNR schedule (DPM++ 2M, trailing steps: the Karras sigmas "
            "of that schedule repeat timesteps) 0.00 on seed 10."
        ),
    )
)
