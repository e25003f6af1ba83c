"""Re-export: the region-merging proposer lives in the shared layer
:mod:`geoneurips.proposals.regions`."""

from geoneurips.proposals.regions import RegionMergeProposer

__all__ = ["RegionMergeProposer"]
