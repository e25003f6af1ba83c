"""SolarCube (NeurIPS 2024 D&B): solar radiation forecasting from geostationary data cubes."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="solarcube",
        family="forecasting",
        status="working",
        summary=(
            "readers for the published SolarSat HDF5 cubes (h5py + dask + xarray; scale_factor, "
            "fill -> NaN / -1 ocean for ssr), index CSVs, sitelist ([fCol, fLine] order) and "
            "1-minute in-situ CSV (15-min resampling); windows with validity rules; published "
            "normalisation and clear-sky ratio; LSTM enc-dec, attention LSTM, PatchTST, "
            "ConvLSTM and a small cuboid-attention model (Lightning); MSE/MAE/RMSE/rRMSE/R2/bias "
            "per lead; persistence, smart persistence and ridge baselines"
        ),
        demo="geoneurips.forecasting.solarcube.pipeline:demo",
        dataset="geoneurips.forecasting.solarcube.data:SolarCubeImage",
        model="geoneurips.forecasting.solarcube.model:ConvLSTM",
        notes=(
            "demo on synthetic tiles (32x32, block-averaged to 16x16) instead of the real "
            "120x120 cubes; training is a few hundred steps instead of the paper's 300 epochs; "
            "the cuboid model is a one-level axial Earthformer without global vectors or the "
            "other cuboid patterns; Informer/Transformer point baselines are not implemented; "
            "on the point task the learned models do not beat the ridge baseline (reported in "
            "the demo's details); no task command (SolarCube forecasts need the published "
            "cubes, not a GeoTIFF)"
        ),
    )
)
