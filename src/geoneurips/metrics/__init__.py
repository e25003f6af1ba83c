"""Metrics with the papers' exact conventions, one module per metric family.

Every function takes numpy arrays (torch tensors are converted with ``np.asarray``) and
returns plain floats or numpy arrays, so that metrics never force a torch import.

Modules (import the one you need; this package imports nothing heavy):

- :mod:`~geoneurips.metrics.confusion`: ``confusion_matrix``, ``segmentation_scores``
  (per-class IoU/F1/precision/recall, mIoU, mF1, OA, kappa), ``binary_scores``.
- :mod:`~geoneurips.metrics.image`: ``psnr``, ``ssim`` (and ``ssim_map``), ``sam``
  (degrees; and ``sam_map``), ``ergas``; re-exports ``mae`` and ``rmse``.
- :mod:`~geoneurips.metrics.ranking`: ``label_rank`` (1-based), ``topk_accuracy``,
  ``mean_reciprocal_rank``.
- :mod:`~geoneurips.metrics.geodesic`: ``haversine_km``, ``accuracy_at_km`` (im2gps
  1/25/200/750/2500 km scales).
- :mod:`~geoneurips.metrics.regression`: ``r2_score``, ``mae``, ``mse``, ``rmse``.
- :mod:`~geoneurips.metrics.multilabel`: ``samples_f1_at_k`` (GeoLifeCLEF top-25 F1),
  ``recall_at_k``, ``macro_auc``, ``topk_indices``, ``topk_binarize``.
"""
