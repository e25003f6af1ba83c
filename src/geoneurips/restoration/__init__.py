"""Restoration and fusion systems (pansharpening, HSI fusion, cloud removal, compression,
downscaling) and the shared pansharpening toolkit."""
