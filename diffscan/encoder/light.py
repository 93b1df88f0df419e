"""Query encoders in numpy: a BERT model (the bundled MiniLM) or a static model, without torch.

A fresh `diffscan competitors TEXT` process spent ~7 s importing torch, transformers and
sentence-transformers to embed one text. These encoders read the same sentence-transformers folder
(tokenizer.json through `tokenizers`, the safetensors weights memory-mapped) and run the same forward
pass in numpy: cosine >= 0.999 to sentence-transformers' vectors (tests/encoder/test_light.py), the
same `model_id`, so an index accepts them. Builds keep sentence-transformers: torch is faster on
large batches. `load_light` returns None for a folder these do not run (another architecture, prompts,
extra modules): the caller then falls back to sentence-transformers rather than guess.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffscan.encoder.cache import CACHE_FLUSH_TEXTS, EmbeddingCache, encode_cached
from diffscan.encoder.models import model_id

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LightParams:
    """How the numpy encoders batch (speed and memory only: any setting gives the same vectors).

    Parameters
    ----------
    batch_size: texts per cached batch (`encode_cached` sorts texts by length, so batches pad little).
    token_budget: padded tokens per BERT forward pass; its attention scores take 4 bytes x heads x
        tokens x sequence length: 50 MB for 4096 tokens of MiniLM's longest texts (256).
    threads: BLAS threads while encoding; None leaves OpenBLAS's default (every core). One, because
        a text's many small products gain little from more, and when other work holds the cores
        OpenBLAS's threads wait on each other (measured on 2 busy cores: one query 8 ms vs 60 ms, a
        batch's attention products 20 ms vs 850 ms).
    """

    batch_size: int = 64
    token_budget: int = 4096
    threads: int | None = 1


LIGHT = LightParams()

# Module types (last dotted name in modules.json) each model kind is made of; Normalize is optional
# because `encode` always L2-normalizes, as the sentence-transformers `Encoder` does.
_BERT_MODULES = ("Transformer", "Pooling")
_STATIC_MODULES = ("StaticEmbedding",)
_POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max"}


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


_DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file as read-only views of one memory map (the format: an 8-byte
    header length, a JSON header of dtype, shape and byte offsets, then the data). `safetensors.numpy`
    copies all 90 MB of MiniLM (~70 ms); a query reads only its tokens' rows of the word embeddings.
    Raises ValueError for a dtype other than float32 or int64, which sentence-transformers would run
    differently."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        if spec["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} is {spec['dtype']}, not float32")
        start, end = spec["data_offsets"]
        tensors[name] = data[start:end].view(np.ndarray).view(_DTYPES[spec["dtype"]]).reshape(spec["shape"])
    return tensors


def _modules(folder: Path) -> list[tuple[str, Path]] | None:
    """(type name, folder) of each module, Normalize dropped; None when the folder has prompts, which
    sentence-transformers would prepend (not done here)."""
    if _read_json(folder / "config_sentence_transformers.json").get("default_prompt_name"):
        return None
    listed = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    found = [(m["type"].rsplit(".", 1)[-1], folder / m.get("path", "")) for m in listed]
    return [m for m in found if m[0] != "Normalize"]


# Numerical Recipes' erfc Chebyshev fit (erfcc), highest power of t first: erf to within 1.2e-7.
_ERFC_FIT = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196,
             1.00002368, -1.26551223)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf in float64, in place where it can: numpy has none and scipy.special costs 0.6 s to import."""
    z = np.abs(x, dtype=np.float64)
    t = 0.5 * z
    t += 1.0
    np.reciprocal(t, out=t)
    p = np.full_like(z, _ERFC_FIT[0])
    for c in _ERFC_FIT[1:]:
        p *= t
        p += c
    z *= z
    p -= z
    np.exp(p, out=p)
    p *= t
    np.subtract(1.0, p, out=p)
    return np.copysign(p, x, out=p)


def _gelu(x: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), in cache-sized blocks (3x faster than over the whole array)."""
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    for s in range(0, flat.size, block):
        v = flat[s:s + block]
        out[s:s + block] = 0.5 * v * (1.0 + _erf(v / math.sqrt(2.0)))
    return out.reshape(x.shape)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = np.square(x - mean).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _normalize(x: np.ndarray) -> np.ndarray:
    """Rows L2-normalized as torch's F.normalize does (a zero row stays zero)."""
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class _Bert:
    """A BERT encoder (absolute positions, GELU) with mean, CLS or max pooling."""

    def __init__(self, folder: Path, pooling: str, params: LightParams) -> None:
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.pooling, self.params = pooling, params
        self.w = read_safetensors(folder / "model.safetensors")
        self.dimension = int(self.w["embeddings.word_embeddings.weight"].shape[1])
        sbert = _read_json(folder / "sentence_bert_config.json")
        limit = sbert.get("max_seq_length") or _read_json(folder / "tokenizer_config.json").get("model_max_length", 512)
        self.max_length = int(min(limit, config.get("max_position_embeddings", 512)))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json may carry the settings it was saved with (MiniLM's: pad and cut at 128);
        # sentence-transformers cuts at max_seq_length and pads a batch to its longest text.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_length)

    def embed(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        start = 0
        while start < len(encodings):  # as many texts per pass as fit the token budget once padded
            end, longest = start + 1, len(encodings[start].ids)
            while end < len(encodings) and (end + 1 - start) * max(longest, len(encodings[end].ids)) <= self.params.token_budget:
                longest = max(longest, len(encodings[end].ids))
                end += 1
            out[start:end] = self._forward(encodings[start:end])
            start = end
        return _normalize(out)

    def _forward(self, encodings) -> np.ndarray:
        w, n, length, dim = self.w, len(encodings), max(len(e.ids) for e in encodings), self.dimension
        ids = np.zeros((n, length), dtype=np.int64)
        types = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)], types[row, :len(e.ids)], mask[row, :len(e.ids)] = e.ids, e.type_ids, 1.0
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][types]).reshape(n * length, dim)
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        # Padding gets the lowest float as transformers adds it, so its softmax weight is exactly 0.
        bias = (1.0 - mask)[:, None, None, :] * np.finfo(np.float32).min
        head = dim // self.heads

        def dense(h: np.ndarray, name: str) -> np.ndarray:  # on 2-d rows: numpy's 3-d matmul is 2x slower
            return h @ w[f"{name}.weight"].T + w[f"{name}.bias"]

        def split(h: np.ndarray) -> np.ndarray:  # (n * length, dim) -> (n, heads, length, head), contiguous
            return np.ascontiguousarray(h.reshape(n, length, self.heads, head).transpose(0, 2, 1, 3))

        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (split(dense(x, f"{p}.attention.self.{name}")) for name in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= np.float32(1.0 / math.sqrt(head))
            scores += bias
            scores -= scores.max(-1, keepdims=True)  # softmax in place: the scores are the big array
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = scores @ v
            context = context.transpose(0, 2, 1, 3).reshape(n * length, dim)
            x = _layer_norm(dense(context, f"{p}.attention.output.dense") + x,
                            w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"], self.eps)
            h = _gelu(dense(x, f"{p}.intermediate.dense"))
            x = _layer_norm(dense(h, f"{p}.output.dense") + x,
                            w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], self.eps)
        x = x.reshape(n, length, dim)
        if self.pooling == "cls":
            return x[:, 0]
        if self.pooling == "max":
            return np.where(mask[:, :, None] > 0, x, -1e9).max(axis=1)
        return (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)


class _Static:
    """A static model: a text is the mean of its tokens' vectors (no special tokens, as
    sentence-transformers' StaticEmbedding tokenizes); a text without tokens is the zero vector."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.weights = read_safetensors(folder / "model.safetensors")["embedding.weight"]
        self.dimension = int(self.weights.shape[1])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # StaticEmbedding keeps the file's truncation, and so does this

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, e in enumerate(self.tokenizer.encode_batch(list(texts), add_special_tokens=False)):
            if e.ids:
                out[row] = self.weights[e.ids].mean(axis=0)
        return _normalize(out)


def _model(folder: Path, params: LightParams) -> _Bert | _Static | None:
    """The numpy model of a sentence-transformers folder, or None when it is not one of the two kinds."""
    modules = _modules(folder)
    if modules is None:
        return None
    kinds = tuple(kind for kind, _ in modules)
    if kinds == _STATIC_MODULES:
        return _Static(modules[0][1]) if (modules[0][1] / "model.safetensors").is_file() else None
    if kinds != _BERT_MODULES:
        return None
    (_, body), (_, pool) = modules
    config = _read_json(body / "config.json")
    pooling = _read_json(pool / "config.json")
    modes = [mode for key, mode in _POOLING_MODES.items() if pooling.get(key)]
    others = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v and k not in _POOLING_MODES]
    if (config.get("model_type") != "bert" or config.get("hidden_act") != "gelu"
            or config.get("position_embedding_type", "absolute") != "absolute" or len(modes) != 1 or others
            or _read_json(body / "sentence_bert_config.json").get("do_lower_case")
            or not (body / "model.safetensors").is_file() or not (body / "tokenizer.json").is_file()):
        return None
    return _Bert(body, modes[0], params)


@dataclass
class LightEncoder:
    """The query side of a model in numpy: the interface of `local.Encoder` (`model_id`, `dimension`,
    `caches`, `encode`, `encode_one`) without torch."""

    model_id: str
    path: Path
    dimension: int
    _model: _Bert | _Static
    static: bool = False
    params: LightParams = LIGHT

    @property
    def caches(self) -> bool:
        """As for `local.Encoder`: re-encoding a static model is faster than reading the cache."""
        return not self.static

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, progress: Progress | None = None,
               cache: EmbeddingCache | None = None) -> np.ndarray:
        """L2-normalized float32 rows, cached vectors re-used; only unseen texts reach the model."""
        return encode_cached(texts, self._embed, self.dimension, batch_size=batch_size or self.params.batch_size,
                             progress=progress, cache=cache, flush_every=CACHE_FLUSH_TEXTS)

    def encode_one(self, text: str) -> np.ndarray:
        """Embed a single query text (no cache: a query is cheap and rarely repeats)."""
        return self._embed([text])[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self.params.threads is None or self.static:  # a static model makes no matrix products
            return self._model.embed(texts)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(self.params.threads, user_api="blas"):
            return self._model.embed(texts)


def load_light(folder: Path, params: LightParams = LIGHT) -> LightEncoder | None:
    """A `LightEncoder` for a sentence-transformers folder of a BERT or static model, else None (the
    caller falls back to sentence-transformers, which also reports a broken folder in its words)."""
    folder = Path(folder)
    try:
        model = _model(folder, params)
    except Exception:  # noqa: BLE001 - unreadable files (tokenizers and safetensors raise their own kinds)
        return None
    if model is None:
        return None
    return LightEncoder(model_id=model_id(folder), path=folder, dimension=model.dimension, _model=model,
                        static=isinstance(model, _Static), params=params)
