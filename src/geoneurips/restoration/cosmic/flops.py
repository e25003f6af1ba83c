"""COSMIC (Zhang et al., NeurIPS 2024, arXiv 2410.01698): on-board encoder FLOPs.

The cost of COSMIC's lightweight on-board encoder (Sec. 3.2) against the standard hyperprior
encoder of the same widths, counted with :class:`torch.utils.flop_counter.FlopCounterMode`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .codec import COSMICCodec
from .config import COSMICConfig

__all__ = ["count_flops", "encoder_flops_report", "hyperprior_reference_encoder"]


def hyperprior_reference_encoder(n: int = 128, m: int = 192) -> nn.Module:
    """The standard hyperprior on-board encoder (Balle et al. 2018, as implemented by
    compressai's :class:`~compressai.models.ScaleHyperprior`): its ``g_a`` and ``h_a``."""
    from compressai.models import ScaleHyperprior

    ref = ScaleHyperprior(n, m)

    class _Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.g_a = ref.g_a
            self.h_a = ref.h_a

        def forward(self, x: Tensor) -> Tensor:
            y = self.g_a(x)
            out: Tensor = self.h_a(torch.abs(y))
            return out

    return _Encoder()


class _OnboardEncoder(nn.Module):
    def __init__(self, codec: COSMICCodec) -> None:
        super().__init__()
        self.g_a = codec.g_a
        self.h_a = codec.h_a

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.h_a(self.g_a(x))
        return out


def count_flops(module: nn.Module, x: Tensor) -> int:
    """FLOPs of ``module(x)`` counted by :class:`torch.utils.flop_counter.FlopCounterMode`
    (one multiply-add = 2 FLOPs; convolutions, matmuls and GDN's 1x1 convolution)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(x)
    return int(counter.get_total_flops())


def encoder_flops_report(config: COSMICConfig | None = None, size: int = 256) -> dict[str, float]:
    """On-board encoder GFLOPs of COSMIC (``g_a`` + ``h_a``) vs the standard hyperprior
    encoder of the same widths, on one ``3 x size x size`` image (the paper uses 256^2)."""
    cfg = config or COSMICConfig()
    x = torch.zeros(1, cfg.in_channels, size, size)
    ours = count_flops(_OnboardEncoder(COSMICCodec(cfg)).eval(), x)
    ref = count_flops(hyperprior_reference_encoder(cfg.n, cfg.m).eval(), x)
    ours_ga = count_flops(COSMICCodec(cfg).g_a.eval(), x)
    ref_g_a = hyperprior_reference_encoder(cfg.n, cfg.m).g_a
    assert isinstance(ref_g_a, nn.Module)
    ref_ga = count_flops(ref_g_a.eval(), x)
    return {
        "cosmic_encoder_gflops": ours / 1e9,
        "hyperprior_encoder_gflops": ref / 1e9,
        "flops_ratio": ref / ours,
        "cosmic_g_a_gflops": ours_ga / 1e9,
        "hyperprior_g_a_gflops": ref_ga / 1e9,
        "image_size": float(size),
    }
