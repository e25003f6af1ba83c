"""Semantic segmentation systems of the collection (SGNet, SeCo, Kuro Siwo, OAM-TCD, ...)."""
