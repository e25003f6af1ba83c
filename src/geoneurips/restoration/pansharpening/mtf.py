"""Sensor MTF filters, the 23-tap interpolator and Wald's protocol: moved to
:mod:`geoneurips.metrics.mtf` (the full-resolution metrics need them, and the metrics layer
must not import the systems). This module re-exports it for the toolkit's users."""

from ...metrics.mtf import (
    DEFAULT_MS_GNYQ,
    DEFAULT_PAN_GNYQ,
    INTERP23_MARGIN,
    MS_GNYQ,
    PAN_GNYQ,
    SENSOR_MAX_VALUE,
    decimate,
    gnyq_kernel,
    imresize,
    interp23,
    make_reduced_resolution,
    ms_gnyq,
    mtf_filter,
    mtf_kernel,
    mtf_pan_kernel,
    normalize_sensor,
    pan_gnyq,
    reflect_index,
    sensor_max_value,
    wald_reduce,
)

__all__ = [
    "DEFAULT_MS_GNYQ",
    "DEFAULT_PAN_GNYQ",
    "INTERP23_MARGIN",
    "MS_GNYQ",
    "PAN_GNYQ",
    "SENSOR_MAX_VALUE",
    "decimate",
    "gnyq_kernel",
    "imresize",
    "interp23",
    "make_reduced_resolution",
    "ms_gnyq",
    "mtf_filter",
    "mtf_kernel",
    "mtf_pan_kernel",
    "normalize_sensor",
    "pan_gnyq",
    "reflect_index",
    "sensor_max_value",
    "wald_reduce",
]
