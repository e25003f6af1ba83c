"""A small captioner / grounder / VQA model behind the VRSBench task formats.

The benchmarked models (LLaVA-1.5, GeoChat, Mini-Gemini, MiniGPT-v2: 7B VLMs fine-tuned with
LoRA rank 64 for 5 epochs, Sec. 5 of the paper) cannot run here; any of them plugs in through
``geoneurips vrsbench-run --endpoint``. This model exercises the same three outputs at toy
scale: a shared CNN encoder (stride 4, a 16x16 feature map), a bag-of-words text encoder, and

* captioning: a GRU decoder started from learned-query attention pooling of the map;
* grounding: sentence-conditioned spatial attention, a soft-argmax centre plus a regressed
  offset and size, emitted as ``{<x1><y1><x2><y2>}`` on the 0-100 grid;
* VQA: question-conditioned attention pooling and a classifier over the training answers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SmallVLM", "VLMConfig", "Vocab", "tokenize"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"


def tokenize(text: str) -> list[str]:
    """Lower-cased words, numbers and punctuation (hyphenated class names stay whole)."""
    return re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*|[.,?]", text.lower())


class Vocab:
    """Token <-> index with ``<pad> <bos> <eos> <unk>`` first."""

    def __init__(self, texts: Sequence[str], min_count: int = 1) -> None:
        c = Counter(t for s in texts for t in tokenize(s))
        self.itos = [PAD, BOS, EOS, UNK] + sorted(w for w, n in c.items() if n >= min_count)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str, max_len: int, bos_eos: bool = False) -> list[int]:
        ids = [self.stoi.get(t, 3) for t in tokenize(text)]
        if bos_eos:
            ids = [1, *ids[: max_len - 2], 2]
        ids = ids[:max_len]
        return ids + [0] * (max_len - len(ids))

    def decode(self, ids: Sequence[int]) -> str:
        words: list[str] = []
        for i in ids:
            if i == 2:
                break
            if i > 3:
                words.append(self.itos[i])
        text = " ".join(words)
        return re.sub(r" ([.,?])", r"\1", text)


@dataclass
class VLMConfig:
    """Sizes (the demo's defaults; ``tiny()`` for tests)."""

    width: int = 48
    text_dim: int = 64
    vocab_size: int = 100
    n_answers: int = 20
    n_queries: int = 4

    @classmethod
    def tiny(cls) -> VLMConfig:
        return cls(width=8, text_dim=16, vocab_size=30, n_answers=5, n_queries=2)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU())


class SmallVLM(nn.Module):
    """Shared encoder + caption / grounding / VQA heads (see the module docstring)."""

    def __init__(self, cfg: VLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.text_dim
        w = cfg.width
        self.encoder = nn.Sequential(_block(5, w // 2, 2), _block(w // 2, w, 2),
                                     _block(w, w, 1))
        self.embed = nn.Embedding(cfg.vocab_size, d, padding_idx=0)
        self.text_mlp = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
        c = w + 2  # encoder channels + the feature map's x, y coordinates
        self.key = nn.Linear(d, c, bias=False)
        self.queries = nn.Parameter(torch.randn(cfg.n_queries, d) * 0.1)
        self.cap_ctx = nn.Linear(cfg.n_queries * c + c, 2 * d)
        self.cap_rnn = nn.GRU(3 * d, 2 * d, batch_first=True)
        self.cap_out = nn.Linear(2 * d, cfg.vocab_size)
        self.box_head = nn.Sequential(nn.Linear(c + d, 64), nn.ReLU(), nn.Linear(64, 4))
        self.vqa_head = nn.Sequential(nn.Linear(2 * c + d, 128), nn.ReLU(),
                                      nn.Linear(128, cfg.n_answers))

    @staticmethod
    def _coords(b: int, h: int, w: int) -> Tensor:
        ys = torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(b, 1, h, w)
        return torch.cat([xs, ys], 1)

    def features(self, image: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, C + 2, H/4, W/4): pixel coordinates go in as two channels and
        the map's own coordinates are appended (so attention can select by position)."""
        b, _, h, w = image.shape
        f = self.encoder(torch.cat([image, self._coords(b, h, w)], 1))
        return torch.cat([f, self._coords(b, f.shape[2], f.shape[3])], 1)

    def encode_text(self, ids: Tensor) -> Tensor:
        """(B, L) -> (B, D): an MLP on the mean of the word embeddings (bag of words; the
        hyphenated position and class names are single tokens). Measured 2026-12-08: the
        class word is 1 of 8 tokens of an existence question and this code learns it too
        slowly for the demo's 40 epochs (existence underfitted; the system notes)."""
        mask = (ids > 0).float().unsqueeze(-1)
        bow = (self.embed(ids) * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.text_mlp(bow)  # type: ignore[no-any-return]

    def _attend(self, fmap: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        """Softmax attention of (B, D) or (B, K, D) queries over the map: pooled features
        (B, [K,] C) and weights (B, [K,] HW)."""
        v = fmap.flatten(2)  # B, C, HW
        squeeze = q.dim() == 2
        qq = self.key(q.unsqueeze(1) if squeeze else q)  # B, K, C: (W q) . f == q . (W^T f)
        logits = qq @ v / qq.shape[-1] ** 0.5
        a = torch.softmax(logits, -1)  # B, K, HW
        pooled = a @ v.transpose(1, 2)
        return (pooled[:, 0], a[:, 0]) if squeeze else (pooled, a)

    # -- captioning --------------------------------------------------------------------
    def _cap_context(self, fmap: Tensor) -> Tensor:
        """(B, 2D) image context: learned-query attention pooling + the global mean."""
        b = fmap.shape[0]
        pooled, _ = self._attend(fmap, self.queries.unsqueeze(0).expand(b, -1, -1))
        return torch.tanh(self.cap_ctx(torch.cat([pooled.flatten(1), fmap.mean((2, 3))], 1)))

    def caption_loss(self, fmap: Tensor, caps: Tensor) -> Tensor:
        """Teacher-forced cross-entropy from :meth:`features`; ``caps`` (B, L) holds
        ``<bos> ... <eos>`` + pads."""
        ctx = self._cap_context(fmap)
        inp = caps[:, :-1]
        x = torch.cat([self.embed(inp), ctx.unsqueeze(1).expand(-1, inp.shape[1], -1)], -1)
        out, _ = self.cap_rnn(x, ctx.unsqueeze(0).contiguous())
        logits = self.cap_out(out)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), caps[:, 1:].reshape(-1),
                               ignore_index=0)

    @torch.no_grad()
    def generate(self, fmap: Tensor, max_len: int = 40) -> list[list[int]]:
        """Greedy decoding from :meth:`features`."""
        ctx = self._cap_context(fmap)
        h = ctx.unsqueeze(0).contiguous()
        tok = torch.full((fmap.shape[0],), 1, dtype=torch.long)
        out = []
        for _ in range(max_len):
            o, h = self.cap_rnn(torch.cat([self.embed(tok), ctx], -1).unsqueeze(1), h)
            tok = self.cap_out(o[:, 0]).argmax(-1)
            out.append(tok)
        return torch.stack(out, 1).tolist()

    # -- grounding ----------------------------------------------------------------------
    def ground(self, fmap: Tensor, sent: Tensor) -> Tensor:
        """(B, 4) boxes ``x1, y1, x2, y2`` in [0, 1] from :meth:`features` and sentences."""
        s = self.encode_text(sent)
        pooled, a = self._attend(fmap, s)
        hh, ww = fmap.shape[2:]
        ys = (torch.arange(hh, dtype=torch.float32) + 0.5) / hh
        xs = (torch.arange(ww, dtype=torch.float32) + 0.5) / ww
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        cx = a @ gx.flatten()
        cy = a @ gy.flatten()
        p = self.box_head(torch.cat([pooled, s], 1))
        cx = cx + 0.1 * torch.tanh(p[:, 0])
        cy = cy + 0.1 * torch.tanh(p[:, 1])
        bw = torch.sigmoid(p[:, 2]) * 0.5
        bh = torch.sigmoid(p[:, 3]) * 0.5
        return torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)

    # -- VQA ----------------------------------------------------------------------------
    def answer_logits(self, fmap: Tensor, question: Tensor) -> Tensor:
        """(B, n_answers) logits from :meth:`features` and questions."""
        q = self.encode_text(question)
        pooled, _ = self._attend(fmap, q)
        return self.vqa_head(torch.cat([pooled, q, fmap.mean((2, 3))], 1))  # type: ignore[no-any-return]


def giou_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean (1 - GIoU) of (B, 4) boxes (x1, y1, x2, y2)."""
    ix1 = torch.max(pred[:, 0], target[:, 0])
    iy1 = torch.max(pred[:, 1], target[:, 1])
    ix2 = torch.min(pred[:, 2], target[:, 2])
    iy2 = torch.min(pred[:, 3], target[:, 3])
    inter = (ix2 - ix1).clamp(min=0) * (iy2 - iy1).clamp(min=0)
    ap = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    at = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    union = ap + at - inter
    cx1 = torch.min(pred[:, 0], target[:, 0])
    cy1 = torch.min(pred[:, 1], target[:, 1])
    cx2 = torch.max(pred[:, 2], target[:, 2])
    cy2 = torch.max(pred[:, 3], target[:, 3])
    hull = (cx2 - cx1) * (cy2 - cy1)
    giou = inter / union.clamp(min=1e-6) - (hull - union) / hull.clamp(min=1e-6)
    return (1 - giou).mean()
