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
            "the IDEE model does not learn a driver mask in the CPU budget. Diagnosis "
            "(this round): our LFQ matches the public one (sign bit, straight-through "
            "gradient, 3.0 commitment on the 1-D code, 0.1 per-sample minus 0.1 codebook "
            "entropy at inverse temperature 100, so the entropy terms are flat once |u| > "
            "~0.02); at initialisation the weighted BCE's gradient on a cell's code is ~8e-6, "
            "the same on driver and calm cells, against ~8e-5 from the commitment (which "
            "locks each bit at its initial sign, mostly 'normal') and ~6e-5 from 100 L_anom "
            "on calm cells, so the bits lock at 'normal' (driver F1 0, extreme F1 0 on dev "
            "seeds 10-12, also with the published encoder, the published L_anom, batch 1, "
            "lr 3e-3, or 40 epochs on a 208x8x8 cube); without commitment and entropy the few "
            "bits that turn on are right (precision 0.8-0.9) but recall stays < 0.01; without "
            "L_anom and the LFQ losses the bit reaches driver F1 0.20 (seed 10, 6 epochs; "
            "0.26 with extreme F1 0.27 after 20 epochs), still not above the baselines; "
            "with the published L_anom and no commitment 20 epochs still collapse. Fixed this round: the encoder used GroupNorm(1, C), "
            "so a cell's bit depended on pixels far outside its receptive field; it now "
            "follows the public CNN_3D (per-cell channel LayerNorm, replicate padding, "
            "conv projection), and L_anom is the published L1 of z_q against the detached "
            "project_out(-1) (the 1-D code variant remains an option). Climatology: on the "
            "quick cube the weekly climatology has ~3 training years per week, drivers have "
            "|z| 1.3-1.7 against 0.7-0.8 for normal cells (the paper: 34 years). Measured "
            "(quick demo, seeds 0/1/2, unseen-seed cube): IDEE driver F1 0.00/0.00/0.00, "
            "extreme F1 0.00; Integrated Gradients 0.28/0.39/0.19 (its plain classifier's "
            "extreme F1 0.58/0.62/0.60), |z| threshold 0.31/0.29/0.28, Isolation Forest "
            "0.31/0.29/0.24, one-class SVM 0.22/0.24/0.20; full demo seed 0 (208x16x16): "
            "IDEE 0.00, without L_anom 0.00, IG 0.28 (extreme F1 0.66), |z| 0.19, IF 0.18, "
            "OCSVM 0.14, so beats_baseline is false. Timing (one core's CPU, "
            "time.process_time of the demo, imports ~5 s more): to fit the budget IDEE now "
            "trains 2 epochs in the quick demo (4 before) and 2 epochs for the method and "
            "the ablation in the full one (6 each before) while every baseline keeps 4 / 6 "
            "epochs and IG its 8 / 16 steps; the LFQ entropy is the closed-form sigmoid of "
            "the two-code softmax and the models train channels-last (both the same "
            "numbers; neither saved much): quick 19-22 s (was ~28-30), full 57 s (was "
            "105-111; of it IG 27 s, the three trainings 22 s); every number "
            "above is unchanged by this (IG full 0.278 vs 0.279). The "
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
