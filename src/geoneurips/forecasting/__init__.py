"""Forecasting systems (spatio-temporal and time-series prediction)."""
