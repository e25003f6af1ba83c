"""Change-detection systems (bi-temporal and time-series land-use / land-cover change)."""
