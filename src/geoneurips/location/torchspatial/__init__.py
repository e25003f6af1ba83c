"""TorchSpatial (arXiv 2406.15658): location encoders, LocBench location priors, Geo-Bias Score."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="torchspatial",
        family="location",
        status="working",
        summary=(
            "15 location encoders, LocBench readers (BirdSnap/NABirds/iNat/YFCC/fMoW/MOSAIKS), "
            "presence-only location prior and regression head, Geo-Bias Score"
        ),
        demo="geoneurips.location.torchspatial.pipeline:demo",
        dataset="geoneurips.location.torchspatial.data:BirdSnap",
        model="geoneurips.location.torchspatial.model:LocationPrior",
        commands={"geobias": "geoneurips.location.torchspatial.cli:geobias"},
    )
)
