"""MMM-RS text-to-image: Stable Diffusion + LoRA on the UNet, the published sampler.

The benchmark (Sec. 5 of the paper; the deleted ``test_generate.py`` of the public repo,
commit 987d448) fine-tunes Stable Diffusion v1.5 with LoRA and samples with
``DPMSolverMultistepScheduler(use_karras_sigmas=True)`` (DPM++ 2M Karras), 30 steps,
classifier-free guidance 7.5, fp16 on a GPU. Here:

- :func:`load_pipeline` loads a **local** Stable Diffusion folder (diffusers layout,
  ``model_index.json``) and optional LoRA weights (``.safetensors``); nothing is
  downloaded (``local_files_only``), a missing path raises :class:`CheckpointError`.
- :func:`tiny_pipeline` builds a random UNet, VAE and CLIP text encoder with the same
  classes and interfaces (``UNet2DConditionModel``, ``AutoencoderKL``, ``CLIPTextModel``)
  offline from configs, with a word-level tokenizer written by :func:`tiny_tokenizer`.
- :func:`add_unet_lora` puts peft LoRA adapters on the UNet attention projections
  (``to_q``, ``to_k``, ``to_v``, ``to_out.0``) and freezes everything else;
  :func:`diffusion_loss` is the noise-prediction MSE of SD fine-tuning;
  :func:`save_unet_lora` writes the adapters in the diffusers LoRA format that
  ``pipe.load_lora_weights`` reads back.
- :func:`sample` is the same CFG + DPM++ 2M Karras loop as the pipeline, for a UNet that
  works in pixel space (the demo) or in latent space (then decode with the VAE); a test
  checks it reproduces the pipeline's latents.

Deliberate differences: fp32 on CPU (fp16 only where a CUDA device is given).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

import torch
from torch import Tensor

from geoneurips.errors import CheckpointError, InvalidInputError

# diffusers, transformers and peft are untyped for mypy: their objects are handled as Any.
DPMSolverMultistepScheduler: TypeAlias = Any
StableDiffusionPipeline: TypeAlias = Any
UNet2DConditionModel: TypeAlias = Any
CLIPTextModel: TypeAlias = Any
CLIPTokenizer: TypeAlias = Any


def _lib(name: str) -> Any:
    """Import ``name`` lazily (heavy, and untyped for mypy)."""
    import importlib

    return importlib.import_module(name)

__all__ = [
    "LORA_TARGETS",
    "PAPER_SAMPLER",
    "add_unet_lora",
    "diffusion_loss",
    "dpm_karras_scheduler",
    "encode_prompts",
    "load_pipeline",
    "sample",
    "save_unet_lora",
    "tiny_pipeline",
    "tiny_text_encoder",
    "tiny_tokenizer",
    "tiny_unet",
]

#: The published sampler settings (test_generate.py): DPM++ 2M Karras, 30 steps, CFG 7.5.
PAPER_SAMPLER: dict[str, Any] = {"num_inference_steps": 30, "guidance_scale": 7.5,
                                 "scheduler": "DPMSolverMultistepScheduler",
                                 "use_karras_sigmas": True, "algorithm_type": "dpmsolver++",
                                 "solver_order": 2}

#: UNet modules that receive LoRA adapters (the attention projections, as in the diffusers
#: SD LoRA training recipe the authors' ``.safetensors`` files come from).
LORA_TARGETS: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")

#: Stable Diffusion v1's training noise schedule (scaled-linear betas).
SD_SCHEDULE: dict[str, Any] = {"num_train_timesteps": 1000, "beta_start": 0.00085,
                               "beta_end": 0.012, "beta_schedule": "scaled_linear",
                               "steps_offset": 1}


def dpm_karras_scheduler(config: Any | None = None) -> DPMSolverMultistepScheduler:
    """DPM++ 2M Karras (``DPMSolverMultistepScheduler(use_karras_sigmas=True)``).

    Args:
        config: a scheduler config to start from (the pipeline's); SD v1's schedule if None.
    """
    sched = _lib("diffusers").DPMSolverMultistepScheduler
    if config is None:
        return sched(**SD_SCHEDULE, use_karras_sigmas=True,
                                           algorithm_type="dpmsolver++", solver_order=2)
    return sched.from_config(config, use_karras_sigmas=True,
                                                   algorithm_type="dpmsolver++",
                                                   solver_order=2)


def load_pipeline(path: str | Path, lora: str | Path | None = None, device: str = "cpu",
                  fp16: bool | None = None) -> StableDiffusionPipeline:
    """A local Stable Diffusion folder (diffusers layout) with the published sampler.

    Args:
        path: folder holding ``model_index.json`` (e.g. ``stable-diffusion-v1-5``).
        lora: optional LoRA weights (a ``.safetensors`` file or a folder written by
            :func:`save_unet_lora` / diffusers' ``save_lora_weights``).
        device: torch device.
        fp16: half precision (default: only on CUDA, as the authors ran it).

    Raises:
        CheckpointError: the folder or the LoRA file does not exist, is not a diffusers
            Stable Diffusion folder, or holds pickled (``.bin``) weights instead of
            safetensors (never unpickled). Nothing is downloaded.
    """
    root = Path(path)
    if not (root / "model_index.json").is_file():
        raise CheckpointError(
            f"no Stable Diffusion folder at {str(root)!r} (model_index.json missing). Put a "
            "local copy of stable-diffusion-v1-5 in the diffusers layout there (folders unet/, "
            "vae/, text_encoder/, tokenizer/, scheduler/); geoneurips never downloads weights.")
    half = device.startswith("cuda") if fp16 is None else fp16
    dtype = torch.float16 if half else torch.float32
    try:
        pipe = _lib("diffusers").StableDiffusionPipeline.from_pretrained(
            str(root), torch_dtype=dtype, local_files_only=True, use_safetensors=True,
            safety_checker=None, requires_safety_checker=False)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot load Stable Diffusion from {str(root)!r}: {exc}") from exc
    pipe.scheduler = dpm_karras_scheduler(pipe.scheduler.config)
    if lora is not None:
        lp = Path(lora)
        if not lp.exists():
            raise CheckpointError(f"LoRA weights not found: {str(lp)!r}")
        try:
            if lp.is_file():
                pipe.load_lora_weights(str(lp.parent), weight_name=lp.name, use_safetensors=True)
            else:
                pipe.load_lora_weights(str(lp), use_safetensors=True)
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"cannot load LoRA weights {str(lp)!r}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def tiny_tokenizer(folder: str | Path, words: Sequence[str] = (),
                   max_length: int = 32) -> CLIPTokenizer:
    """A CLIP byte-level BPE tokenizer written offline: every byte is a token and every
    word in ``words`` is merged into one token (so prompts of the demo's vocabulary
    tokenize word by word, any other text byte by byte).

    Args:
        folder: where ``vocab.json`` and ``merges.txt`` are written.
        words: lower-case words that become single tokens.
        max_length: ``model_max_length`` (SD uses 77).
    """
    byte_map = _bytes_to_unicode()
    chars = list(byte_map.values())
    vocab: list[str] = [*chars, *(c + "</w>" for c in chars)]
    merges: list[tuple[str, str]] = []
    seen = set(vocab)
    for w in dict.fromkeys(x.lower() for x in words if x):
        enc = "".join(byte_map[b] for b in w.encode("utf-8"))
        parts = [*enc[:-1], enc[-1] + "</w>"]
        cur = parts[0]
        for nxt in parts[1:]:
            merged = cur + nxt
            merges.append((cur, nxt))
            if merged not in seen:
                vocab.append(merged)
                seen.add(merged)
            cur = merged
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    ids = {t: i for i, t in enumerate(vocab)}
    uniq = list(dict.fromkeys(merges))
    tok = _lib("transformers").CLIPTokenizer(vocab=ids, merges=uniq,
                                             model_max_length=max_length)
    tok.save_pretrained(str(folder))
    return tok


def _bytes_to_unicode() -> dict[int, str]:
    """The byte -> printable character table of byte-level BPE (GPT-2 / CLIP)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1),
            *range(ord("\u00ae"), ord("\u00ff") + 1)]
    out: dict[int, str] = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + n)
            n += 1
    return dict(sorted(out.items()))


def tiny_text_encoder(tokenizer: CLIPTokenizer, hidden: int = 32, layers: int = 2,
                      seed: int = 0) -> CLIPTextModel:
    """A random CLIP text transformer (same class as SD's) sized for tests and the demo."""
    tr = _lib("transformers")
    torch.manual_seed(seed)
    cfg = tr.CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=hidden,
                         intermediate_size=2 * hidden, num_attention_heads=2,
                         num_hidden_layers=layers,
                         max_position_embeddings=tokenizer.model_max_length,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    return tr.CLIPTextModel(cfg).eval()


def tiny_unet(in_channels: int = 4, sample_size: int = 16, cross_dim: int = 32,
              widths: tuple[int, ...] = (32, 64), seed: int = 0,
              sd_layout: bool = True, text_time: bool = False) -> UNet2DConditionModel:
    """A random ``UNet2DConditionModel`` (cross-attention on the text states) at a tiny width.

    ``sd_layout=True``: SD's layout (attention blocks at every level but the lowest);
    ``False``: attention only at the lowest level (about 4x cheaper on a CPU; the demo).
    ``text_time=True`` also adds an attention-pooled text embedding to the timestep
    embedding (``addition_embed_type="text"``, as in DeepFloyd IF's pixel-space UNet), so
    the prompt conditions every ResNet block, not only the cross-attention layers.
    The plain attention processor is set (PyTorch's CPU flash-attention kernel is slow for
    such small heads; the result is the same).
    """
    attn = _lib("diffusers.models.attention_processor").AttnProcessor
    torch.manual_seed(seed)
    n = len(widths)
    if sd_layout:
        down = ("CrossAttnDownBlock2D",) * (n - 1) + ("DownBlock2D",)
        up = ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (n - 1)
    else:
        down = ("DownBlock2D",) * (n - 1) + ("CrossAttnDownBlock2D",)
        up = ("CrossAttnUpBlock2D",) + ("UpBlock2D",) * (n - 1)
    unet = _lib("diffusers").UNet2DConditionModel(
        sample_size=sample_size, in_channels=in_channels, out_channels=in_channels,
        block_out_channels=widths, layers_per_block=1, down_block_types=down,
        up_block_types=up, cross_attention_dim=cross_dim, attention_head_dim=8,
        norm_num_groups=8,
        **({"addition_embed_type": "text", "addition_embed_type_num_heads": 4}
           if text_time else {}))
    unet.set_attn_processor(attn())
    return unet


def tiny_pipeline(folder: str | Path, words: Sequence[str] = (),
                  image_size: int = 32, seed: int = 0) -> StableDiffusionPipeline:
    """A random Stable Diffusion pipeline (UNet, VAE, CLIP text encoder, tokenizer and the
    DPM++ 2M Karras scheduler) built offline; ``pipe.save_pretrained(folder)`` gives a
    folder :func:`load_pipeline` reads like a real SD v1.5 copy."""
    dm = _lib("diffusers")
    tok = tiny_tokenizer(Path(folder) / "_tokenizer_src", words)
    te = tiny_text_encoder(tok, seed=seed)
    torch.manual_seed(seed)
    vae = dm.AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                        block_out_channels=(16, 32),
                        down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=8, sample_size=image_size)
    unet = tiny_unet(4, image_size // 2, te.config.hidden_size, seed=seed)
    pipe = dm.StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet,
                                   scheduler=dpm_karras_scheduler(), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def add_unet_lora(unet: UNet2DConditionModel, rank: int = 4, alpha: float | None = None,
                  targets: Sequence[str] = LORA_TARGETS) -> UNet2DConditionModel:
    """Add peft LoRA adapters to the UNet's attention projections; freeze the rest.

    Args:
        unet: the UNet (changed in place and returned).
        rank: LoRA rank ``r``.
        alpha: LoRA alpha (default ``rank``: scale 1).
        targets: module names that get adapters.
    """
    if rank < 1:
        raise InvalidInputError(f"LoRA rank must be >= 1, got {rank}")
    unet.requires_grad_(False)
    cfg = _lib("peft").LoraConfig(r=rank, lora_alpha=alpha if alpha is not None else rank,
                     init_lora_weights="gaussian", target_modules=list(targets))
    unet.add_adapter(cfg)
    return unet


def save_unet_lora(unet: UNet2DConditionModel, folder: str | Path) -> Path:
    """Write the UNet's LoRA adapters as ``pytorch_lora_weights.safetensors`` (the diffusers
    format ``pipe.load_lora_weights`` reads)."""
    convert = _lib("diffusers.utils").convert_state_dict_to_diffusers
    peft_state = _lib("peft.utils").get_peft_model_state_dict
    out = Path(folder)
    if not getattr(unet, "_hf_peft_config_loaded", False):
        raise InvalidInputError("the UNet has no LoRA adapters (call add_unet_lora first)")
    layers = convert(peft_state(unet))
    if not layers:
        raise InvalidInputError("the UNet has no LoRA adapters (call add_unet_lora first)")
    _lib("diffusers").StableDiffusionPipeline.save_lora_weights(str(out), unet_lora_layers=layers,
                                              safe_serialization=True)
    return out / "pytorch_lora_weights.safetensors"


def encode_prompts(tokenizer: CLIPTokenizer, text_encoder: CLIPTextModel,
                   prompts: Sequence[str]) -> Tensor:
    """Last hidden states of the text encoder for padded prompts (what the UNet attends)."""
    ids = tokenizer(list(prompts), padding="max_length", truncation=True,
                    max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
    with torch.no_grad():
        states: Tensor = text_encoder(ids.to(text_encoder.device))[0]
    return states


def diffusion_loss(unet: UNet2DConditionModel, x0: Tensor, cond: Tensor,
                   generator: torch.Generator | None = None,
                   num_train_timesteps: int = 1000, noise_offset: float = 0.0,
                   later_bias: float = 1.0) -> Tensor:
    """Noise-prediction MSE at a uniform timestep (SD fine-tuning objective, eps target)
    on SD v1's scaled-linear schedule. ``x0`` are latents (or pixels for a pixel UNet).

    ``noise_offset`` adds ``noise_offset * N(0, 1)`` per sample and channel to the noise
    (the ``--noise_offset`` option of diffusers' SD fine-tuning script, after Guttenberg's
    "offset noise"): SD's schedule never destroys an image's mean, so without it the
    sampler, which starts from zero-mean noise, cannot make very dark or bright images.

    ``later_bias`` multiplies the sampling weight of the last quarter of the timesteps (the
    noisiest; diffusers' ``--timestep_bias_strategy later --timestep_bias_multiplier``):
    there the noisy input says least and the prompt most, e.g. an image's brightness."""
    betas = torch.linspace(SD_SCHEDULE["beta_start"] ** 0.5, SD_SCHEDULE["beta_end"] ** 0.5,
                           num_train_timesteps, dtype=torch.float64) ** 2
    abar = torch.cumprod(1 - betas, 0).to(x0.dtype)
    if later_bias == 1.0:
        t = torch.randint(0, num_train_timesteps, (len(x0),), generator=generator)
    else:
        w = torch.ones(num_train_timesteps, dtype=torch.float64)
        w[-num_train_timesteps // 4:] *= later_bias
        t = torch.multinomial(w, len(x0), replacement=True, generator=generator)
    noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    if noise_offset:
        noise = noise + noise_offset * torch.randn((*x0.shape[:2], *([1] * (x0.dim() - 2))),
                                                   generator=generator, dtype=x0.dtype)
    a = abar[t].view(-1, *([1] * (x0.dim() - 1)))
    xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
    pred = unet(xt, t, encoder_hidden_states=cond).sample
    return torch.nn.functional.mse_loss(pred, noise)


@torch.no_grad()
def sample(unet: UNet2DConditionModel, cond: Tensor, uncond: Tensor,
           shape: tuple[int, int, int], steps: int = 30, guidance: float = 7.5,
           generator: torch.Generator | None = None, latents: Tensor | None = None,
           scheduler: DPMSolverMultistepScheduler | None = None) -> Tensor:
    """Classifier-free guidance with DPM++ 2M Karras, as ``StableDiffusionPipeline`` does it:
    ``eps = eps_u + g (eps_c - eps_u)``, one scheduler step per timestep.

    Args:
        unet: noise predictor.
        cond: text states of the prompts ``(N, L, D)``.
        uncond: text states of the empty prompt ``(1 or N, L, D)``.
        shape: ``(C, H, W)`` of one sample.
        steps: sampler steps (paper: 30).
        guidance: CFG scale (paper: 7.5); 1 disables the unconditional pass.
        generator: random generator for the initial noise.
        latents: initial noise (overrides ``generator``).
        scheduler: a scheduler (default :func:`dpm_karras_scheduler`).

    Returns:
        The denoised samples ``(N, C, H, W)``.
    """
    sch = scheduler if scheduler is not None else dpm_karras_scheduler()
    sch.set_timesteps(steps)
    n = len(cond)
    x = latents if latents is not None else torch.randn((n, *shape), generator=generator)
    x = x * sch.init_noise_sigma
    unc = uncond.expand(n, -1, -1) if len(uncond) == 1 else uncond
    for t in sch.timesteps:
        inp = sch.scale_model_input(x, t)
        if guidance == 1.0:
            eps = unet(inp, t, encoder_hidden_states=cond).sample
        else:
            both = unet(torch.cat([inp, inp]), t,
                        encoder_hidden_states=torch.cat([unc, cond])).sample
            eu, ec = both.chunk(2)
            eps = eu + guidance * (ec - eu)
        x = sch.step(eps, t, x).prev_sample
    out: Tensor = x
    return out
