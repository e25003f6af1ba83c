"""FeINFN (arXiv 2404.15174): Fourier-enhanced implicit neural fusion of an LR hyperspectral
and an HR multispectral (RGB) image."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="feinfn",
        family="restoration",
        status="working",
        summary=(
            "FeINFN HSI+MSI fusion: CAVE/Harvard .h5 reader and fixture writer, spectral and "
            "spatial encoders, spatial-frequency implicit fusion (amplitude/phase 1x1 convs), "
            "SFID decoder with complex Gabor wavelet activation, L1+SSIM loss"
        ),
        demo="geoneurips.restoration.feinfn.pipeline:demo",
        dataset="geoneurips.restoration.feinfn.data:HISRDataset",
        model="geoneurips.restoration.feinfn.model:FeINFN",
        commands={"hsi-fusion": "geoneurips.restoration.feinfn.cli:hsi_fusion"},
        notes=(
            "It learns: the quick demo (80 Adam steps) beats bicubic HSI upsampling by about "
            "2.6 dB PSNR, the full demo (200 steps) by about 5.9 dB, with lower SAM and ERGAS. "
            "Two training choices are ours (the paper gives none): encoder inputs centred per "
            "image and band, and the SFID hidden layers at lr / omega0. No official code: the "
            "SFID branch wiring, encoder sizes and the SSIM weight of the loss are inferred "
            "from the paper text. No real CAVE/Harvard sample is available offline (a "
            "512x512x31 image exceeds the fixture budget), so the reader is tested on fixtures "
            "written in the published layout only."
        ),
    )
)
