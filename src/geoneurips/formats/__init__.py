"""Published annotation formats read by several systems (shared layer; never imports a system).

* :mod:`geoneurips.formats.dota`: DOTA's per-image label files (PECL, debLoRA, VRSBench).
* :mod:`geoneurips.formats.dior`: DIOR's Pascal VOC XML files (VRSBench).
"""
