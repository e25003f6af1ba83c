"""Location family: location encoders, location priors and geo-localisation (NeurIPS 2024).

Systems: ``torchspatial`` (TorchSpatial, arXiv 2406.15658), ``geoplant``, ``g3``, ``gomaageo``.
"""
