"""Throughput of the 15 TorchSpatial position encodings (and PE + FFN) vs plain numpy.

Run: ``python benchmarks/location_encoders.py [--n 1000000] [--threads 1] [--timer cpu|wall]``.
Not run in CI.

For every encoder it times, on the same random points (lon, lat degrees):

* ``numpy``: a plain vectorised numpy implementation of the same formulas in float64, like
  the public TorchSpatial code (which builds every PE in numpy float64);
* ``ours``: :mod:`geoneurips.location.torchspatial.position` in float32 under
  ``torch.inference_mode``;

both fed in batches of ``--batch`` points (outputs discarded, so memory stays bounded), best
of ``--repeat`` runs, and prints points/s and the ratio, plus the largest absolute difference
between the two outputs (float32 vs float64). With ``--ffn-n`` > 0 it also times the whole
encoder ``NN(PE(x))`` (1 hidden layer of 512, 256 outputs, eval mode) in the public style
(numpy PE, then ``torch.FloatTensor`` and the FFN) vs ours.

Timer (``--timer``): ``cpu`` (process CPU time, the default with ``--threads 1``) is the cost
of the work even when other jobs share the cores; ``wall`` (the default with more threads)
is the right throughput measure there, because with several threads process CPU time also
counts OpenMP workers spin-waiting between parallel regions, which is not work done (and
a wall-time measurement needs otherwise idle cores).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
import torch

from geoneurips.location.torchspatial.encoders import ENCODER_NAMES, build_encoder
from geoneurips.location.torchspatial.position import PositionEncoder

# ----------------------------------------------------------------------------------------
# numpy float64 references (written from the paper formulas; see position.py docstrings)
# ----------------------------------------------------------------------------------------


def _geom(s: int, r_min: float, r_max: float) -> np.ndarray:
    return 1.0 / (r_min * np.exp(np.arange(s) * math.log(r_max / r_min) / (s - 1)))


def np_tile(x: np.ndarray, table: np.ndarray, interval: float) -> np.ndarray:
    ncol, nrow = math.ceil(360 / interval), math.ceil(180 / interval)
    col = np.clip(np.floor((x[:, 0] + 180) / interval), 0, ncol - 1)
    row = np.clip(np.floor((x[:, 1] + 90) / interval), 0, nrow - 1)
    return table[(row * ncol + col).astype(np.int64)]


def np_wrap(x: np.ndarray) -> np.ndarray:
    a = np.pi * x / np.array([180.0, 90.0])
    return np.concatenate([np.sin(a), np.cos(a)], axis=-1)


def np_rbf(x: np.ndarray, anchors: np.ndarray, sigma: float) -> np.ndarray:
    d2 = ((x[:, None, :] - anchors[None, :, :]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * sigma**2))


def np_rff(x: np.ndarray, dirvec: np.ndarray, shift: np.ndarray) -> np.ndarray:
    xn = np.empty_like(x)
    xn[:, 0] = (x[:, 0] + 180) / 360 * 2 - 1
    xn[:, 1] = (x[:, 1] + 90) / 180 * 2 - 1
    return np.sqrt(2.0 / dirvec.shape[1]) * np.cos(xn @ dirvec + shift)


def np_grid(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    a = x[:, :, None] * f  # (N, 2, S)
    return np.stack([np.sin(a), np.cos(a)], -1).reshape(len(x), -1)


def np_theory(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    r3 = math.sqrt(3) / 2
    p = x @ np.array([[1.0, -0.5, -0.5], [0.0, r3, -r3]])  # (N, 3)
    a = p[:, None, :] * f[None, :, None]  # (N, S, 3)
    return np.stack([np.sin(a), np.cos(a)], -1).reshape(len(x), -1)


def np_xyz(x: np.ndarray) -> np.ndarray:
    lon, lat = np.deg2rad(x[:, 0]), np.deg2rad(x[:, 1])
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)


def np_nerf(x: np.ndarray, num: int = 16) -> np.ndarray:
    p = np_xyz(x)[:, :, None] * (np.pi * 2.0 ** np.arange(num))  # (N, 3, L)
    return np.concatenate([np.sin(p), np.cos(p)], 1).reshape(len(x), -1)


def _sphere_trig(x: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, ...]:
    lon = np.deg2rad(x[:, 0:1]) * f
    lat = np.deg2rad(x[:, 1:2]) * f
    return np.sin(lon), np.cos(lon), np.sin(lat), np.cos(lat)


def np_sphere_c(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    sl, cl, sp, cp = _sphere_trig(x, f)
    return np.stack([sp, cp * cl, cp * sl], -1).reshape(len(x), -1)


def np_sphere_c_plus(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    sl, cl, sp, cp = _sphere_trig(x, f)
    return np.stack([sp, cp, sl, cl, cp * cl, cp * sl], -1).reshape(len(x), -1)


def _mixed(x: np.ndarray, f: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    sl, cl, sp, cp = _sphere_trig(x, f)
    lon1, lat1 = np.deg2rad(x[:, 0:1]), np.deg2rad(x[:, 1:2])
    sl1, cl1, cp1 = np.sin(lon1), np.cos(lon1), np.cos(lat1)
    mixed = [cp * cl1, cp1 * cl, cp * sl1, cp1 * sl]
    return [sp, cp, sl, cl], mixed


def np_sphere_m(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    single, mixed = _mixed(x, f)
    return np.stack([single[0], *mixed], -1).reshape(len(x), -1)


def np_sphere_m_plus(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    single, mixed = _mixed(x, f)
    return np.stack([*single, *mixed], -1).reshape(len(x), -1)


def np_dfs(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    sl, cl, sp, cp = _sphere_trig(x, f)
    u = np.concatenate([sl, cl], 1)
    v = np.concatenate([sp, cp], 1)
    outer = (u[:, :, None] * v[:, None, :]).reshape(len(x), -1)
    return np.concatenate([outer, np.stack([sp, cp, sl, cl], -1).reshape(len(x), -1)], 1)


def np_sh(x: np.ndarray, big_l: int = 8) -> np.ndarray:
    lon, lat = np.deg2rad(x[:, 0]), np.deg2rad(x[:, 1])
    ct, st = np.sin(lat), np.cos(lat)
    p: dict[tuple[int, int], np.ndarray] = {}
    for m in range(big_l):
        pmm = np.ones_like(ct)
        for k in range(1, m + 1):
            pmm = pmm * (2 * k - 1) * st
        p[m, m] = pmm
        if m + 1 < big_l:
            p[m + 1, m] = (2 * m + 1) * ct * pmm
        for deg in range(m + 2, big_l):
            p[deg, m] = ((2 * deg - 1) * ct * p[deg - 1, m] - (deg + m - 1) * p[deg - 2, m]) / (
                deg - m
            )
    cols = []
    for deg in range(big_l):
        for m in range(-deg, deg + 1):
            am = abs(m)
            k = math.sqrt(
                (2 * deg + 1) / (4 * math.pi) * math.factorial(deg - am) / math.factorial(deg + am)
            )
            if m < 0:
                cols.append(math.sqrt(2) * k * p[deg, am] * np.sin(am * lon))
            elif m == 0:
                cols.append(k * p[deg, 0])
            else:
                cols.append(math.sqrt(2) * k * p[deg, m] * np.cos(m * lon))
    return np.stack(cols, -1)


def numpy_reference(name: str, pe: PositionEncoder) -> Callable[[np.ndarray], np.ndarray]:
    """The numpy float64 function computing the same PE as ``pe``."""
    if name == "tile":
        table = pe.embedding.weight.detach().double().numpy()
        return lambda x: np_tile(x, table, pe.interval)
    if name in ("wrap", "wrap_ffn"):
        return np_wrap
    if name == "rbf":
        anchors = pe.anchors.numpy()
        return lambda x: np_rbf(x, anchors, pe.kernel_size)
    if name == "rff":
        dirvec, shift = pe.dirvec.numpy(), pe.shift.numpy()
        return lambda x: np_rff(x, dirvec, shift)
    if name == "xyz":
        return np_xyz
    if name == "nerf":
        return lambda x: np_nerf(x, pe.frequency_num)
    if name == "spherical_harmonics":
        return lambda x: np_sh(x, pe.legendre_poly_num)
    f = _geom(pe.frequency_num, pe.min_radius, pe.max_radius)
    fn = {
        "space2vec_grid": np_grid,
        "space2vec_theory": np_theory,
        "sphere_c": np_sphere_c,
        "sphere_c_plus": np_sphere_c_plus,
        "sphere_m": np_sphere_m,
        "sphere_m_plus": np_sphere_m_plus,
        "dfs": np_dfs,
    }[name]
    return lambda x: fn(x, f)


# ----------------------------------------------------------------------------------------


def _best(fn: Callable[[], object], repeat: int, timer: Callable[[], float]) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = timer()
        fn()
        best = min(best, timer() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="points for the PE timing")
    ap.add_argument("--batch", type=int, default=65536, help="points per call (both sides)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--ffn-n", type=int, default=100_000, help="points for PE+FFN (0: skip)")
    ap.add_argument("--encoders", nargs="*", default=list(ENCODER_NAMES))
    ap.add_argument(
        "--timer",
        choices=("cpu", "wall"),
        default=None,
        help="process CPU time or wall time (default: cpu with --threads 1, else wall)",
    )
    args = ap.parse_args()
    timer_name = args.timer or ("cpu" if args.threads == 1 else "wall")
    timer = time.process_time if timer_name == "cpu" else time.perf_counter

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(-180, 180, args.n), rng.uniform(-90, 90, args.n)], -1)
    pts32 = torch.from_numpy(pts.astype(np.float32))
    anchors = torch.from_numpy(pts[rng.choice(args.n, 200, replace=False)].copy())
    batches = range(0, args.n, args.batch)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); numpy {np.__version__}")
    print(
        f"PE: n={args.n:,} in batches of {args.batch:,}, best of {args.repeat} ({timer_name} time)"
    )
    header = f"{'encoder':20s} {'dim':>4s} {'numpy Mpt/s':>11s} {'ours Mpt/s':>10s} {'ratio':>6s}"
    header += f" {'max|diff|':>9s}"
    if args.ffn_n:
        header += f" | {'PE+FFN np Mpt/s':>15s} {'ours':>6s} {'ratio':>6s}"
    print(header)
    for name in args.encoders:
        kw = {"anchors": anchors} if name == "rbf" else {}
        enc = build_encoder(name, **kw).eval()
        pe = enc.position
        ref = numpy_reference(name, pe)

        def run_np(ref: Callable[[np.ndarray], np.ndarray] = ref) -> None:
            for i in batches:
                ref(pts[i : i + args.batch])

        def run_ours(pe: PositionEncoder = pe) -> None:
            with torch.inference_mode():
                for i in batches:
                    pe(pts32[i : i + args.batch])

        t_np = _best(run_np, args.repeat, timer)
        t_ours = _best(run_ours, args.repeat, timer)
        with torch.inference_mode():
            sub = slice(0, 4096)
            diff = np.abs(pe(pts32[sub]).double().numpy() - ref(pts[sub])).max()
        line = (
            f"{name:20s} {pe.out_dim:4d} {args.n / t_np / 1e6:11.2f} {args.n / t_ours / 1e6:10.2f}"
        )
        line += f" {t_np / t_ours:6.1f} {diff:9.1e}"
        if args.ffn_n:
            ffn = enc.ffn

            def public_style(
                ref: Callable[[np.ndarray], np.ndarray] = ref,
                ffn: torch.nn.Module = ffn,
                m: int = args.ffn_n,
            ) -> None:
                with torch.inference_mode():
                    for i in range(0, m, args.batch):
                        ffn(torch.FloatTensor(ref(pts[i : min(i + args.batch, m)])))

            def ours_full(enc: torch.nn.Module = enc, m: int = args.ffn_n) -> None:
                with torch.inference_mode():
                    for i in range(0, m, args.batch):
                        enc(pts32[i : min(i + args.batch, m)])

            t_a = _best(public_style, args.repeat, timer)
            t_b = _best(ours_full, args.repeat, timer)
            line += (
                f" | {args.ffn_n / t_a / 1e6:15.3f} {args.ffn_n / t_b / 1e6:6.3f} {t_a / t_b:6.2f}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
