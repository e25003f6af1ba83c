"""MMM-RS text-to-image: tiny random SD pipeline, published sampler, UNet LoRA (peft).

No Stable Diffusion weights exist offline: a random UNet/VAE/CLIP text encoder with SD's
classes is saved in the diffusers layout and loaded back through the same path a local
stable-diffusion-v1-5 copy takes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.vision_language.mmmrs.model import (
    PAPER_SAMPLER,
    add_unet_lora,
    diffusion_loss,
    encode_prompts,
    load_pipeline,
    sample,
    save_unet_lora,
    tiny_pipeline,
    tiny_tokenizer,
)

PROMPT = "High precision resolution, fog, a satellite image of a town, GeoSim"


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sd")
    pipe = tiny_pipeline(root / "build", words=["fog", "snow", "night", "town"])
    pipe.save_pretrained(root / "sd")
    return root / "sd"


def _latents() -> torch.Tensor:
    return torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))


def test_tokenizer_words_are_single_tokens(tmp_path: Path) -> None:
    tok = tiny_tokenizer(tmp_path, ["fog", "precision"])
    ids = tok("Precision, fog").input_ids
    assert len(ids) == 2 + 3  # bos, precision, ",", fog, eos
    assert len(tok("fgo").input_ids) == 2 + 3  # unknown words fall back to bytes


def test_published_sampler_and_cfg_loop_match_pipeline(sd_folder: Path) -> None:
    """load_pipeline sets DPM++ 2M Karras; our CFG loop reproduces the pipeline's latents
    at 30 steps, CFG 7.5 exactly."""
    pipe = load_pipeline(sd_folder)
    sch = pipe.scheduler
    assert type(sch).__name__ == PAPER_SAMPLER["scheduler"]
    assert sch.config.use_karras_sigmas and sch.config.algorithm_type == "dpmsolver++"
    assert sch.config.solver_order == 2
    out = pipe(PROMPT, num_inference_steps=30, guidance_scale=7.5, latents=_latents(),
               output_type="latent").images
    cond = encode_prompts(pipe.tokenizer, pipe.text_encoder, [PROMPT])
    unc = encode_prompts(pipe.tokenizer, pipe.text_encoder, [""])
    ours = sample(pipe.unet, cond, unc, (4, 16, 16), 30, 7.5, latents=_latents())
    torch.testing.assert_close(ours, out, rtol=1e-5, atol=1e-5)
    img = pipe(PROMPT, num_inference_steps=2, output_type="pt").images
    assert img.shape == (1, 3, 32, 32)


def test_missing_local_paths_are_clear_errors(sd_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="model_index.json"):
        load_pipeline(tmp_path / "stable-diffusion-v1-5")
    with pytest.raises(CheckpointError, match="LoRA weights not found"):
        load_pipeline(sd_folder, lora=tmp_path / "missing.safetensors")
    pipe = load_pipeline(sd_folder)
    with pytest.raises(InvalidInputError):
        save_unet_lora(pipe.unet, tmp_path / "lora")
    with pytest.raises(InvalidInputError):
        add_unet_lora(pipe.unet, rank=0)


def test_unet_lora_learns_and_round_trips(sd_folder: Path, tmp_path: Path) -> None:
    """LoRA adapters on to_q/k/v/out only; base weights frozen and unchanged; the loss on a
    fixed batch falls; the saved .safetensors loads into a fresh pipeline and reproduces
    the fine-tuned pipeline's output."""
    pipe = load_pipeline(sd_folder)
    base = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    add_unet_lora(pipe.unet, rank=4)
    trainable = [n for n, p in pipe.unet.named_parameters() if p.requires_grad]
    assert trainable and all("lora" in n for n in trainable)
    assert any("to_q" in n for n in trainable) and any("to_out" in n for n in trainable)
    params = [p for p in pipe.unet.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-2)
    x0 = torch.randn(8, 4, 16, 16, generator=torch.Generator().manual_seed(1))
    cond = encode_prompts(pipe.tokenizer, pipe.text_encoder, [PROMPT] * 8)

    def loss_at(seed: int) -> float:
        with torch.no_grad():
            return float(diffusion_loss(pipe.unet, x0, cond,
                                        generator=torch.Generator().manual_seed(seed)))

    before = sum(loss_at(s) for s in range(4))
    for i in range(30):
        loss = diffusion_loss(pipe.unet, x0, cond, generator=torch.Generator().manual_seed(i))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = sum(loss_at(s) for s in range(4))
    assert after < 0.9 * before
    for k, v in pipe.unet.state_dict().items():
        if k in base:
            torch.testing.assert_close(v, base[k])
    f = save_unet_lora(pipe.unet, tmp_path / "lora")
    assert f.suffix == ".safetensors"
    tuned = pipe(PROMPT, num_inference_steps=5, latents=_latents(), output_type="latent").images
    fresh = load_pipeline(sd_folder, lora=f)
    again = fresh(PROMPT, num_inference_steps=5, latents=_latents(), output_type="latent").images
    plain = load_pipeline(sd_folder)(PROMPT, num_inference_steps=5, latents=_latents(),
                                     output_type="latent").images
    torch.testing.assert_close(again, tuned, rtol=1e-4, atol=1e-4)
    assert float((tuned - plain).abs().max()) > 1e-3


def test_noise_offset_adds_a_per_channel_constant_to_the_target_noise() -> None:
    """diffusers' ``--noise_offset``: the eps target gets ``offset * N(0, 1)`` per sample and
    channel. A UNet predicting zeros has loss E[eps^2] = 1 + offset^2 (1 without it)."""

    class Zero(torch.nn.Module):
        def forward(self, x: torch.Tensor, t: torch.Tensor, encoder_hidden_states: torch.Tensor
                    ) -> object:
            return type("Out", (), {"sample": torch.zeros_like(x)})()

    x0 = torch.zeros(4000, 3, 4, 4)
    cond = torch.zeros(4000, 2, 8)
    g = torch.Generator().manual_seed(0)
    plain = float(diffusion_loss(Zero(), x0, cond, generator=g))
    offset = float(diffusion_loss(Zero(), x0, cond, generator=g, noise_offset=1.0))
    assert abs(plain - 1.0) < 0.02 and abs(offset - 2.0) < 0.1


def test_text_time_unet_is_conditioned_through_the_timestep_embedding() -> None:
    """``text_time=True`` (DeepFloyd IF's ``addition_embed_type="text"``): the prompt also
    reaches every ResNet block; without cross-attention it still changes the output."""
    from geoneurips.vision_language.mmmrs.model import tiny_unet

    unet = tiny_unet(3, 16, 32, (16, 32), sd_layout=False, text_time=True).eval()
    assert unet.add_embedding is not None
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    a, b = torch.randn(2, 2, 6, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        base = unet(x, 500, encoder_hidden_states=a).sample
        other = unet(x, 500, encoder_hidden_states=b).sample
        # switch the cross-attention off: the text still acts through the time embedding
        for m in unet.modules():
            if type(m).__name__ == "Transformer2DModel":
                m.forward = lambda h, *args, **kw: (h,)
        c1 = unet(x, 500, encoder_hidden_states=a).sample
        c2 = unet(x, 500, encoder_hidden_states=b).sample
    assert not torch.allclose(base, other)
    assert (c1 - c2).abs().max() > 1e-4


def test_later_bias_samples_the_noisiest_quarter_more_often() -> None:
    """diffusers' ``--timestep_bias_strategy later``: weight ``m`` on the last 250 of 1000
    timesteps gives them ``m / (m + 3)`` of the draws (4/7 for m = 4; 1/4 without)."""
    seen: list[torch.Tensor] = []

    class Rec(torch.nn.Module):
        def forward(self, x: torch.Tensor, t: torch.Tensor, encoder_hidden_states: torch.Tensor
                    ) -> object:
            seen.append(t)
            return type("Out", (), {"sample": torch.zeros_like(x)})()

    x0, cond = torch.zeros(20000, 1, 2, 2), torch.zeros(20000, 1, 4)
    diffusion_loss(Rec(), x0, cond, generator=torch.Generator().manual_seed(0))
    diffusion_loss(Rec(), x0, cond, generator=torch.Generator().manual_seed(0), later_bias=4.0)
    plain, biased = (float((t >= 750).double().mean()) for t in seen)
    assert abs(plain - 0.25) < 0.02 and abs(biased - 4 / 7) < 0.02
    assert int(seen[1].min()) >= 0 and int(seen[1].max()) <= 999


def test_pickled_weights_are_refused(sd_folder: Path, tmp_path: Path) -> None:
    """Only safetensors are read: a Stable Diffusion folder whose UNet weights are a pickled
    ``diffusion_pytorch_model.bin`` is refused with an error naming the missing safetensors
    file (before, diffusers "defaulted to unsafe serialization" and unpickled it, with
    ``weights_only=True``), as the project's other Hugging Face loaders do."""
    import shutil

    from safetensors.torch import load_file

    folder = tmp_path / "sd_bin"
    shutil.copytree(sd_folder, folder)
    st = folder / "unet" / "diffusion_pytorch_model.safetensors"
    torch.save(load_file(st), folder / "unet" / "diffusion_pytorch_model.bin")
    st.unlink()
    with pytest.raises(CheckpointError, match="diffusion_pytorch_model.safetensors"):
        load_pipeline(folder)
