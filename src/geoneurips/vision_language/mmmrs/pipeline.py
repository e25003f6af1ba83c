"""MMM-RS demo: does a text-to-image model trained on MMM-RS-style pairs follow the GSD and
weather words of the prompt?

Synthetic VHR town scenes (:mod:`.synthetic`) are written as GeoTIFFs, run through the
MMM-RS builder (multi-GSD crops, weather synthesis, prompts "{GSD}, {weather}, {caption},
{satellite}") and read back with :class:`MMMRS`; each scene gives one 16-px image per GSD
level (0.3 m native centre tile, 0.6 m and 1.2 m nested crops) and weather. A tiny
``UNet2DConditionModel`` (pixel space scaled to unit variance as SD scales its latents,
cross-attention on a frozen random CLIP text encoder plus the prompt in the timestep
embedding, SD's noise schedule, diffusers' noise offset 0.1) is trained on the pairs
**without three (GSD, weather) combinations**; images are sampled with the published
sampler (DPM++ 2M Karras, 30 steps, CFG 7.5). A frozen judge (:mod:`.judge`: logistic
regressions on colour statistics and the radial power spectrum, trained on real renders of
other scenes) decides whether each image shows the prompted GSD level and weather. The
judge's feature space also gives a Frechet distance to real renders of the held-out
combinations and an IS-style score (torch-fidelity's Inception weights are absent offline;
:func:`~.metrics.fid_is` computes the real FID/IS when they are given).

Primary metric: joint accuracy (GSD and weather both recognised) on the held-out
combinations, i.e. prompts the generator never saw, whose words it saw in other pairs. On
those, retrieval cannot copy a training image with the same prompt. Baselines get the same
training pairs:

- unconditional generation by the same UNet (its unconditional branch, trained on the 10 %
  of pairs whose prompt is dropped for classifier-free guidance), same size and training;
- nearest-prompt retrieval: a training render whose prompt shares the most attributes
  with the request (ties broken at random): the strongest cheap alternative on seen
  prompts, reported there too;
- retrieval blend: the mean of a training render with the prompted GSD and one with the
  prompted weather (a compositional cheap alternative);
- attribute mean image: class-mean of the GSD level + class-mean of the weather - overall
  mean (a compositional mean image).

Measured (why the system stays ``partial``; numbers in
tests/vision_language/test_mmmrs_demo.py): the judge now sees GSD (balanced accuracy
0.67-0.74 on real test renders, weather 1.00; the old CNN judge was at chance), but in the
~60 s CPU budget (400 steps) the tiny UNet does not yet follow the words: on seeds 0-2 it
loses to the retrieval blend and the attribute mean image. With 3x the training
(:data:`LONG`, 1200 steps, about 130 s CPU) it follows both words (joint 0.46/0.23/0.52
on seeds 0/1/2, weather on seen prompts 0.94-1.00) but still loses seed 1 to the
attribute mean image (0.33).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from geoneurips.demo import DemoResult, finish, new_figure
from geoneurips.vision_language.mmmrs.builder import GSD_BINS, WEATHER_PHRASES, WEATHERS
from geoneurips.vision_language.mmmrs.data import MMMRS, load_arrays, write_fixture
from geoneurips.vision_language.mmmrs.judge import FeatureJudge, train_judge
from geoneurips.vision_language.mmmrs.metrics import fid_from_features, inception_score
from geoneurips.vision_language.mmmrs.model import (
    diffusion_loss,
    encode_prompts,
    sample,
    tiny_text_encoder,
    tiny_tokenizer,
    tiny_unet,
)

__all__ = ["DEMO_MARGIN", "FULL", "HELD_OUT", "LONG", "QUICK", "demo", "train_generator"]

#: Joint-accuracy margin on held-out prompt combinations over the strongest baseline
#: (seeds in tests/vision_language/test_mmmrs_demo.py).
DEMO_MARGIN = 0.10

#: (GSD level index, weather) combinations removed from the generator's training pairs.
HELD_OUT: tuple[tuple[int, str], ...] = ((0, "fog"), (1, "snow"), (2, "low_light"))

_GSD_LEVELS = 3  # the demo's scenes cover Ultra-high, High and Ordinary

#: Demo settings (chosen on development seeds 10-12; see the test's docstring).
FULL: dict[str, Any] = {"train": 80, "judge": 60, "test": 12, "steps": 400, "batch": 32,
                        "lr": 5e-3, "widths": (16, 32), "sd_layout": False, "text_time": True,
                        "unit_variance": True, "noise_offset": 0.1, "later_bias": 1.0,
                        "per_prompt": 16, "per_seen": 2}
QUICK: dict[str, Any] = {**FULL, "train": 20, "judge": 30, "test": 6, "steps": 100,
                         "per_prompt": 8, "per_seen": 2}
#: Three times the training (about 140 s CPU, over the demo budget), with more of the
#: noisiest timesteps (diffusers' later timestep bias) and noise offset 0.2: the setting in
#: which the generator follows both words (``demo(out, settings=LONG)``; numbers in
#: tests/vision_language/test_mmmrs_demo.py).
LONG: dict[str, Any] = {**FULL, "steps": 1200, "noise_offset": 0.2, "later_bias": 4.0}


def _prompt(level: int, weather: str, caption: str = "a satellite image of a town",
            satellite: str = "GeoSim") -> str:
    parts = [GSD_BINS[level][1], WEATHER_PHRASES[weather], caption, satellite]
    return ", ".join(p for p in parts if p)


def train_generator(images: Tensor, prompts: Sequence[str], tokenizer: Any, text_encoder: Any,
                    steps: int, seed: int, conditional: bool = True,
                    drop: float = 0.1, widths: tuple[int, ...] = (32, 64),
                    batch: int = 32, lr: float = 2e-3, sd_layout: bool = False,
                    text_time: bool = False, unit_variance: bool = False,
                    noise_offset: float = 0.0, later_bias: float = 1.0) -> Any:
    """Train a tiny pixel-space ``UNet2DConditionModel`` on (image, prompt) pairs with the
    SD noise-prediction loss; prompts dropped to "" with probability ``drop`` (for CFG).
    ``conditional=False`` trains the same UNet on empty prompts only.

    ``text_time``: the prompt also enters the timestep embedding (:func:`tiny_unet`);
    ``unit_variance``: pixels scaled to unit variance as SD scales its latents (the scale is
    kept as ``unet.pixel_scale`` and undone after sampling); ``noise_offset`` and
    ``later_bias``: diffusers' fine-tuning options (:func:`diffusion_loss`)."""
    torch.manual_seed(seed)
    unet = tiny_unet(3, images.shape[-1], text_encoder.config.hidden_size, widths, seed=seed,
                     sd_layout=sd_layout, text_time=text_time)
    uniq = sorted(set(prompts))
    table = encode_prompts(tokenizer, text_encoder, [*uniq, ""])
    pid = torch.tensor([uniq.index(p) for p in prompts])
    empty = len(uniq)
    x0 = images * 2 - 1
    # SD scales its latents to about unit variance (``vae.config.scaling_factor``); the
    # pixel-space stand-in does the same with the training pixels' standard deviation
    unet.pixel_scale = float(1 / x0.std()) if unit_variance else 1.0
    x0 = x0 * unet.pixel_scale
    opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x0), (batch,), generator=g)
        which = pid[idx].clone()
        if conditional:
            which[torch.rand(len(idx), generator=g) < drop] = empty
        else:
            which[:] = empty
        xb = torch.rot90(x0[idx], int(torch.randint(0, 4, (1,), generator=g)), (2, 3))
        loss = diffusion_loss(unet, xb, table[which], generator=g, noise_offset=noise_offset,
                              later_bias=later_bias)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
    return unet.eval().requires_grad_(False)


def _noise(n: int, size: int, seed: int) -> Tensor:
    """Initial sampler noise of ``n`` images, drawn in chunks of 64 from one generator."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randn((min(64, n - i), 3, size, size), generator=g)
                      for i in range(0, n, 64)])


def _generate(unet: Any, tokenizer: Any, text_encoder: Any, prompts: Sequence[str],
              latents: Tensor, steps: int = 30, guidance: float = 7.5) -> Tensor:
    """All prompts in one sampler call (one UNet pass per step) from the given noise."""
    cond = encode_prompts(tokenizer, text_encoder, prompts)
    unc = encode_prompts(tokenizer, text_encoder, [""])
    with torch.inference_mode():
        out = sample(unet, cond, unc, (latents.shape[1], latents.shape[2], latents.shape[3]),
                     steps, guidance,
                     latents=latents)
    return ((out / getattr(unet, "pixel_scale", 1.0) + 1) / 2).clamp(0, 1)


def _scores(clf: FeatureJudge, images: Tensor, level: np.ndarray,
            weather: np.ndarray) -> dict[str, float]:
    pg, pw = clf.predict(images)
    g, w = pg == level, pw == weather
    return {"joint_acc": float(np.mean(g & w)), "gsd_acc": float(np.mean(g)),
            "weather_acc": float(np.mean(w))}


def _balanced(ds: MMMRS) -> dict[str, Any]:
    """The dataset's arrays restricted to one image per GSD level and weather per scene:
    the resized nested crops and the centre native tile (the four corner tiles would make
    the native level 5/7 of the pairs)."""
    arr = load_arrays(ds)
    keep = torch.tensor([str(r["kind"]).startswith("resize_from_") or r["kind"] == "crop_center"
                         for r in ds.records])
    return {"image": arr["image"][keep], "gsd_level": arr["gsd_level"][keep],
            "weather": arr["weather"][keep],
            "prompt": [p for p, k in zip(arr["prompt"], keep.tolist(), strict=True) if k]}


def demo(out_dir: Path, quick: bool = False, seed: int = 0,
         settings: dict[str, Any] | None = None) -> DemoResult:
    """Prompt-following of a tiny text-to-image diffusion model vs retrieval and means.

    ``settings`` overrides entries of :data:`QUICK` / :data:`FULL` (experiments)."""
    started = time.perf_counter()
    cfg = {**(QUICK if quick else FULL), **(settings or {})}
    tile = 16
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)

        def scenes(name: str, n: int, offset: int) -> dict[str, Any]:
            return _balanced(MMMRS(write_fixture(base / name, n, 4 * tile, tile,
                                                 seed=offset + seed)))

        train, judge_set, test = (scenes("train", cfg["train"], 1000),
                                  scenes("judge", cfg["judge"], 2000),
                                  scenes("test", cfg["test"], 3000))
        words = sorted({w for p in train["prompt"] for w in p.replace(",", " ").split()})
        tok = tiny_tokenizer(base / "tok", words)
    from ...seed import single_thread
    with single_thread():  # one thread: the same float order, and result, on any core count
        te = tiny_text_encoder(tok, seed=seed)

        clf = train_judge(judge_set["image"], judge_set["gsd_level"], judge_set["weather"],
                          _GSD_LEVELS, len(WEATHERS))
        tg, tw = test["gsd_level"].numpy(), test["weather"].numpy()
        real = _scores(clf, test["image"], tg, tw)
        pg, _ = clf.predict(test["image"])
        real["gsd_balanced_acc"] = float(np.mean([np.mean(pg[tg == c] == c)
                                                  for c in range(_GSD_LEVELS)]))
        for lv, w in HELD_OUT:
            m = (tg == lv) & (tw == WEATHERS.index(w))
            real[f"joint_acc_{lv}_{w}"] = _scores(clf, test["image"][torch.from_numpy(m)],
                                                  tg[m], tw[m])["joint_acc"]

        lvl = train["gsd_level"].numpy()
        wth = np.array([WEATHERS[i] for i in train["weather"].numpy()])
        keep = ~np.zeros(len(lvl), bool)
        for lv, w in HELD_OUT:
            keep &= ~((lvl == lv) & (wth == w))
        imgs = train["image"][torch.from_numpy(keep)]
        prompts = [p for p, k in zip(train["prompt"], keep, strict=True) if k]
        klvl, kwth = lvl[keep], wth[keep]

        cond = train_generator(imgs, prompts, tok, te, cfg["steps"], seed, batch=cfg["batch"],
                               lr=cfg["lr"], widths=tuple(cfg["widths"]),
                               sd_layout=cfg["sd_layout"], text_time=cfg["text_time"],
                               unit_variance=cfg["unit_variance"],
                               noise_offset=cfg["noise_offset"], later_bias=cfg["later_bias"])

        seen = [(lv, w) for lv in range(_GSD_LEVELS) for w in WEATHERS if (lv, w) not in HELD_OUT]
        req: dict[str, list[tuple[int, str]]] = {
            "held_out": [c for c in HELD_OUT for _ in range(cfg["per_prompt"])],
            "seen": [c for c in seen for _ in range(cfg["per_seen"])]}
        rng = np.random.default_rng(seed)
        results: dict[str, dict[str, float]] = {}
        gen_images: dict[str, Tensor] = {}
        # every split starts from the same seeded noise; all prompts of all splits go through
        # one sampler call per generator (the result does not depend on the batching)
        all_ps = [_prompt(*c) for combos in req.values() for c in combos]
        noise = torch.cat([_noise(len(combos), tile, seed + 7) for combos in req.values()])
        generated = {
            "ours": _generate(cond, tok, te, all_ps, noise),
            # the same UNet's unconditional branch (trained on the 10 % dropped prompts)
            "unconditional_same_unet": _generate(cond, tok, te, [""] * len(all_ps), noise,
                                                 guidance=1.0)}
        start = 0
        for split, combos in req.items():
            level = np.array([c[0] for c in combos])
            weather = np.array([WEATHERS.index(c[1]) for c in combos])
            part = slice(start, start + len(combos))
            start += len(combos)
            outs = {
                **{name: x[part] for name, x in generated.items()},
                "nearest_prompt_retrieval": _retrieve(imgs, klvl, kwth, combos, rng),
                "retrieval_blend": _blend(imgs, klvl, kwth, combos, rng),
                "attribute_mean_image": _attribute_mean(imgs, klvl, kwth, combos),
            }
            for name, x in outs.items():
                sc = _scores(clf, x, level, weather)
                results.setdefault(name, {}).update({f"{k}_{split}": v for k, v in sc.items()})
            if split == "held_out":
                gen_images = outs
                ref = torch.cat([test["image"][torch.from_numpy(
                    (tg == lv) & (tw == WEATHERS.index(w)))] for lv, w in HELD_OUT])
                ref_f = clf.standardised(ref).numpy()
                for name, x in outs.items():
                    results[name]["judge_fd_held_out"] = fid_from_features(
                        ref_f, clf.standardised(x).numpy())
                    results[name]["judge_is_held_out"] = inception_score(
                        clf.joint_logits(x), splits=1)[0]
        ours = results.pop("ours")
        directions = {k: "max" for k in ours}
        directions["judge_fd_held_out"] = "min"
        directions["judge_is_held_out"] = "info"
        fig, axes = new_figure(2, 1, size=5.0)
        names = [*results, "ours (tiny SD, CFG 7.5)"]
        axes[0, 0].barh(names, [*(r["joint_acc_held_out"] for r in results.values()),
                                ours["joint_acc_held_out"]],
                        color=["grey"] * len(results) + ["tab:green"])
        axes[0, 0].axvline(real["joint_acc"], ls="--", c="k", lw=1)
        axes[0, 0].set_xlabel("judge's joint accuracy, held-out prompts (dashed: real renders)")
        rows = []
        for k in range(len(HELD_OUT)):
            j = k * cfg["per_prompt"]
            rows.append(torch.cat([gen_images[n][j:j + 4] for n in
                                   ("ours", "nearest_prompt_retrieval", "retrieval_blend")], 0))
        grid = torch.cat([torch.cat(list(r), 2) for r in rows], 1).permute(1, 2, 0).numpy()
        axes[0, 1].imshow(grid, interpolation="nearest")
        axes[0, 1].set_title("held-out prompts (rows) | ours x4, retrieval x4, blend x4", fontsize=8)
        axes[0, 1].set_axis_off()
        explained = {
            "joint_acc_seen": "on prompts seen in training, retrieval returns real training "
                              "renders of exactly that prompt: it is the data itself, and the "
                              "generator can only approach it",
            "gsd_acc_seen": "same as joint_acc_seen (retrieval returns real renders)",
            "weather_acc_seen": "same as joint_acc_seen (retrieval returns real renders)",
            "gsd_acc_held_out": "a baseline that copies the GSD-matching half of the request gets "
                                "the GSD right by construction; only the joint decides",
            "weather_acc_held_out": "a baseline that copies the weather-matching half gets the "
                                    "weather right by construction; only the joint decides",
            "judge_fd_held_out": "retrieval returns real renders (of other prompts): their "
                                 "features are real-image features by construction",
        }
        return finish(
            "mmmrs", ours, baselines=results, primary="joint_acc_held_out", margin=DEMO_MARGIN,
            directions=directions, figure=fig, out_dir=out_dir, started=started,
            regressions_explained=explained,
            details={"seed": seed, "settings": {k: list(v) if isinstance(v, tuple) else v
                                                for k, v in cfg.items()},
                     "train_pairs": int(keep.sum()), "held_out": [list(c) for c in HELD_OUT],
                     "tile": tile, "sampler": "DPM++ 2M Karras, 30 steps, CFG 7.5",
                     "judge_on_real_test_renders": real,
                     "chance_joint": 1 / (_GSD_LEVELS * len(WEATHERS))},
        )


def _pick(mask: np.ndarray, rng: np.random.Generator) -> int:
    idx = np.flatnonzero(mask)
    return int(rng.choice(idx))


def _retrieve(imgs: Tensor, lvl: np.ndarray, wth: np.ndarray,
              combos: Sequence[tuple[int, str]], rng: np.random.Generator) -> Tensor:
    out = []
    for lv, w in combos:
        score = (lvl == lv).astype(int) + (wth == w).astype(int)
        out.append(imgs[_pick(score == score.max(), rng)])
    return torch.stack(out)


def _blend(imgs: Tensor, lvl: np.ndarray, wth: np.ndarray,
           combos: Sequence[tuple[int, str]], rng: np.random.Generator) -> Tensor:
    out = []
    for lv, w in combos:
        a = imgs[_pick(lvl == lv, rng)]
        b = imgs[_pick(wth == w, rng)]
        out.append((a + b) / 2)
    return torch.stack(out)


def _attribute_mean(imgs: Tensor, lvl: np.ndarray, wth: np.ndarray,
                    combos: Sequence[tuple[int, str]]) -> Tensor:
    mean = imgs.mean(0)
    out = []
    for lv, w in combos:
        out.append(imgs[torch.from_numpy(lvl == lv)].mean(0)
                   + imgs[torch.from_numpy(wth == w)].mean(0) - mean)
    return torch.stack(out).clamp(0, 1)
