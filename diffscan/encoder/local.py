"""The local sentence-transformers encoder: one model per process, L2-normalized float32 rows."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from diffscan.encoder.cache import (  # noqa: F401 (re-exported)
    CACHE_FLUSH_TEXTS,
    EmbeddingCache,
    encode_cached,
    text_key,
)
from diffscan.encoder.models import (
    is_multilingual_path,
    model_fingerprint,
    model_id,
    resolve_model,
)
from diffscan.errors import ModelError

Progress = Callable[[int, int], None]

class Embedder(Protocol):
    """What the build pipeline needs of a model: its identity, its dimension and `encode`. The local
    `Encoder` and `encoder.ray.RayEmbedder` are the two kinds."""

    model_id: str
    dimension: int

    @property
    def caches(self) -> bool: ...

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None,
               cache: EmbeddingCache | None = None) -> np.ndarray: ...


@dataclass
class Encoder:
    """A sentence-transformers model plus its identity; encode() returns L2-normalized float32 rows.

    `static` marks a static-embedding model (one fixed vector per token): it encodes tens of thousands
    of texts per second, so it takes large batches and gains nothing from the embedding cache.
    """

    model_id: str
    path: Path
    dimension: int
    _model: object
    static: bool = False

    @property
    def caches(self) -> bool:
        """Whether the embedding cache pays off: for a transformer yes; for a static model re-encoding
        is faster than reading the cache, which would also grow by 1 GB per million listings."""
        return not self.static

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
        cache: EmbeddingCache | None = None,
    ) -> np.ndarray:
        """Embed texts, re-using cached vectors; only unseen texts reach the model."""
        batch_size = batch_size or (4096 if self.static else 128)

        def embed(batch: list[str]) -> np.ndarray:
            return self._model.encode(  # type: ignore[attr-defined]
                batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)

        return encode_cached(texts, embed, self.dimension, batch_size=batch_size, progress=progress, cache=cache,
                             flush_every=CACHE_FLUSH_TEXTS)  # read here: tests lower it

    def encode_one(self, text: str) -> np.ndarray:
        """Embed a single query text (no cache: a query is cheap and rarely repeats).

        One short text gains nothing from several threads, and when other work holds the cores a
        multi-threaded forward pass waits on them (measured 25 ms on one thread vs 1 s on two).
        """
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self.encode([text])[0]
        finally:
            torch.set_num_threads(threads)


_LOADED: dict[str, Embedder] = {}


def load_encoder(spec: str | os.PathLike | None = None) -> Encoder:
    """Load a model once per process from a local folder (never from a hub): the multilingual tier as a
    `MultilingualEncoder`, any other as a sentence-transformers `Encoder`."""
    path = resolve_model(spec)
    key = str(path.resolve())
    if key in _LOADED:
        return _LOADED[key]  # type: ignore[return-value]
    if is_multilingual_path(path):
        from diffscan.encoder.multilingual import MULTILINGUAL_NAME, MultilingualEncoder

        encoder = MultilingualEncoder(f"{MULTILINGUAL_NAME}@{model_fingerprint(path)}", path)
        _LOADED[key] = encoder
        return encoder  # type: ignore[return-value]
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per weight file is noise in a CLI

        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as exc:  # sentence-transformers raises many kinds; the user needs one sentence
        raise ModelError(f"Could not load the model in '{path}': {exc}. Check the folder is a complete sentence-transformers model.") from exc
    dim = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)() or len(model.encode(["x"])[0])
    static = type(model[0]).__name__ == "StaticEmbedding"
    encoder = Encoder(model_id=model_id(path), path=path, dimension=int(dim), _model=model, static=static)
    _LOADED[key] = encoder
    return encoder


_QUERY: dict[str, Embedder] = {}


def load_query_encoder(spec: str | os.PathLike | None = None) -> Embedder:
    """The same model as `load_encoder(spec)` (same `model_id` and vectors to cosine >= 0.999), for query
    texts: in numpy for a BERT or static folder (`light.LightEncoder`), so a one-query process does not
    import torch and sentence-transformers (~7 s); any other folder falls back to `load_encoder`."""
    path = resolve_model(spec)
    key = str(path.resolve())
    if key not in _QUERY:
        light = None
        if not is_multilingual_path(path):  # the multilingual tier runs in numpy already
            from diffscan.encoder.light import load_light

            light = load_light(path)
        _QUERY[key] = light if light is not None else load_encoder(spec)
    return _QUERY[key]
