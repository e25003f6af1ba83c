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
            "the IDEE model's quantiser bit does not become the driver mask with the published "
            "recipe, so beats_baseline is false. Re-derived against the paper and the public "
            "build.py/LFQ.py/losses.py/train_synthetic.py/config.py (tests in "
            "test_idee_gradients.py): the classifier reads project_out(sign u) through a "
            "straight-through estimator and the BCE's gradient reaches the encoder; per-sample "
            "entropy is minimised and codebook entropy maximised (0.1 each); the commitment "
            "3.0 MSE(u, sg(sign u)) pulls each code towards its own sign; L_anom pulls calm "
            "cells to index 0 = code -1 = project_out(-1); no sign or detach error was found. "
            "Fixed: IDEEConfig() had classifier dropout 0.2 (public cls_drop_rate is 0.0). "
            "Why the bit stays constant (dev seed 10, 1768x8x8 cubes, windows from the last 208 "
            "steps, batch 8): (1) PyTorch init: every bit is 'normal' within the first steps "
            "and stays so for 2000 steps (~80 epochs; also with embed_norm=False); the BCE "
            "pushes driver cells' codes up (+7.6e-6 per cell after 500 steps, -5.3e-6 on the "
            "others: the direction is right) but the commitment's restoring force at "
            "|u - sign u| = 1 is 6/M = 6.1e-5 (8x; 215x at init), so no code crosses 0; (2) "
            "the public normal(0.02, 0.02) init starts every bit at 'driver'; L_anom on "
            "z_q - project_out(-1) = W(q + 1) is cheapest to meet by shrinking project_out's "
            "weight (|W| 0.68 -> 4e-8 in 500 steps with Adam's L2), after which the BCE's "
            "gradient on every code is exactly 0: all bits stay 'driver' for 2000 steps "
            "(driver F1 0.29 = the driver fraction's, extreme F1 0.00); with L_anom on the 1-D "
            "code instead, or with the paper-size config (widths 16,16, dim 16) at batch 1 "
            "(3000 steps), all bits stay 'normal'. Both are fixed points, so the step budget "
            "is not the cause. Not in the paper: commitment weight 0.3 instead of 3.0 lets the "
            "bit learn (8x8, dev seeds 10/11/12, 1000 steps: driver F1 0.32/0.37/0.23, "
            "precision 0.90/0.66/0.85, extreme F1 0.62/0.54/0.60) against baselines on the same "
            "cubes (plain classifier 1000 steps) IG 0.41/0.44/0.42, |z| 0.42/0.44/0.43, IF "
            "0.41/0.42/0.38, OCSVM 0.33/0.33/0.24; with 3000 steps for IDEE and the plain "
            "classifier alike: IDEE (commitment 0.3) 0.50/0.60/0.41 (extreme F1 "
            "0.62/0.67/0.64) vs IG 0.43/0.53/0.45 (its classifier's extreme F1 "
            "0.58/0.69/0.72): +0.07/+0.07/-0.04, no consistent win even with the non-paper "
            "weight, so the demo keeps the published recipe and idee stays partial. Demo (published recipe, quick 1768x12x12, unseen-seed evaluation cube), "
            "driver F1: dev seeds 10/11/12 IDEE 0.00/0.00/0.00, IG 0.46/0.47/0.37, |z| "
            "0.41/0.45/0.38, IF 0.35/0.40/0.33, OCSVM 0.23/0.31/0.24; seeds 0/1/2 IDEE "
            "0.00/0.00/0.00, IG 0.48/0.37/0.41 (extreme F1 0.77/0.74/0.72), |z| "
            "0.46/0.34/0.45, IF 0.37/0.30/0.41, OCSVM 0.22/0.21/0.27; seeds 3/4 IDEE 0.00/0.00, "
            "IG 0.39/0.35, |z| 0.45/0.44, IF 0.36/0.37, OCSVM 0.22/0.22; full demo seed 0 "
            "(1768x16x16) IDEE 0.00, without L_anom 0.00, IG 0.48, |z| 0.47, IF 0.45, OCSVM "
            "0.22. One core's CPU: quick 23-25 s, full 67 s; IDEE trains 2 epochs (~52 steps) "
            "while every baseline keeps 4 / 6 epochs. Other gaps: PyTorch default init instead "
            "of the public normal(0.02, 0.02); no Video-Swin/Mamba encoders; exp_2/exp_3 need "
            "the NOAA/CERRA base climatologies (not available offline); netCDF3 output (the "
            "published files are netCDF4, readable here with h5netcdf/netCDF4 installed); no "
            "ERA5-Land/CERRA pipelines and no MIL/reconstruction/one-class deep baselines "
            "(SimpleNet, STEALNet, UniAD, RTFM, DeepMIL, ARNet)"
        ),
    )
)
