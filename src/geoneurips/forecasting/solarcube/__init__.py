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
            "per lead; persistence, smart persistence, ridge and cloud-motion baselines"
        ),
        demo="geoneurips.forecasting.solarcube.pipeline:demo",
        dataset="geoneurips.forecasting.solarcube.data:SolarCubeImage",
        model="geoneurips.forecasting.solarcube.model:ConvLSTM",
        notes=(
            "Baselines re-checked 2026-12-07 (seed 0, full demo's data, RMSE 1-3 h, W m-2; "
            "no change made): the ridge's neighbourhood does not limit it (7x7 101.1, 11x11 "
            "100.7, 15x15 101.4: clouds move up to ~6 px in 3 h); cloud-motion advection "
            "152.6, with the inflow and sharpness corrected by a per-lead linear blend "
            "a_k adv + b_k fitted on the training windows 130.4; the ConvLSTM's lead over "
            "the strongest stays. "
            "demo (area level, 3 h -> 3 h, synthetic tiles in the published layout, every day "
            "of every tile its own clouds, speed and direction): the ConvLSTM beats the "
            "strongest baseline, a per-pixel ridge regression on the pixel history and the 7x7 "
            "neighbourhoods of the last three frames, on RMSE at 1-3 h: quick 85.8/84.1/84.9 "
            "vs 101.1/100.1/109.5 W m-2 (seeds 0/1/2; confirmation seeds 3/4: 97.4/79.8 vs "
            "107.9/101.2), full 73.2/73.3/75.0 vs 101.1/100.1/109.5 (seeds 0/1/2); smart "
            "persistence 173-187, persistence 236-248; cloud-motion-vector advection of the "
            "clear-sky index (block-matched motion over the last 3 steps, the operational "
            "first try) 152.6/131.2/144.1 on quick seeds 0/1/2 (full seed 0: 152.6 vs 73.2), "
            "but its MAE at 1-3 h (57.0/49.4/55.0) is lower than the ConvLSTM's "
            "(57.2/56.7/54.8) on quick seeds 0 and 1: sharp where its motion holds, far off "
            "where cloud enters the tile, while the MSE-trained ConvLSTM predicts the "
            "conditional mean; the demo says this regression and explains it only while the "
            "advection's RMSE is higher (full seed 0: MAE 47.0 vs 57.0, no regression); "
            "margin 5 W m-2 (smallest lead 10.5); "
            "recipe chosen on seeds 10-12; training runs on one thread with a seeded init, so "
            "results do not depend on the core count; below 1 h the ridge stays better (quick seed 0, "
            "RMSE at 15/30/45 min: ConvLSTM 22/26/34, ridge 9/18/31; the ConvLSTM leads from "
            "60 min on); gaps: synthetic 32x32 tiles "
            "block-averaged to 16x16 instead of the real 120x120 cubes, 400/800 training steps "
            "instead of the paper's epochs; the point models (LSTM enc-dec, attention LSTM, "
            "PatchTST; short task, 200 steps) and the cuboid model (a one-level axial "
            "Earthformer without global vectors or the other cuboid patterns, 200 steps) are "
            "reported in the full demo only and do not beat the ridge (cuboid 146/142/153 W m-2 "
            "at 1-3 h, seeds 0/1/2, better than smart persistence; point models 171-201 against "
            "the point ridge's 118-140 and smart persistence's 160-200); the long 24 h task "
            "is supported by readers and models (96-step shapes tested) but not run, since the "
            "fixture marks night invalid so no all-valid 24 h window exists; Informer and "
            "Transformer point baselines are not implemented; no real SolarCube file exists "
            "offline or in the indexed public repositories, so the readers are tested on our "
            "writer's files and hand-written HDF5 only; no task command (forecasts need the "
            "published cubes, not a GeoTIFF); quick demo about 25 s of one core's CPU (5 s of "
            "it imports), full about 50-58 s"
            ". Budget audit (2026-12-07, full demo, every trained arm trained 2x longer, one "
            "thread): seed 0 RMSE 1-3 h 66.4 vs ridge 101.1 (1x 73.2; ridge is closed-form), no "
            "regressions."
        ),
    )
)
