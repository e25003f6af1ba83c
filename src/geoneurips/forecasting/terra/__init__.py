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
            "(null 0), HI / DLinear / climatology / STID on the real UK rainfall"
        ),
        demo="geoneurips.forecasting.terra.pipeline:demo",
        dataset="geoneurips.forecasting.terra.data:TerraRainfall",
        model="geoneurips.forecasting.terra.model:STID",
        notes=(
            "on the real UK rainfall STID beats HI and DLinear on mean masked MAE @7/15/30 "
            "but not a per-node, per-month wet-day median (climatology), the baseline that "
            "knows node and season as STID's identity embeddings do, so the demo's "
            "beats_baseline is false; training is shortened (2-3 epochs, strided windows, "
            "40 nodes in the quick demo) against the paper's 100 epochs; STID's temporal "
            "identities are day-of-month/month (daily data); the other Terra baselines "
            "(GWNet, STGCN, STAEformer, ...) and the other regions are not implemented; the "
            "spatial task (terra.spatial) uses weight-free raw vs spherical location "
            "features instead of the pretrained SatCLIP/GeoCLIP/CSP encoders and is not in "
            "the demo"
        ),
    )
)
