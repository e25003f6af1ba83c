"""MMM-RS demo: does a text-to-image model trained on MMM-RS-style pairs follow the GSD and
weather words of the prompt?

Synthetic VHR town scenes (:mod:`.synthetic`) are written as GeoTIFFs, run through the
MMM-RS builder (multi-GSD crops, weather synthesis, prompts "{GSD}, {weather}, {caption},
{satellite}") and read back with :class:`MMMRS`. A tiny ``UNet2DConditionModel`` (pixel
space, cross-attention on a frozen random CLIP text encoder, the SD noise schedule) is
trained on the pairs **without three (GSD, weather) combinations**; images are sampled with
the published sampler (DPM++ 2M Karras, 30 steps, CFG 7.5). A frozen classifier trained on
real renders of other scenes judges whether each generated image shows the prompted GSD
level and weather.

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

Measured limits (why the system is ``partial``): within a CPU budget the tiny UNet does not
learn to follow the prompt words, and the judge recognises weather (0.99 on real renders)
but not the GSD level of 16-px renders of these scenes (balanced accuracy about chance; a
GSD-only judge trained on clear renders for 60 full-batch steps does fit them, so the
signal exists but needs a larger judge budget or larger tiles).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from geoneurips.demo import DemoResult, finish, new_figure
from geoneurips.vision_language.mmmrs.builder import GSD_BINS, WEATHER_PHRASES, WEATHERS
from geoneurips.vision_language.mmmrs.data import MMMRS, load_arrays, write_fixture
from geoneurips.vision_language.mmmrs.model import (
    diffusion_loss,
    encode_prompts,
    sample,
    tiny_text_encoder,
    tiny_tokenizer,
    tiny_unet,
)

__all__ = ["DEMO_MARGIN", "HELD_OUT", "AttributeClassifier", "demo", "train_classifier",
           "train_generator"]

#: Joint-accuracy margin on held-out prompt combinations over the strongest baseline
#: (seeds in tests/vision_language/test_mmmrs_demo.py).
DEMO_MARGIN = 0.10

#: (GSD level index, weather) combinations removed from the generator's training pairs.
HELD_OUT: tuple[tuple[int, str], ...] = ((0, "fog"), (1, "snow"), (2, "low_light"))

_GSD_LEVELS = 3  # the demo's scenes cover Ultra-high, High and Ordinary


class AttributeClassifier(nn.Module):
    """Small CNN with two heads: GSD level (3) and weather (4)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.gsd = nn.Linear(2 * width, _GSD_LEVELS)
        self.weather = nn.Linear(2 * width, len(WEATHERS))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x * 2 - 1)
        return self.gsd(h), self.weather(h)


def train_classifier(images: Tensor, gsd: Tensor, weather: Tensor, epochs: int,
                     seed: int) -> AttributeClassifier:
    """Train the judge on real renders (flips and 90-degree rotations as augmentation)."""
    torch.manual_seed(seed)
    model = AttributeClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    n = len(images)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, 64):
            idx = perm[i:i + 64]
            x = torch.rot90(images[idx], int(torch.randint(0, 4, (1,), generator=g)), (2, 3))
            lg, lw = model(x)
            loss = nn.functional.cross_entropy(lg, gsd[idx]) + \
                nn.functional.cross_entropy(lw, weather[idx])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    return model.eval().requires_grad_(False)


@torch.no_grad()
def judge(model: AttributeClassifier, images: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Predicted GSD level and weather index of each image."""
    lg, lw = model(images.clamp(0, 1))
    return lg.argmax(1).numpy(), lw.argmax(1).numpy()


def _prompt(level: int, weather: str, caption: str = "a satellite image of a town",
            satellite: str = "GeoSim") -> str:
    parts = [GSD_BINS[level][1], WEATHER_PHRASES[weather], caption, satellite]
    return ", ".join(p for p in parts if p)


def train_generator(images: Tensor, prompts: Sequence[str], tokenizer: Any, text_encoder: Any,
                    steps: int, seed: int, conditional: bool = True,
                    drop: float = 0.1, widths: tuple[int, ...] = (32, 64),
                    batch: int = 32) -> Any:
    """Train a tiny pixel-space ``UNet2DConditionModel`` on (image, prompt) pairs with the
    SD noise-prediction loss; prompts dropped to "" with probability ``drop`` (for CFG).
    ``conditional=False`` trains the same UNet on empty prompts only."""
    torch.manual_seed(seed)
    unet = tiny_unet(3, images.shape[-1], text_encoder.config.hidden_size, widths, seed=seed,
                     sd_layout=False)
    uniq = sorted(set(prompts))
    table = encode_prompts(tokenizer, text_encoder, [*uniq, ""])
    pid = torch.tensor([uniq.index(p) for p in prompts])
    empty = len(uniq)
    x0 = images * 2 - 1
    opt = torch.optim.AdamW(unet.parameters(), lr=2e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x0), (batch,), generator=g)
        which = pid[idx].clone()
        if conditional:
            which[torch.rand(len(idx), generator=g) < drop] = empty
        else:
            which[:] = empty
        xb = torch.rot90(x0[idx], int(torch.randint(0, 4, (1,), generator=g)), (2, 3))
        loss = diffusion_loss(unet, xb, table[which], generator=g)
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
    return ((out + 1) / 2).clamp(0, 1)


def _scores(clf: AttributeClassifier, images: Tensor, level: np.ndarray,
            weather: np.ndarray) -> dict[str, float]:
    pg, pw = judge(clf, images)
    g, w = pg == level, pw == weather
    return {"joint_acc": float(np.mean(g & w)), "gsd_acc": float(np.mean(g)),
            "weather_acc": float(np.mean(w))}


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Prompt-following of a tiny text-to-image diffusion model vs retrieval and means."""
    started = time.perf_counter()
    n_train, n_judge = (20, 16) if quick else (80, 30)
    steps = 60 if quick else 400
    per_prompt = 8 if quick else 24
    tile = 16
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        train = load_arrays(MMMRS(write_fixture(base / "train", n_train, 64, tile,
                                                seed=1000 + seed)))
        judge_set = load_arrays(MMMRS(write_fixture(base / "judge", n_judge, 64, tile,
                                                    seed=2000 + seed)))
        test = load_arrays(MMMRS(write_fixture(base / "test", 6 if quick else 12, 64, tile,
                                               seed=3000 + seed)))
        words = sorted({w for p in train["prompt"] for w in p.replace(",", " ").split()})
        tok = tiny_tokenizer(base / "tok", words)
    from ...seed import single_thread
    with single_thread():  # one thread: the same float order, and result, on any core count
        te = tiny_text_encoder(tok, seed=seed)

        clf = train_classifier(judge_set["image"], judge_set["gsd_level"], judge_set["weather"],
                               epochs=5 if quick else 10, seed=seed)
        real = _scores(clf, test["image"], test["gsd_level"].numpy(), test["weather"].numpy())
        pg, _ = judge(clf, test["image"])
        tg = test["gsd_level"].numpy()
        # the test renders are 5/7 native-GSD tiles: the balanced accuracy tells whether the
        # judge sees GSD at all (chance 1/3)
        real["gsd_balanced_acc"] = float(np.mean([np.mean(pg[tg == c] == c)
                                                  for c in range(_GSD_LEVELS)]))

        lvl = train["gsd_level"].numpy()
        wth = np.array([WEATHERS[i] for i in train["weather"].numpy()])
        keep = ~np.zeros(len(lvl), bool)
        for lv, w in HELD_OUT:
            keep &= ~((lvl == lv) & (wth == w))
        imgs, prompts = train["image"][keep], [p for p, k in zip(train["prompt"], keep, strict=True) if k]
        klvl, kwth = lvl[keep], wth[keep]

        cond = train_generator(imgs, prompts, tok, te, steps, seed)

        seen = [(lv, w) for lv in range(_GSD_LEVELS) for w in WEATHERS if (lv, w) not in HELD_OUT]
        req: dict[str, list[tuple[int, str]]] = {
            "held_out": [c for c in HELD_OUT for _ in range(per_prompt)],
            "seen": [c for c in seen for _ in range(max(4, per_prompt // 4))]}
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
        ours = results.pop("ours")
        directions = {k: "max" for k in ours}
        fig, axes = new_figure(2, 1, size=5.0)
        names = [*results, "ours (tiny SD, CFG 7.5)"]
        axes[0, 0].barh(names, [*(r["joint_acc_held_out"] for r in results.values()),
                                ours["joint_acc_held_out"]],
                        color=["grey"] * len(results) + ["tab:green"])
        axes[0, 0].axvline(real["joint_acc"], ls="--", c="k", lw=1)
        axes[0, 0].set_xlabel("judge's joint accuracy, held-out prompts (dashed: real renders)")
        rows = []
        for k in range(len(HELD_OUT)):
            j = k * per_prompt
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
        }
        return finish(
            "mmmrs", ours, baselines=results, primary="joint_acc_held_out", margin=DEMO_MARGIN,
            directions=directions, figure=fig, out_dir=out_dir, started=started,
            regressions_explained=explained,
            details={"seed": seed, "train_scenes": n_train, "judge_scenes": n_judge,
                     "train_pairs": int(keep.sum()), "held_out": [list(c) for c in HELD_OUT],
                     "steps": steps, "tile": tile, "sampler": "DPM++ 2M Karras, 30 steps, CFG 7.5",
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
