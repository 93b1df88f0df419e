"""Approximate nearest-neighbour search for large indexes: an HNSW graph from usearch.

Below `ann_threshold()` listings (50,000 by default) the semantic side stays an exact matrix-vector
product: it takes a few milliseconds and is always right. Above it an HNSW graph gives a candidate pool
in about a millisecond at any size; the competitors are then rescored with the exact float32 vectors,
so approximation can only change *which* listings make the pool, never their scores.

Why usearch (see docs/scale.md): one small wheel with no other dependencies, HNSW with int8/f16
quantized storage (4x smaller graphs, faster builds), multi-threaded adds that release the GIL (so the
graph grows in the background while the next chunk of a catalog is read), a documented file format that
loads without pickle, and `view` mode that memory-maps a saved graph instead of reading it into RAM.
"""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ANN_FILE = "ann.usearch"
DEFAULT_THRESHOLD = 50_000


def ann_threshold() -> int:
    """Listings above which an index gets an ANN graph: $DIFFSCAN_ANN_THRESHOLD, else 50,000."""
    value = os.environ.get("DIFFSCAN_ANN_THRESHOLD")
    return int(value) if value else DEFAULT_THRESHOLD


@dataclass(frozen=True)
class AnnParams:
    """HNSW settings, recorded in the manifest so a query uses what the build used.

    int8 storage keeps a million 256-d vectors in ~0.4 GB and builds faster than f16/f32 (on this data
    f16 found no more of the exact top-10: the graph, not the quantization, limits recall). The build
    beam `expansion_add` is the main cost of a large build: 40 keeps a million static vectors near two
    CPU minutes. The query beam `expansion_search` is cheap by comparison (2048: ~4-7 ms a query), and
    the pool it returns is re-ranked by exact cosine. See docs/scale.md for the measurements.
    """

    metric: str = "cos"
    dtype: str = "i8"
    connectivity: int = 16
    expansion_add: int = 40
    expansion_search: int = 2048

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AnnParams:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _new_index(ndim: int, params: AnnParams):
    from usearch.index import Index as UIndex

    return UIndex(ndim=ndim, metric=params.metric, dtype=params.dtype, connectivity=params.connectivity,
                  expansion_add=params.expansion_add, expansion_search=params.expansion_search)


class AnnBuilder:
    """Grows an HNSW graph chunk by chunk in a background thread; keys are row numbers.

    `add` returns at once; the graph is built while the caller reads and encodes the next chunk (usearch
    releases the GIL). `save` waits for all adds, then writes the file.
    """

    def __init__(self, ndim: int, params: AnnParams = AnnParams(), threads: int = 0) -> None:
        self.params = params
        self.threads = threads
        self._index = _new_index(ndim, params)
        self._worker: threading.Thread | None = None
        self._error: BaseException | None = None

    def _run(self, start: int, vectors: np.ndarray) -> None:
        try:
            keys = np.arange(start, start + len(vectors), dtype=np.uint64)
            self._index.add(keys, np.ascontiguousarray(vectors, dtype=np.float32), threads=self.threads)
        except BaseException as exc:  # surfaced by the next add() or save()
            self._error = exc

    def wait(self) -> None:
        """Block until the pending add is done; re-raise its error."""
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        if self._error is not None:
            raise self._error

    def add(self, start: int, vectors: np.ndarray, *, background: bool = True) -> None:
        """Add rows start..start+len(vectors); one add runs at a time, in order."""
        self.wait()
        if background:
            self._worker = threading.Thread(target=self._run, args=(start, np.array(vectors, np.float32)),
                                            daemon=True)
            self._worker.start()
        else:
            self._run(start, vectors)
            self.wait()

    def __len__(self) -> int:
        self.wait()
        return len(self._index)

    def save(self, path: str | os.PathLike) -> None:
        """Wait for pending adds and write the graph file."""
        self.wait()
        self._index.save(str(path))


class AnnIndex:
    """A saved graph, memory-mapped (view) so opening a large index costs no RAM up front."""

    def __init__(self, path: str | os.PathLike, params: AnnParams, *, view: bool = True) -> None:
        from usearch.index import Index as UIndex

        self.path = Path(path)
        self.params = params
        self._index = UIndex.restore(str(path), view=view)
        if self._index is None:
            raise ValueError(f"{path} is not a usearch index file")
        self._index.expansion_search = params.expansion_search
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._index)

    def search(self, vector: np.ndarray, count: int) -> np.ndarray:
        """Row numbers of about the `count` nearest rows (cosine), nearest first."""
        count = min(count, len(self._index))
        if count <= 0:
            return np.empty(0, dtype=np.int64)
        with self._lock:  # expansion_search is index-wide state
            self._index.expansion_search = max(self.params.expansion_search, count)
            matches = self._index.search(np.asarray(vector, dtype=np.float32), count, threads=1)
        return np.asarray(matches.keys, dtype=np.int64)


def recall_at_k(ann: AnnIndex, vectors: np.ndarray, queries: np.ndarray, k: int = 10, pool: int | None = None) -> float:
    """Share of the exact top-k (ties included) found: the benchmark's ANN recall@k.

    With `pool`, the graph's `pool` nearest are re-ranked by exact cosine first, as competitor search
    does (its pool is 2 x max(50, 5k)); without, the graph's own top-k (int8 distances) counts.
    """
    hits = 0
    for q in queries:
        scores = np.asarray(vectors @ q, dtype=np.float32)
        kth = np.partition(-scores, k - 1)[k - 1]
        found = ann.search(q, max(k, pool or k))
        found = found[np.argsort(-scores[found], kind="stable")[:k]] if pool else found[:k]
        hits += int(np.sum(-scores[found] <= kth + 1e-6))
    return hits / (k * len(queries))
