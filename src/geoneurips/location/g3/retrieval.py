"""G3's retrieval database, candidate generation and geo-verification (Sec. 3.2-3.4).

* :class:`RetrievalIndex`: exact inner-product search (``faiss.IndexFlatIP``, the public
  ``IndexSearch.py``; a torch top-k fallback gives the same result) over the L2-normalised
  ``[CLIP, else_1, else_2]`` vectors of the MP16-Pro database. Nearest neighbours are the
  top inner products; "reverse" (dissimilar) neighbours are the top inner products with the
  **negated** query.
* :class:`G3Geolocator`: for each query, the candidates are the top-1 retrieved GPS, and the
  first ``answers_per_prompt`` (5) parsed answers of the zero-shot prompt and of the RAG
  prompts with K in ``rag_k`` (5, 10, 15) similar and dissimilar GPS, sampled with ``n = 10``
  at temperature 1.2. Geo-verification ranks them by the cosine between the image's
  ``else_2`` embedding and each candidate's GPS embedding; the first is the prediction.

Difference from the public ``IndexSearch.py``: it encodes out-of-range answers as they are
and zeroes them only if they win; here :func:`parse_coordinates` zeroes them first (the
Web-Mercator projection has no value beyond the poles), so a zeroed answer is scored at 0.
The public code also lists the top-1 retrieved GPS once per answer index (five copies);
one copy gives the same argmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from geoneurips.errors import InvalidInputError
from geoneurips.location.g3.lmm import LMM, parse_coordinates, rag_prompt, zero_shot_prompt
from geoneurips.location.g3.model import G3Model

__all__ = ["G3Geolocator", "Ranked", "RetrievalIndex"]


class RetrievalIndex:
    """Exact inner-product index (faiss ``IndexFlatIP`` when installed, else torch)."""

    def __init__(self, vectors: np.ndarray, use_faiss: bool = True) -> None:
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        if v.ndim != 2 or len(v) == 0:
            raise InvalidInputError(f"database vectors must be a non-empty (N, D) array: {v.shape}")
        self.vectors = v
        self._faiss: Any = None
        if use_faiss:
            faiss: Any
            try:
                import faiss
            except ImportError:  # pragma: no cover - faiss-cpu is a dependency
                faiss = None
            if faiss is not None:
                index = faiss.IndexFlatIP(v.shape[1])
                index.add(v)
                self._faiss = index

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, indices)``, each ``(B, k)``, best first."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.vectors.shape[1]:
            raise InvalidInputError(f"query width {q.shape[1]} != database {self.vectors.shape[1]}")
        k = min(k, len(self))
        if self._faiss is not None:
            s, i = self._faiss.search(q, k)
            return s, i.astype(np.int64)
        sims = torch.from_numpy(q) @ torch.from_numpy(self.vectors).t()
        top = torch.topk(sims, k, dim=1)
        return top.values.numpy(), top.indices.numpy().astype(np.int64)

    def search_reverse(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most dissimilar entries (search with the negated query)."""
        return self.search(-np.atleast_2d(queries), k)


@dataclass
class Ranked:
    """Ranked candidates of one query: ``latlon`` (C, 2), ``scores`` (C,), ``sources``."""

    latlon: np.ndarray
    scores: np.ndarray
    sources: list[str] = field(default_factory=list)


class G3Geolocator:
    """Retrieval -> LMM geo-diversification -> geo-verification over an aligned :class:`G3Model`."""

    def __init__(
        self,
        model: G3Model,
        db_vectors: np.ndarray,
        db_latlon: np.ndarray,
        lmm: LMM,
        rag_k: Sequence[int] | None = None,
        answers_per_prompt: int | None = None,
        n_samples: int | None = None,
        temperature: float | None = None,
        zero_shot: bool = True,
    ) -> None:
        cfg = model.config
        if len(db_vectors) != len(db_latlon):
            raise InvalidInputError("db_vectors and db_latlon must have the same length")
        self.model = model.eval()
        self.index = RetrievalIndex(db_vectors)
        self.db_latlon = np.asarray(db_latlon, dtype=np.float64)
        self.lmm = lmm
        self.rag_k = tuple(rag_k if rag_k is not None else cfg.rag_k)
        self.answers = answers_per_prompt or cfg.answers_per_prompt
        self.n_samples = n_samples or cfg.n_samples
        self.temperature = cfg.temperature if temperature is None else temperature
        self.zero_shot = zero_shot

    @torch.no_grad()
    def query_vectors(self, image_feat: Tensor) -> np.ndarray:
        out: np.ndarray = self.model.database_vectors(image_feat.float()).numpy()
        return out

    def candidates(
        self, top: np.ndarray, reverse: np.ndarray, image: bytes | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """Candidate GPS of one query from its neighbour indices (top-1 + LMM answers)."""
        pts = [self.db_latlon[top[0]]]
        src = ["retrieval_top1"]
        prompts: list[tuple[str, str]] = []
        if self.zero_shot:
            prompts.append(("zero_shot", zero_shot_prompt()))
        for k in self.rag_k:
            prompts.append(
                (f"rag_{k}", rag_prompt(self.db_latlon[top[:k]], self.db_latlon[reverse[:k]]))
            )
        for name, prompt in prompts:
            replies = self.lmm.generate(prompt, image, self.n_samples, self.temperature)
            for text in list(replies)[: self.answers]:
                pts.append(np.asarray(parse_coordinates(text)))
                src.append(name)
        return np.stack(pts), src

    @torch.no_grad()
    def predict(
        self, image_feat: Tensor, images: Sequence[bytes | None] | None = None
    ) -> list[Ranked]:
        """Ranked candidates for each row of ``image_feat`` ``(B, D)`` (frozen CLIP features)."""
        feats = image_feat.float().reshape(len(image_feat), -1)
        q = self.query_vectors(feats)
        kmax = max(self.rag_k, default=1)
        _, top = self.index.search(q, max(kmax, 1))
        _, rev = self.index.search_reverse(q, max(kmax, 1))
        all_pts, all_src, bounds = [], [], [0]
        for b in range(len(feats)):
            pts, src = self.candidates(top[b], rev[b], images[b] if images is not None else None)
            all_pts.append(pts)
            all_src.append(src)
            bounds.append(bounds[-1] + len(pts))
        cand = torch.from_numpy(np.concatenate(all_pts)).float()
        # the LMM's answers repeat (n samples of the same place, the zero-shot fallback): embed
        # each distinct point once (a row's embedding does not depend on the batch around it)
        uniq, inverse = torch.unique(cand, dim=0, return_inverse=True)
        g = self.model.gps_embeddings(uniq)[inverse]
        _, e2 = self.model.image_embeddings(feats)
        out = []
        for b in range(len(feats)):
            s = (g[bounds[b] : bounds[b + 1]] @ e2[b]).numpy().astype(np.float64)
            order = np.argsort(-s, kind="stable")
            out.append(Ranked(all_pts[b][order], s[order], [all_src[b][i] for i in order]))
        return out
