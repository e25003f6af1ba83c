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
        notes="in progress",
    )
)
