"""AnyChange's SAM features on non-square images (edge tiles): padding must be cropped."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from geoneurips.change.anychange.model import SamBackend, build_tiny_sam


class _PoolEncoder(nn.Module):
    """Stand-in SAM image encoder: the padded input average-pooled over 16 x 16 patches.

    Its embedding cell ``(i, j)`` is exactly the mean of the model input under that patch,
    so the features seen at image size can be compared with the image itself.
    """

    def __init__(self, img_size: int) -> None:
        super().__init__()
        self.img_size = img_size
        norm = nn.GroupNorm(1, 3)  # any module with weight and bias (SAM: LayerNorm2d)
        self.neck = nn.Sequential(nn.Identity(), nn.Identity(), nn.Identity(), norm)

    def forward(self, x: Tensor) -> Tensor:
        return torch.nn.functional.avg_pool2d(x, 16)


@pytest.mark.parametrize("shape", [(32, 64), (64, 32)])
def test_features_cover_the_image_not_the_padding(shape: tuple[int, int]) -> None:
    """A non-square image is padded to a square by SAM; only the image's cells are used.

    Dark first half, bright second half across the short side: the bright edge must come
    out bright. Before the fix the full 4 x 4 grid (two cells of padding = 0) was
    stretched over the image, so the second half read the padding (about 0, not 2.25).
    """
    sam = build_tiny_sam(img_size=64)
    sam.image_encoder = _PoolEncoder(64)
    be = SamBackend(sam)
    h, w = shape
    img = np.zeros((h, w, 3), np.uint8)
    if h < w:
        img[h // 2 :] = 255
    else:
        img[:, w // 2 :] = 255
    st = be.encode(img)
    assert st.embedding.shape == (1, 3, 4, 4)
    feats = be.features(st, normalized=False)
    mean = torch.tensor([123.675, 116.28, 103.53])
    std = torch.tensor([58.395, 57.12, 57.375])
    dark, bright = -mean / std, (255 - mean) / std
    first = torch.zeros(h, w, dtype=torch.bool)
    last = torch.zeros(h, w, dtype=torch.bool)
    if h < w:
        first[0], last[-1] = True, True
    else:
        first[:, 0], last[:, -1] = True, True
    got = feats.mask_means(torch.stack([first, last]))
    assert torch.allclose(got[0], dark, atol=1e-4)
    assert torch.allclose(got[1], bright, atol=1e-4)
    assert tuple(feats.f.shape) == (3, *((2, 4) if h < w else (4, 2)))


def test_square_image_uses_the_whole_grid() -> None:
    be = SamBackend(build_tiny_sam())
    img = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    st = be.encode(img)
    assert torch.equal(be.features(st, False).f, st.embedding[0])
