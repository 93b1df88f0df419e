"""The on-disk embedding cache: vectors keyed by (model, text) in plain .npy shards."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def default_cache_dir() -> Path:
    """Where embeddings are cached: $DIFFSCAN_CACHE, else ~/.cache/diffscan."""
    return Path(os.environ.get("DIFFSCAN_CACHE") or Path.home() / ".cache" / "diffscan")


def text_key(text: str) -> bytes:
    """Cache key of a text: the first 16 bytes of its SHA-1."""
    return hashlib.sha1(text.encode("utf-8")).digest()[:16]


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
                # numpy's S16 drops a key's trailing zero bytes when read back (1 key in 256): pad them again.
                for row, k in enumerate(keys.tolist()):
                    self._index[k.ljust(16, b"\0")] = (shard_no, row)
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


# Fresh vectors go to the cache every this many texts, so a killed build keeps its embedding work
# (about half a minute of MiniLM on 2 cores; larger shards would lose more, smaller ones slow lookups).
CACHE_FLUSH_TEXTS = 4096


def encode_cached(
    texts: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
    dimension: int,
    *,
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
    cache: EmbeddingCache | None = None,
    flush_every: int = CACHE_FLUSH_TEXTS,
) -> np.ndarray:
    """`embed` over the texts the cache does not hold, `batch_size` at a time, fresh vectors written to
    the cache every `flush_every` texts: the one cache discipline of every local model."""
    out = np.zeros((len(texts), dimension), dtype=np.float32)
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

    def flush() -> None:
        if cache is not None and fresh_vecs:
            cache.put(fresh_keys, np.vstack(fresh_vecs))
            fresh_keys.clear()
            fresh_vecs.clear()

    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        vecs = embed([texts[i] for i in batch])
        out[batch] = vecs
        if cache is not None:
            fresh_keys.extend(keys[i] for i in batch)
            fresh_vecs.append(vecs)
            if len(fresh_keys) >= flush_every:
                flush()
        done += len(batch)
        if progress:
            progress(done, len(texts))
    flush()
    return out
