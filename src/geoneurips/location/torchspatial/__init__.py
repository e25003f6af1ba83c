"""TorchSpatial (arXiv 2406.15658): location encoders, LocBench location priors, Geo-Bias Score."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="torchspatial",
        family="location",
        status="partial",
        summary=(
            "15 location encoders, LocBench readers (BirdSnap/NABirds/iNat/YFCC/fMoW/MOSAIKS), "
            "presence-only location prior and regression head, Geo-Bias Score"
        ),
        demo="geoneurips.location.torchspatial.pipeline:demo",
        dataset="geoneurips.location.torchspatial.data:BirdSnap",
        model="geoneurips.location.torchspatial.model:LocationPrior",
        commands={"geobias": "geoneurips.location.torchspatial.cli:geobias"},
        notes=(
            "Demo: on a pole / date-line task every encoder's prior beats no prior by 0.17-0.31 "
            "Top-1, but sphereC+ does not beat the best planar encoder (rbf or "
            "Space2Vec-theory) by the 0.01 margin on seeds 0-2 (differences -0.012..+0.011); "
            "the demo reports beats_baseline=false truthfully, so the system is partial. "
            "Geo-Bias Score: exact per point against PyGBS (ties broken as its BallTree "
            "does) but only 4.7x faster than its per-point loop; the order-free "
            "ties='average' mode is 11.8x faster and differs per point at tied neighbours."
        ),
    )
)
