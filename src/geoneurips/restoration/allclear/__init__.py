"""AllClear (Zhou et al., NeurIPS 2024 D&B): cloud-removal dataset and benchmark."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="allclear",
        family="restoration",
        status="working",
        summary=(
            "AllClear cloud removal: reader for the published ROI/date layout, least-cloudy, "
            "mosaicing (fill bug fixed) and a small UnCRtainTS, masked metrics by land cover "
            "(SAM band-axis bug fixed), streamed declouds compositing"
        ),
        demo="geoneurips.restoration.allclear.pipeline:demo",
        dataset="geoneurips.restoration.allclear.data:AllClearDataset",
        model="geoneurips.restoration.allclear.model:UnCRtainTS",
        commands={"declouds": "geoneurips.restoration.allclear.cli:declouds"},
        notes=(
            "No real AllClear sample is available offline: the reader is tested on a "
            "fixture in the published layout and on real Sentinel-1/2 rasters "
            "(Sen1Floods11) arranged in it. The learned model is a small UnCRtainTS-style "
            "network trained on synthetic data, not the released checkpoints."
        ),
    )
)
