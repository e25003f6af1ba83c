"""Tests of the 15 TorchSpatial location encoders (PE + FFN).

The reference values are hand-written per-point evaluations (``math`` module) of the paper
formulas (TorchSpatial arXiv 2406.15658; Space2Vec, Sphere2Vec, NeRF, rff, wrap, SH), and
scipy's complex spherical harmonics for the real SH basis.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y
from torch import Tensor

from geoneurips.errors import InvalidInputError
from geoneurips.location.torchspatial.encoders import (
    ENCODER_NAMES,
    LocationEncoder,
    build_encoder,
    convert_public_state_dict,
    position_encoding,
)
from geoneurips.location.torchspatial.ffn import MultiLayerFeedForwardNN, WrapFCNet
from geoneurips.location.torchspatial.position import PositionEncoder

POINTS = [(0.0, 0.0), (-73.9, 40.7), (151.2, -33.9), (179.5, 89.0), (-180.0, -90.0), (12.3, 5.4)]


def _anchors(m: int = 200, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(m, 2, generator=g, dtype=torch.float64)
    return u * torch.tensor([360.0, 180.0], dtype=torch.float64) - torch.tensor([180.0, 90.0])


def _kwargs(name: str) -> dict[str, object]:
    return {"anchors": _anchors()} if name == "rbf" else {}


def _pts64() -> torch.Tensor:
    return torch.tensor(POINTS, dtype=torch.float64)


def _freqs(s: int, r_min: float, r_max: float) -> list[float]:
    return [1.0 / (r_min * (r_max / r_min) ** (i / (s - 1))) for i in range(s)]


# ------------------------------------------------------------------ per-point references


def ref_wrap(lon: float, lat: float) -> list[float]:
    return [
        math.sin(math.pi * lon / 180),
        math.sin(math.pi * lat / 90),
        math.cos(math.pi * lon / 180),
        math.cos(math.pi * lat / 90),
    ]


def ref_grid(lon: float, lat: float, f: list[float]) -> list[float]:
    out = []
    for c in (lon, lat):
        for fs in f:
            out += [math.sin(c * fs), math.cos(c * fs)]
    return out


def ref_theory(lon: float, lat: float, f: list[float]) -> list[float]:
    units = [(1.0, 0.0), (-0.5, math.sqrt(3) / 2), (-0.5, -math.sqrt(3) / 2)]
    out = []
    for fs in f:
        for ax, ay in units:
            p = lon * ax + lat * ay
            out += [math.sin(p * fs), math.cos(p * fs)]
    return out


def ref_xyz(lon: float, lat: float) -> list[float]:
    lo, la = math.radians(lon), math.radians(lat)
    return [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]


def ref_nerf(lon: float, lat: float, num: int) -> list[float]:
    xyz = ref_xyz(lon, lat)
    out = []
    for fn in (math.sin, math.cos):
        for c in xyz:
            out += [fn(2**k * math.pi * c) for k in range(num)]
    return out


def _trig(lon: float, lat: float, fs: float) -> tuple[float, float, float, float]:
    a, b = math.radians(lon) * fs, math.radians(lat) * fs
    return math.sin(a), math.cos(a), math.sin(b), math.cos(b)


def ref_sphere(name: str, lon: float, lat: float, f: list[float]) -> list[float]:
    sl1, cl1, _, cp1 = _trig(lon, lat, 1.0)
    out: list[float] = []
    for fs in f:
        sl, cl, sp, cp = _trig(lon, lat, fs)
        if name == "sphere_c":
            out += [sp, cp * cl, cp * sl]
        elif name == "sphere_c_plus":
            out += [sp, cp, sl, cl, cp * cl, cp * sl]
        elif name == "sphere_m":
            out += [sp, cp * cl1, cp1 * cl, cp * sl1, cp1 * sl]
        elif name == "sphere_m_plus":
            out += [sp, cp, sl, cl, cp * cl1, cp1 * cl, cp * sl1, cp1 * sl]
    if name == "dfs":
        u = [_trig(lon, lat, fs)[0] for fs in f] + [_trig(lon, lat, fs)[1] for fs in f]
        v = [_trig(lon, lat, fs)[2] for fs in f] + [_trig(lon, lat, fs)[3] for fs in f]
        out = [ui * vj for ui in u for vj in v]
        for fs in f:
            sl, cl, sp, cp = _trig(lon, lat, fs)
            out += [sp, cp, sl, cl]
    return out


def real_sh_scipy(big_l: int, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Real orthonormal SH from scipy's complex ones (Condon-Shortley phase removed)."""
    theta = np.radians(90.0 - lat)  # colatitude
    phi = np.radians(lon)
    cols = []
    for deg in range(big_l):
        for m in range(-deg, deg + 1):
            y = sph_harm_y(deg, abs(m), theta, phi)
            if m > 0:
                cols.append(math.sqrt(2) * (-1) ** m * y.real)
            elif m < 0:
                cols.append(math.sqrt(2) * (-1) ** m * y.imag)
            else:
                cols.append(y.real)
    return np.stack(cols, -1)


# ------------------------------------------------------------------ every encoder


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_encoder_shape_finite_and_gradients(name: str) -> None:
    torch.manual_seed(0)
    enc = build_encoder(name, out_dim=32, hidden_dim=64, dropout=0.1, **_kwargs(name))
    assert isinstance(enc, LocationEncoder)
    assert enc.out_dim == 32
    x = (torch.rand(4, 3, 2) * torch.tensor([360.0, 180.0]) - torch.tensor([180.0, 90.0])).clone()
    x.requires_grad_(True)
    y = enc(x)
    assert y.shape == (4, 3, 32)
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()
    (y**2).sum().backward()
    params = [p for p in enc.parameters() if p.requires_grad]
    assert params
    first = next(iter(enc.ffn.parameters()))
    assert first.grad is not None and first.grad.abs().sum() > 0
    for p in params:
        assert p.grad is not None and torch.isfinite(p.grad).all()
    if name == "tile":
        assert x.grad is None or torch.all(x.grad == 0)  # piecewise constant lookup
        assert enc.position.embedding.weight.grad.abs().sum() > 0
    else:
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_pe_widths_match_public_checkpoints() -> None:
    widths = {
        "space2vec_grid": 256,
        "space2vec_theory": 384,
        "sphere_c": 192,
        "sphere_c_plus": 384,
        "sphere_m": 320,
        "nerf": 96,
        "rbf": 200,
        "rff": 64,
        "wrap_ffn": 4,
        "wrap": 4,
        "xyz": 3,
        "sphere_m_plus": 8 * 64,
        "dfs": 4 * 8 + 4 * 8 * 8,
        "spherical_harmonics": 64,
        "tile": 256,
    }
    assert set(widths) == set(ENCODER_NAMES)
    for name, width in widths.items():
        enc = build_encoder(name, **_kwargs(name))
        assert enc.position.out_dim == width, name
        assert enc.position(_pts64().float()).shape == (len(POINTS), width), name
        first = enc.ffn.feats[0] if name == "wrap" else enc.ffn.layers[0].linear
        assert first.in_features == width


# ------------------------------------------------------------------ formulas


@pytest.mark.parametrize(
    ("name", "s", "r_min", "r_max"),
    [
        ("space2vec_grid", 64, 0.005, 360.0),
        ("space2vec_grid", 5, 0.1, 100.0),
        ("space2vec_theory", 64, 0.001, 360.0),
        ("space2vec_theory", 3, 1.0, 50.0),
    ],
)
def test_space2vec_formulas(name: str, s: int, r_min: float, r_max: float) -> None:
    pe = position_encoding(name, frequency_num=s, min_radius=r_min, max_radius=r_max)
    got = pe(_pts64()).numpy()
    f = _freqs(s, r_min, r_max)
    ref = ref_grid if name == "space2vec_grid" else ref_theory
    want = np.array([ref(lon, lat, f) for lon, lat in POINTS])
    np.testing.assert_allclose(got, want, atol=1e-9)


@pytest.mark.parametrize("name", ["sphere_c", "sphere_c_plus", "sphere_m", "sphere_m_plus", "dfs"])
@pytest.mark.parametrize(("s", "r_min", "r_max"), [(4, 0.01, 1.0), (64, 0.001, 1.0)])
def test_sphere2vec_formulas(name: str, s: int, r_min: float, r_max: float) -> None:
    if name == "dfs" and s == 64:
        s = 8  # the paper's dfs scale count
    pe = position_encoding(name, frequency_num=s, min_radius=r_min, max_radius=r_max)
    got = pe(_pts64()).numpy()
    want = np.array([ref_sphere(name, lon, lat, _freqs(s, r_min, r_max)) for lon, lat in POINTS])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-9)
    # float32 agrees with the float64 formula to float32 angle rounding
    got32 = pe(_pts64().float()).double().numpy()
    np.testing.assert_allclose(got32, want, atol=5e-3)


def test_sphere_legacy_schedule_reproduces_public_collapse() -> None:
    paper = position_encoding("sphere_m_plus", frequency_num=16)
    legacy = position_encoding("sphere_m_plus", frequency_num=16, legacy_frequencies=True)
    assert torch.allclose(legacy.freqs, torch.ones(16, dtype=torch.float64))
    assert paper.freqs.unique().numel() == 16
    assert paper.freqs[0] == pytest.approx(1000.0) and paper.freqs[-1] == pytest.approx(1.0)
    # with every f_s = 1 each scale group is identical
    y = legacy(_pts64()).view(len(POINTS), 16, 8)
    assert torch.allclose(y, y[:, :1].expand_as(y))
    dfs_legacy = position_encoding("dfs", legacy_frequencies=True, max_radius=4.0)
    want = [4.0 ** (-i / 7) for i in range(8)]
    np.testing.assert_allclose(dfs_legacy.freqs.numpy(), want)


def test_wrap_xyz_nerf_formulas() -> None:
    pts = _pts64()
    np.testing.assert_allclose(
        position_encoding("wrap")(pts).numpy(), [ref_wrap(*p) for p in POINTS], atol=1e-12
    )
    xyz = position_encoding("xyz")(pts)
    np.testing.assert_allclose(xyz.numpy(), [ref_xyz(*p) for p in POINTS], atol=1e-12)
    np.testing.assert_allclose(xyz.norm(dim=-1).numpy(), 1.0, atol=1e-12)
    rnd = torch.rand(1000, 2, dtype=torch.float64) * torch.tensor([360.0, 180.0]) - torch.tensor(
        [180.0, 90.0]
    )
    assert torch.allclose(position_encoding("xyz")(rnd.float()).norm(dim=-1), torch.ones(1000))
    nerf = position_encoding("nerf")
    assert nerf.out_dim == 96
    np.testing.assert_allclose(
        nerf(pts).numpy(), [ref_nerf(lon, lat, 16) for lon, lat in POINTS], atol=1e-9
    )


@pytest.mark.parametrize("num", [1, 4, 10])
def test_nerf_honours_frequency_num(num: int) -> None:
    pe = position_encoding("nerf", frequency_num=num)
    assert pe.out_dim == 6 * num
    got = pe(_pts64()).numpy()
    np.testing.assert_allclose(got, [ref_nerf(lon, lat, num) for lon, lat in POINTS], atol=1e-9)


def test_rbf_and_rff_formulas() -> None:
    anchors = _anchors(7, seed=3)
    pe = position_encoding("rbf", anchors=anchors, kernel_size=30.0)
    got = pe(_pts64()).numpy()
    want = [
        [math.exp(-((lon - a[0]) ** 2 + (lat - a[1]) ** 2) / (2 * 30.0**2)) for a in anchors]
        for lon, lat in POINTS
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)

    rff = position_encoding("rff", frequency_num=16, kernel_size=2.0, seed=5)
    w, b = rff.dirvec.numpy(), rff.shift.numpy()
    want = []
    for lon, lat in POINTS:
        xn = [(lon + 180) / 360 * 2 - 1, (lat + 90) / 180 * 2 - 1]
        want.append(
            [
                math.sqrt(2 / 16) * math.cos(xn[0] * w[0, d] + xn[1] * w[1, d] + b[d])
                for d in range(16)
            ]
        )
    np.testing.assert_allclose(rff(_pts64()).numpy(), want, atol=1e-12)
    # fixed by the seed, different for another seed, variance ~ kernel_size
    again = position_encoding("rff", frequency_num=16, kernel_size=2.0, seed=5)
    assert torch.equal(again.dirvec, rff.dirvec) and torch.equal(again.shift, rff.shift)
    other = position_encoding("rff", frequency_num=16, kernel_size=2.0, seed=6)
    assert not torch.equal(other.dirvec, rff.dirvec)
    big = position_encoding("rff", frequency_num=20000, kernel_size=2.0)
    assert big.dirvec.var().item() == pytest.approx(2.0, rel=0.05)
    assert 0 <= big.shift.min() and big.shift.max() <= 2 * math.pi
    assert {"dirvec", "shift"} <= set(big.state_dict())


def test_tile_honours_interval() -> None:
    pe = position_encoding("tile", interval=10.0, embed_dim=8)
    assert (pe.num_col, pe.num_row) == (36, 18)
    assert pe.embedding.num_embeddings == 36 * 18
    same = torch.tensor([[1.0, 1.0], [9.0, 9.0]])
    diff = torch.tensor([[1.0, 1.0], [11.0, 1.0], [1.0, 11.0], [-179.0, -89.0], [180.0, 90.0]])
    e_same = pe(same)
    assert torch.equal(e_same[0], e_same[1])
    e_diff = pe(diff)
    for i in range(len(diff)):
        for j in range(i + 1, len(diff)):
            assert not torch.equal(e_diff[i], e_diff[j]), (i, j)
    # explicit cell ids: row * n_col + col
    assert pe.cell_index(torch.tensor([[-180.0, -90.0]])).item() == 0
    assert pe.cell_index(torch.tensor([[180.0, 90.0]])).item() == 36 * 18 - 1
    assert pe.cell_index(torch.tensor([[-165.0, -75.0]])).item() == 1 * 36 + 1
    # the default grid is finer than the public single cell
    default = position_encoding("tile")
    assert default.embedding.num_embeddings == 72 * 36
    many = torch.rand(500, 2) * torch.tensor([360.0, 180.0]) - torch.tensor([180.0, 90.0])
    assert default(many).unique(dim=0).shape[0] > 100


def test_spherical_harmonics_match_scipy() -> None:
    rng = np.random.default_rng(0)
    lon = np.concatenate([rng.uniform(-180, 180, 200), [0.0, 180.0, -180.0, 45.0]])
    lat = np.concatenate([rng.uniform(-90, 90, 200), [90.0, -90.0, 0.0, 89.999]])
    pts = torch.from_numpy(np.stack([lon, lat], -1))
    want = real_sh_scipy(8, lon, lat)
    pe = position_encoding("spherical_harmonics")
    assert pe.out_dim == 64
    np.testing.assert_allclose(pe(pts).numpy(), want, atol=1e-10)
    np.testing.assert_allclose(pe(pts.float()).double().numpy(), want, atol=5e-5)
    small = position_encoding("spherical_harmonics", legendre_poly_num=3)
    np.testing.assert_allclose(small(pts).numpy(), real_sh_scipy(3, lon, lat), atol=1e-12)
    # orthonormal on the sphere: Gauss-Legendre in cos(theta) x uniform lon
    z, wz = np.polynomial.legendre.leggauss(16)
    lons = np.linspace(-180, 180, 32, endpoint=False)
    zz, ll = np.meshgrid(z, lons, indexing="ij")
    grid = torch.from_numpy(np.stack([ll.ravel(), np.degrees(np.arcsin(zz.ravel()))], -1))
    y = pe(grid).numpy()
    w = (wz[:, None] * np.full((1, 32), 2 * np.pi / 32)).ravel()
    gram = (y * w[:, None]).T @ y
    np.testing.assert_allclose(gram, np.eye(64), atol=1e-10)


def test_spherical_harmonics_differentiable_at_poles() -> None:
    x = torch.tensor([[30.0, 90.0], [-60.0, -90.0], [0.0, 0.0]], requires_grad=True)
    y = position_encoding("spherical_harmonics")(x)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    "name", ["space2vec_grid", "sphere_c", "sphere_m_plus", "dfs", "spherical_harmonics", "nerf"]
)
def test_input_gradient_matches_finite_differences(name: str) -> None:
    small = {"legendre_poly_num": 4} if name == "spherical_harmonics" else {"frequency_num": 3}
    pe = position_encoding(name, **small)
    x = torch.tensor([[10.0, 20.0], [-100.0, -45.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pe, (x,), eps=1e-6, atol=1e-5)


# ------------------------------------------------------------------ batching, dtypes, chunks


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_chunked_inference_equals_single_pass(name: str) -> None:
    pe = position_encoding(name, **_kwargs(name))
    x = torch.rand(3000, 2) * torch.tensor([360.0, 180.0]) - torch.tensor([180.0, 90.0])
    with torch.no_grad():
        whole = pe(x)
        pe.chunk_elements = 300 * max(pe.out_dim, 1)
        chunked = pe(x)
    assert torch.allclose(whole, chunked, atol=1e-6)
    with torch.inference_mode():
        assert torch.allclose(pe(x.view(30, 100, 2)).view(3000, -1), whole, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_no_grad_fast_path_equals_autograd_path(name: str, dtype: torch.dtype) -> None:
    """The no-grad path (chunks written into the result, feature-major tables, blocked
    GEMMs, range reduction, rbf's clamped exp) against the plain autograd formulas."""
    torch.manual_seed(1)
    pe = position_encoding(name, **_kwargs(name)).to(dtype)
    x = torch.rand(2005, 2, dtype=dtype) * torch.tensor([360.0, 180.0], dtype=dtype)
    x = x - torch.tensor([180.0, 90.0], dtype=dtype)
    x[:5] = torch.tensor([[-180.0, -90.0], [180.0, 90.0], [0.0, 0.0], [179.9, -89.9], [1.0, 2.0]])
    xg = x.clone().requires_grad_(True)
    ref = pe(xg)
    assert ref.requires_grad  # the autograd path (tile: through its embedding table)
    ref = ref.detach()
    tol = 2e-6 if dtype == torch.float32 else 1e-10  # GEMM blocking: ulp of angles ~4e4 rad
    for chunk in (PositionEncoder.chunk_elements, 333 * pe.out_dim):  # odd sizes: remainders
        pe.chunk_elements = chunk
        with torch.no_grad():
            fast = pe(x)
        assert fast.shape == ref.shape and fast.dtype == ref.dtype
        torch.testing.assert_close(fast, ref, atol=tol, rtol=0.0)
    assert pe.encode(x[:37]).shape == (37, pe.out_dim)  # called directly, without out/arena
    with torch.no_grad():
        torch.testing.assert_close(pe.encode(x[:37]), ref[:37], atol=tol, rtol=0.0)


def test_large_no_grad_batch_and_rbf_far_points() -> None:
    pe = position_encoding("sphere_m")
    x = torch.rand(7001, 2) * torch.tensor([360.0, 180.0]) - torch.tensor([180.0, 90.0])
    with torch.inference_mode():
        big = pe(x)  # > 4 MB result, many chunks
    assert torch.equal(big[6000:], pe(x[6000:]).detach())
    anchors = torch.tensor([[0.0, 0.0], [10.0, 0.0]], dtype=torch.float64)
    rbf = position_encoding("rbf", anchors=anchors, kernel_size=1.0)
    pts = torch.tensor([[0.0, 0.0], [13.0, 0.0], [14.0, 0.0], [170.0, 80.0]])
    with torch.no_grad():
        got = rbf(pts)
    want = torch.exp(-(torch.cdist(pts.double(), anchors) ** 2) / 2).float()
    want[want < torch.finfo(torch.float32).tiny] = 0.0  # the fast path flushes denormals
    torch.testing.assert_close(got, want, atol=0.0, rtol=1e-5)
    assert got[3].eq(0).all() and got[1, 1] > 0


def test_dtypes() -> None:
    pe = position_encoding("sphere_c")
    assert pe(_pts64()).dtype == torch.float64
    assert pe(_pts64().float()).dtype == torch.float32
    assert pe(torch.tensor([[10, 20]])).dtype == torch.float32
    assert pe(torch.empty(0, 2)).shape == (0, 192)


# ------------------------------------------------------------------ FFN


def test_ffn_structure_and_output_quirk() -> None:
    ffn = MultiLayerFeedForwardNN(10, out_dim=6, num_hidden_layers=2, hidden_dim=8, dropout=0.0)
    assert [type(m.layernorm).__name__ for m in ffn.layers] == [
        "LayerNorm",
        "LayerNorm",
        "NoneType",
    ]
    assert [m.skip_connection for m in ffn.layers] == [False, True, False]
    ffn.eval()
    x = torch.randn(50, 10)
    assert (ffn(x) >= 0).all()  # public behaviour: ReLU on the output layer
    linear_out = MultiLayerFeedForwardNN(10, 6, 2, 8, dropout=0.0, activate_output=False).eval()
    assert (linear_out(x) < 0).any()
    # the hidden computation is Linear -> act -> dropout -> skip -> LayerNorm
    layer = ffn.layers[1]
    h = torch.randn(5, 8)
    want = torch.nn.functional.layer_norm(
        torch.relu(layer.linear(h)) + h, (8,), layer.layernorm.weight, layer.layernorm.bias
    )
    assert torch.allclose(layer(h), want, atol=1e-6)
    zero_hidden = MultiLayerFeedForwardNN(4, 3, num_hidden_layers=0)
    assert len(zero_hidden.layers) == 1 and zero_hidden.layers[0].layernorm is None
    with pytest.raises(InvalidInputError):
        ffn(torch.randn(3, 11))
    with pytest.raises(InvalidInputError):
        MultiLayerFeedForwardNN(4, 3, activation="swish")


def test_wrap_fcnet_structure() -> None:
    enc = build_encoder("wrap")
    assert isinstance(enc.ffn, WrapFCNet)
    feats = enc.ffn.feats
    assert feats[0].in_features == 4 and feats[0].out_features == 256
    assert len(feats) == 2 + 4
    assert {"ffn.feats.2.w1.weight", "ffn.feats.5.w2.bias"} <= set(enc.state_dict())
    enc.eval()
    x = torch.tensor([[10.0, 20.0]])
    h = torch.relu(feats[0](enc.position(x)))
    for block in list(feats)[2:]:
        h = h + torch.relu(block.w2(torch.relu(block.w1(h))))
    assert torch.allclose(enc(x), h, atol=1e-6)


def _public_ffn(in_dim: int, gen: torch.Generator) -> dict[str, Tensor]:
    """The public ``MultiLayerFeedForwardNN`` keys (module ``main/module.py``: ``layers`` of
    ``SingleFeedForwardNN`` with ``linear`` and, on hidden layers, ``layernorm``), 1 hidden
    layer of 512, 256 outputs, under the prior's ``spa_enc.ffn``."""
    shapes = {
        "spa_enc.ffn.layers.0.linear.weight": (512, in_dim),
        "spa_enc.ffn.layers.0.linear.bias": (512,),
        "spa_enc.ffn.layers.0.layernorm.weight": (512,),
        "spa_enc.ffn.layers.0.layernorm.bias": (512,),
        "spa_enc.ffn.layers.1.linear.weight": (256, 512),
        "spa_enc.ffn.layers.1.linear.bias": (256,),
    }
    return {k: torch.randn(v, generator=gen) for k, v in shapes.items()}


@pytest.mark.parametrize(
    ("name", "in_dim", "pe_keys"),
    [
        # public names: GridLookupSpatialRelationPositionEncoder.embedding (one cell),
        # RFFSpatialRelationPositionEncoder.dirvec (coord_dim, D) / .shift (D,)
        ("tile", 256, {"spa_enc.position_encoder.embedding.weight": (1, 256)}),
        ("rff", 64, {"spa_enc.position_encoder.dirvec": (2, 64),
                     "spa_enc.position_encoder.shift": (64,)}),
        ("sphere_c_plus", 384, {}),
        ("sphere_m_plus", 512, {}),
        ("nerf", 96, {}),
    ],
)
def test_convert_public_state_dict_public_key_names(
    name: str, in_dim: int, pe_keys: dict[str, tuple[int, ...]]
) -> None:
    """Keys spelled as the public ``models.LocationEncoder`` saves them (``spa_enc`` +
    ``class_emb``), not a round trip of our own names."""
    from geoneurips.location.torchspatial.model import LocationPrior

    gen = torch.Generator().manual_seed(0)
    public = _public_ffn(in_dim, gen)
    public.update({k: torch.randn(v, generator=gen) for k, v in pe_keys.items()})
    public["class_emb.weight"] = torch.randn(7, 256, generator=gen)
    public["user_emb.weight"] = torch.randn(3, 256, generator=gen)
    enc = build_encoder(name, public_compatible=True)
    enc.load_state_dict(convert_public_state_dict(public), strict=True)
    assert torch.equal(enc.ffn.layers[1].linear.weight, public["spa_enc.ffn.layers.1.linear.weight"])
    prior = LocationPrior(build_encoder(name, public_compatible=True), 7)
    prior.load_state_dict(convert_public_state_dict(public, head=True), strict=True)
    assert torch.equal(prior.class_emb.weight, public["class_emb.weight"])
    # the public prior computes sigmoid(class_emb(ffn(pe(x)))); so does ours, in eval mode
    prior.eval()
    x = torch.tensor([[12.0, -40.0], [-170.0, 80.0]])
    with torch.no_grad():
        want = torch.sigmoid(prior.encoder.ffn(prior.encoder.position(x)) @ public["class_emb.weight"].T)
        assert torch.allclose(prior(x), want, atol=1e-6)


def test_convert_public_wrap_fcnet_keys() -> None:
    """The public ``models.FCNet``: ``feats.0`` Linear(4, 256), ``feats.2..5`` ResLayer
    (``w1``, ``w2``), ``class_emb``."""
    gen = torch.Generator().manual_seed(1)
    public = {"feats.0.weight": torch.randn(256, 4, generator=gen),
              "feats.0.bias": torch.randn(256, generator=gen),
              "class_emb.weight": torch.randn(5, 256, generator=gen)}
    for i in range(2, 6):
        for w in ("w1", "w2"):
            public[f"feats.{i}.{w}.weight"] = torch.randn(256, 256, generator=gen)
            public[f"feats.{i}.{w}.bias"] = torch.randn(256, generator=gen)
    enc = build_encoder("wrap", public_compatible=True)
    enc.load_state_dict(convert_public_state_dict(public), strict=True)
    assert torch.equal(enc.ffn.feats[3].w2.bias, public["feats.3.w2.bias"])


def test_public_compatible_reproduces_public_encoders() -> None:
    """The behaviours fixed by default come back with ``public_compatible=True``."""
    x = torch.tensor([[-179.0, -89.0], [0.0, 0.0], [120.0, 45.0]])
    # tile: interval never forwarded -> one cell for the whole globe (constant embedding)
    tile = build_encoder("tile", public_compatible=True, interval=5.0)
    assert tile.position.embedding.weight.shape == (1, 256)
    pe = tile.position(x)
    assert torch.equal(pe[0], pe[1]) and torch.equal(pe[1], pe[2])
    assert build_encoder("tile").position.embedding.weight.shape[0] > 1
    # NeRF: frequency_num dropped -> always 16 frequencies (96 features)
    assert build_encoder("nerf", public_compatible=True, frequency_num=64).position.out_dim == 96
    assert build_encoder("nerf", frequency_num=64).position.out_dim == 384
    # sphereM+ and dfs: f_s = r_max^(-s/(S-1)) = 1 at r_max = 1, every scale identical
    for name, width in (("sphere_m_plus", 8), ("dfs", None)):
        pub = build_encoder(name, public_compatible=True).position
        assert torch.allclose(pub.freqs, torch.ones_like(pub.freqs))
        assert not torch.allclose(build_encoder(name).position.freqs, pub.freqs)
        if width:
            f = pub(x)
            assert torch.allclose(f[:, :width], f[:, -width:], atol=1e-6)
    with pytest.raises(InvalidInputError, match="no working public"):
        build_encoder("spherical_harmonics", public_compatible=True)


# ------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (torch.zeros(4, 3), r"\(\.\.\., 2\)"),
        (torch.tensor([[200.0, 0.0]]), "longitude"),
        (torch.tensor([[-180.5, 0.0]]), "longitude"),
        (torch.tensor([[0.0, 91.0]]), "latitude"),
        (torch.tensor([[0.0, -90.5]]), "latitude"),
        (torch.tensor([[float("nan"), 0.0]]), "longitude"),
        (torch.tensor(3.0), r"\(\.\.\., 2\)"),
    ],
)
def test_invalid_inputs_raise(bad: torch.Tensor, match: str) -> None:
    enc = build_encoder("sphere_c")
    with pytest.raises(InvalidInputError, match=match):
        enc(bad)


def test_invalid_construction_raises() -> None:
    with pytest.raises(InvalidInputError, match="sphere_c_plus"):
        build_encoder("sphere-2")
    with pytest.raises(InvalidInputError, match="anchors"):
        build_encoder("rbf")
    with pytest.raises(InvalidInputError, match="anchors"):
        build_encoder("rbf", anchors=torch.zeros(5, 3))
    with pytest.raises(InvalidInputError, match="unknown argument"):
        build_encoder("xyz", frequency_num=3)
    with pytest.raises(InvalidInputError, match="interval"):
        position_encoding("tile", interval=0.0)
    with pytest.raises(InvalidInputError):
        position_encoding("nerf", frequency_num=0)
    with pytest.raises(InvalidInputError):
        position_encoding("space2vec_grid", min_radius=-1.0)
    with pytest.raises(InvalidInputError):
        position_encoding("xyz")(np.zeros((3, 2)))  # type: ignore[arg-type]
    assert build_encoder("Sphere2Vec-sphereC+").name == "sphere_c_plus"


def test_siren_sh_network_and_initialisation() -> None:
    """Siren(SH): sine layers with SIREN's initialisation on top of the harmonics."""
    from geoneurips.location.torchspatial.siren import SineLayer, SirenNet

    torch.manual_seed(0)
    enc = build_encoder("spherical_harmonics", hidden_dim=256, out_dim=32, dropout=0.0)
    assert isinstance(enc.ffn, SirenNet)
    first, second = enc.ffn.layers[0], enc.ffn.layers[1]
    assert isinstance(first, SineLayer) and first.w0 == 30.0 and first.is_first
    assert first.linear.weight.abs().max() <= 1 / 64
    assert first.linear.weight.abs().max() > 0.9 / 64  # uniform fills the bound
    bound = math.sqrt(6 / 256) / 1.0
    assert second.w0 == 1.0 and second.linear.weight.abs().max() <= bound
    # forward = sin(w0 (W x + b)) twice, then a linear layer
    x = torch.tensor([[10.0, 80.0], [-170.0, -60.0]])
    h = enc.position(x)
    for layer in (first, second):
        h = torch.sin(layer.w0 * (h @ layer.linear.weight.T + layer.linear.bias))
    assert torch.allclose(enc(x), enc.ffn.last(h), atol=1e-5)
    # SIREN's point: the activations' spread neither vanishes nor saturates through depth
    # (measured std per layer, seeds 0-2: 0.55, 0.59, 0.61, 0.63; with PyTorch's default
    # Linear init: 0.71, 0.38, 0.22, 0.13 -- saturated, then decaying)
    deep = SirenNet(64, 8, hidden_dim=256, num_hidden_layers=4)
    pts = torch.stack([torch.rand(2000) * 360 - 180, torch.rand(2000) * 180 - 90], 1)
    stds = []
    with torch.no_grad():
        a = enc.position(pts)
        for layer in deep.layers:
            a = layer(a)
            stds.append(float(a.std()))
    assert all(0.5 < v < 0.75 for v in stds) and stds[-1] >= stds[0]
    assert isinstance(build_encoder("spherical_harmonics", network="ffn").ffn,
                      MultiLayerFeedForwardNN)
    with pytest.raises(InvalidInputError, match="network"):
        build_encoder("xyz", network="mlp")
