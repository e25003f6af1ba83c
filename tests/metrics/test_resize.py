"""MATLAB bicubic ``imresize`` (the project's one implementation, geoneurips.metrics.resize):
hand-worked values, Pillow's independent bicubic in the interior, the numpy/torch upsampler
and the layering (no import cycle between the pansharpening metric modules)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from geoneurips.errors import InvalidInputError
from geoneurips.metrics.resize import (
    bicubic_upsample,
    cubic,
    imresize,
    imresize_matrix,
    imresize_weights,
)


def test_cubic_kernel_hand_values() -> None:
    # Keys a = -0.5: 1.5|x|^3 - 2.5|x|^2 + 1 on [0, 1]; -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2 on (1, 2]
    x = np.array([0.0, 0.25, 0.75, 1.0, 1.25, 1.75, 2.0, 2.5])
    expected = [1.0, 0.8671875, 0.2265625, 0.0, -0.0703125, -0.0234375, 0.0, 0.0]
    np.testing.assert_allclose(cubic(x), expected, atol=1e-15)
    np.testing.assert_allclose(cubic(-x), expected, atol=1e-15)


def test_imresize_upsampling_hand_worked() -> None:
    """``imresize([1 2 3 4], 2)``, worked by hand from MATLAB's ``contributions``: output
    pixel ``x`` (1-based) sits at ``u = x / 2 + 0.25``; e.g. ``x = 1``: ``u = 0.75``, taps
    at input 0, 1, 2 (0 mirrored to 1) with weights ``cubic(1.75), cubic(0.25) + cubic(0.75)
    ...``: ``-0.0234375 * 2 + (0.2265625 + 0.8671875) * 1 - 0.0703125 * 2 = 0.90625``.
    Interior pixels reproduce the linear ramp exactly (2.25, 2.75)."""
    row = np.array([[1.0, 2.0, 3.0, 4.0]])
    out = imresize(row, 2)
    expected = [0.90625, 1.1796875, 1.7265625, 2.25, 2.75, 3.2734375, 3.8203125, 4.09375]
    assert out.shape == (1, 2, 8)
    np.testing.assert_allclose(out[0], [expected, expected], atol=1e-12)


def test_imresize_downsampling_hand_worked_and_antialiased() -> None:
    """Shrinking by 1/2 stretches the kernel to ``0.5 * cubic(0.5 d)`` over 8 taps. On an
    impulse the weights are the kernel itself: output pixel 2 (1-based) of a 1 at input 4
    sits at ``u = 2 * 2 - 0.5 = 3.5``, distance 0.5 -> ``0.5 * cubic(0.25) = 0.43359375``,
    normalised by the (unit) weight sum."""
    x = np.zeros((1, 1, 8))
    x[0, 0, 3] = 1.0  # input pixel 4 (1-based)
    out = imresize(x, 0.5)
    assert out.shape == (1, 1, 4)
    # output x=1: u = 1.5, d = 2.5 -> 0.5 * cubic(1.25); x=2: d = 0.5; x=3: d = 1.5 (0.75)
    np.testing.assert_allclose(out[0, 0], [0.5 * -0.0703125, 0.43359375, 0.5 * 0.2265625,
                                           0.5 * -0.0234375], atol=1e-12)
    idx, w = imresize_weights(8, 0.5)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert idx.min() >= 0 and idx.max() <= 7


@pytest.mark.parametrize("scale", [0.25, 0.5, 2.0, 4.0])
def test_imresize_matches_pillow_interior(scale: float) -> None:
    """Pillow's BICUBIC (Keys a = -0.5, antialiased when shrinking) is an independent
    implementation; it clips the kernel at the borders where MATLAB mirrors, so compare the
    pixels whose taps stay inside the image."""
    from PIL import Image

    rng = np.random.default_rng(1)
    img = rng.random((48, 40)).astype(np.float32)
    ours = imresize(img.astype(np.float64), scale)[0]
    size = (int(40 * scale), int(48 * scale))
    pil = np.asarray(Image.fromarray(img, mode="F").resize(size, Image.Resampling.BICUBIC))
    m = int(max(3 * scale, 3 / scale)) + 1
    np.testing.assert_allclose(ours[m:-m, m:-m], pil[m:-m, m:-m], atol=2e-5)


def test_bicubic_upsample_numpy_torch_and_matrix_agree() -> None:
    import torch

    rng = np.random.default_rng(2)
    lr = rng.random((2, 3, 6, 5))
    up = bicubic_upsample(lr, 4)
    assert up.shape == (2, 3, 24, 20)
    np.testing.assert_allclose(up[1], imresize(lr[1], 4), atol=1e-12)
    t = torch.tensor(lr, requires_grad=True)
    tu = bicubic_upsample(t, 4)
    assert isinstance(tu, torch.Tensor) and tu.dtype == torch.float64
    np.testing.assert_allclose(tu.detach().numpy(), up, atol=1e-12)
    tu.sum().backward()
    assert t.grad is not None
    mat = imresize_matrix(6, 4.0)
    np.testing.assert_allclose(mat.sum(axis=1), 1.0)
    with pytest.raises(InvalidInputError, match="ratio"):
        bicubic_upsample(lr, 0)
    with pytest.raises(InvalidInputError, match="scale"):
        imresize(lr[0], 0.0)


def test_one_imresize_and_no_import_cycle() -> None:
    """Every user gets the same function, and importing the MTF module does not import the
    pansharpening metrics (the cycle mtf <-> pansharpening is gone)."""
    from geoneurips.metrics import mtf, pansharpening
    from geoneurips.restoration.feinfn import data as feinfn_data
    from geoneurips.restoration.pansharpening import mtf as toolkit_mtf

    assert mtf.imresize is imresize and toolkit_mtf.imresize is imresize
    assert pansharpening.imresize is imresize
    assert feinfn_data.bicubic_upsample is bicubic_upsample
    code = ("import sys, geoneurips.metrics.mtf; "
            "print('geoneurips.metrics.pansharpening' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
