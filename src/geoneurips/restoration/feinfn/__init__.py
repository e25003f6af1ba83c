"""FeINFN (arXiv 2404.15174): Fourier-enhanced implicit neural fusion of an LR hyperspectral
and an HR multispectral (RGB) image."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="feinfn",
        family="restoration",
        status="partial",
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
            "Missing: 'it learns' - within the CPU demo budget the network does not beat "
            "bicubic HSI upsampling (about -0.1 to -0.5 dB), although a per-pixel linear map "
            "of the RGB detail gains +10 dB on the same data; tests check only that training "
            "lowers the loss. No official code: the SFID branch wiring, encoder sizes and the SSIM weight of "
            "the loss are inferred from the paper text. No real CAVE/Harvard sample is "
            "available offline (a 512x512x31 image exceeds the fixture budget), so the reader "
            "is tested on fixtures written in the published layout only."
        ),
    )
)
