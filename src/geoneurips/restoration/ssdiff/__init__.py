"""SSDiff: spatial-spectral integrated diffusion for pansharpening (Zhong et al., NeurIPS 2024)."""

from ...registry import SystemSpec, register

register(
    SystemSpec(
        id="ssdiff",
        family="restoration",
        status="partial",
        summary=(
            "Dual-branch residual diffusion pansharpening (APFM, FMIM, shared U-shape, "
            "few-step DDIM, branch-wise alternating fine-tuning)"
        ),
        demo="geoneurips.restoration.ssdiff.pipeline:demo",
        dataset="geoneurips.restoration.pansharpening.data:PanCollection",
        model="geoneurips.restoration.ssdiff.model:SSNet",
        commands={"pansharpen": "geoneurips.restoration.pansharpening.cli:pansharpen"},
        notes=(
            "Demo (tiny model, 500+2x50 steps, ~60 s CPU) beats lms and Brovey/GS on ERGAS, "
            "Q2n and SCC but not on SAM: on the toolkit's synthetic scenes the spectral "
            "residual needs far longer training (a plain CNN needs ~1500 steps to match lms "
            "SAM). No pretrained paper-size weights (train with train_ssdiff)."
        ),
    )
)
