"""geoneurips: the GeoAI papers of NeurIPS 2024, runnable.

Importing this package is cheap: torch and the heavy geospatial stack are imported lazily,
inside the systems that need them. Start with :func:`geoneurips.registry.systems`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
