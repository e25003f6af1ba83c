"""Terra (NeurIPS 2024 D&B): a multimodal spatio-temporal dataset spanning the Earth."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="terra",
        family="forecasting",
        status="partial",
        summary=(
            "readers for the released task files (pandas-HDF rainfall via h5py, array-only "
            "adjacency pickle, 1-degree CSVs), BasicTS preprocessing, masked MAE/RMSE "
            "(null 0), HI / DLinear / STID on the real UK rainfall"
        ),
        demo="geoneurips.forecasting.terra.pipeline:demo",
        dataset="geoneurips.forecasting.terra.data:TerraRainfall",
        model="geoneurips.forecasting.terra.model:STID",
        notes="in progress",
    )
)
