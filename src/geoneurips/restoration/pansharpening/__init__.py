"""Pansharpening toolkit shared by SSDiff and usable on its own.

- :mod:`.data`: the PanCollection ``.h5`` reader and a fixture writer;
- :mod:`geoneurips.metrics.mtf` (re-exported as :mod:`.mtf`): sensor MTF-matched filters,
  the 23-tap interpolator and Wald's protocol;
- :mod:`.classical`: interpolation, Brovey, Gram-Schmidt and IHS baselines;
- the ``geoneurips pansharpen`` command (GeoTIFF in, GeoTIFF out) lives with the system that
  registers it, :mod:`geoneurips.restoration.ssdiff.cli` (the toolkit imports no system);
- :mod:`geoneurips.metrics.pansharpening`: SAM, ERGAS, Q2n, SCC, D_lambda, D_s, HQNR with the
  pansharpening toolbox conventions.

Nothing heavy is imported here.
"""
