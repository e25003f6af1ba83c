"""Metrics with the papers' exact conventions, one module per metric family.

Every function takes numpy arrays (torch tensors are converted with ``np.asarray``) and
returns plain floats or numpy arrays, so that metrics never force a torch import.
"""
