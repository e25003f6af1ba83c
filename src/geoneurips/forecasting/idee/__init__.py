"""IDEE (NeurIPS 2024): identifying spatio-temporal drivers of extreme events."""

from geoneurips.registry import SystemSpec, register

register(
    SystemSpec(
        id="idee",
        family="forecasting",
        status="partial",
        summary=(
            "the published synthetic generator (events, extreme classes, coupling matrix, "
            "linear/quadratic dependents, noise models, exp_1/2/3) writing and reading the "
            "netCDF layout through xarray; per-variable 3-D CNN encoders, 1-bit LFQ driver "
            "mask, joint + per-variable 3-D classifier, weighted BCE, LFQ and anomaly losses "
            "(Lightning); P/R/F1/IoU with majority voting; IG, IF, OCSVM, |z| baselines"
        ),
        demo="geoneurips.forecasting.idee.pipeline:demo",
        dataset="geoneurips.forecasting.idee.data:IDEESynthetic",
        model="geoneurips.forecasting.idee.model:IDEEModel",
        commands={"idee-generate": "geoneurips.forecasting.idee.cli:idee_generate"},
        notes=(
            "the IDEE model does not learn a driver mask in the CPU budget, so "
            "beats_baseline is false. Checked against the public code this round: (1) the "
            "published training has no loss warm-up: constant weights (BCE joint + per-variable "
            "heads, 3.0 commitment, 0.1 (per-sample - codebook) entropy, 100 L_anom), Adam lr "
            "1e-3, wd 0.003, timm cosine with 2 warm-up epochs stepped once per epoch (so the "
            "first two epochs run at lr 1e-6), 100 epochs at batch 1 on 200x200 cubes; (2) the "
            "generator matches the public one (noise models and their std rescaling, "
            "theta = B(2^(kb E)-1) + N 2^(kn E) + std(N) ks E, the forced coupling sign, the "
            "ECM and propagation indexing, exp_1 kb/kn/ks), so driver strength is as published; "
            "(3) the climatology was the defect: exp_1 computes it over the whole cube and the "
            "demo cubes spanned 4 years (4 values per week and cell; anomalies inflated the "
            "std, drivers |z| ~1.4 vs ~0.7 for normal cells). Fixed: the demo cubes span 34 "
            "years (the paper's training years) and windows come from the last 4 years only "
            "(IDEESynthetic times=, the public loader's range); the in-sample |z| driver F1 "
            "went 0.23-0.29 -> 0.39-0.49, and every baseline gained; (4) the bit convention is "
            "fixed as published (u > 0 = index 1 = driver; L_anom pulls calm cells to "
            "project_out(-1)) and the majority vote (mean >= 0.5 over covering windows) "
            "matches. Why the bit stays 'normal' (diagnosed earlier, unchanged): at init the "
            "weighted BCE's gradient on a cell's code is ~8e-6 against ~8e-5 from the "
            "commitment and ~6e-5 from 100 L_anom on calm cells. New finding: the public "
            "embedding (1x1x1 bias-free conv + affine-free channel LayerNorm) on the synthetic "
            "cubes' single channel keeps only sign(x) (embed_norm=True, kept as the published "
            "default; embed_norm=False drops that norm: quantiser-free ablation extreme F1 0.61 "
            "-> 0.71, dev seed 10, 4 epochs). Dev seeds 10/11/12 (quick cube, 8 epochs): the "
            "public normal(0.02, 0.02) init starts and keeps every bit at 'driver' (F1 0.13 = "
            "the driver fraction, 12 epochs too); without the LFQ and anomaly losses and "
            "without the embedding norm the bit is used (36% on) but is not the driver mask "
            "(F1 0.19, precision 0.11); a linear ramp of the LFQ and anomaly terms over the "
            "first 100 steps (not in the paper; option loss_warmup_steps) with embed_norm=False "
            "gave driver F1 0.22 (precision 0.83, recall 0.12, extreme F1 0.58) on seed 10 but "
            "collapsed to 0.00 on seeds 11 and 12, so the demo keeps the published recipe. "
            "Measured (quick demo, 1768x12x12 cubes, windows in the last 208 steps, "
            "unseen-seed evaluation cube), driver F1: dev seeds 10/11/12: IDEE 0.00/0.00/0.00 "
            "(extreme F1 0.00), Integrated Gradients 0.46/0.47/0.37 (its plain classifier's "
            "extreme F1 0.73/0.72/0.81), |z| threshold 0.41/0.45/0.38, Isolation Forest "
            "0.35/0.40/0.33, one-class SVM 0.23/0.31/0.24; final seeds 0/1/2: IDEE "
            "0.00/0.00/0.00, IG 0.48/0.37/0.41 (extreme F1 0.77/0.74/0.72), |z| 0.46/0.34/0.45, "
            "IF 0.37/0.30/0.41, OCSVM 0.22/0.21/0.27; confirmation seeds 3/4: IDEE 0.00/0.00, "
            "IG 0.39/0.35, |z| 0.45/0.44, IF 0.36/0.37, OCSVM 0.22/0.22 (before the climatology fix IG "
            "0.28/0.39/0.19, |z| 0.31/0.29/0.28). Full demo seed 0 (1768x16x16): IDEE 0.00, "
            "without L_anom 0.00, IG 0.48 (extreme F1 0.76), |z| 0.47, IF 0.45, OCSVM 0.22. "
            "Timing (one core's CPU, time.process_time of the demo call): quick 23-25 s, full "
            "67 s (57 s before; the 34-year cubes add ~3 s quick, ~10 s full); "
            "IDEE trains 2 epochs in the quick demo and 2 for the method and the ablation in "
            "the full one while every baseline keeps 4 / 6 epochs and IG its 8 / 16 steps. The "
            "paper trains 100 epochs on 200x200x2392 cubes (~177k steps at batch 1; the demo "
            "has ~52 for IDEE). Other gaps: PyTorch default init instead of the public "
            "normal(0.02, 0.02); no Video-Swin/Mamba encoders; the NOAA/CERRA configurations "
            "(exp_2/exp_3) need the base climatology files (not available offline) and were "
            "not run; netCDF is written as netCDF3 (signed bytes for the masks; the published "
            "files are netCDF4 with unsigned bytes, readable here only with h5netcdf/netCDF4 "
            "installed); the ERA5-Land/CERRA real-data pipelines and the "
            "MIL/reconstruction/one-class deep baselines (SimpleNet, STEALNet, UniAD, RTFM, "
            "DeepMIL, ARNet) are not implemented"
        ),
    )
)
