"""Embedding on a Ray cluster: `diffscan build CATALOG --engine ray [--address ray://head:10001]`.

Only the expensive, embarrassingly parallel step leaves the machine: the transformer forward passes.
The driver still reads the catalog in chunks, looks texts up in its embedding cache, and writes the
index with the same IndexWriter (so the folder is identical in format to a local build). Each chunk's
uncached texts become a Ray Dataset whose batches go to a pool of actors, each holding the model once
(`map_batches` with a callable class: Ray Data's batch-inference pattern).

Why Ray Data rather than Spark: it is Python all the way (no JVM, no pandas-UDF serialization), an
optional pip extra (`pip install -e '.[distributed]'`), runs as a local single-node cluster with no
setup (tests, a laptop) and attaches to a real cluster by address with the same code, and streams
batches to long-lived model-holding actors. Workers load the model from the path the driver resolved:
the bundled MiniLM lives in the installed package (same path on identically provisioned nodes); a
static or local model folder must be on a shared filesystem or at the same path on every node.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from diffscan.errors import DiffscanError

DEFAULT_BATCH = 256


class _EmbedBatch:
    """A Ray Data actor: loads the model once, embeds batches of texts."""

    def __init__(self, path: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(path, device="cpu", local_files_only=True)

    def __call__(self, batch: dict) -> dict:
        vectors = self.model.encode(list(batch["text"]), normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False).astype(np.float32)
        return {"i": batch["i"], "vector": vectors}


class RayEmbedder:
    """An `Embedder` whose forward passes run on a Ray Data actor pool; L2-normalized float32 rows.

    Parameters: `model` is a diffscan model spec; `address` a Ray cluster address (default: $RAY_ADDRESS,
    else a local single-node cluster started here); `workers` the number of model actors (default: the
    cluster's CPUs, at most 8); `batch_size` texts per batch.
    """

    def __init__(self, model: str | None = None, *, address: str | None = None, workers: int | None = None,
                 batch_size: int = DEFAULT_BATCH, num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise DiffscanError(
                "The Ray engine needs Ray: install the optional extra with `pip install -e '.[distributed]'` "
                "(or `pip install 'ray[data]'`).", parameter="engine"
            ) from exc
        from diffscan.encoder.local import load_encoder

        local = load_encoder(model)  # its identity and path; the actors load the same folder
        if not hasattr(local, "_model"):  # the multilingual tier is no sentence-transformers folder
            from diffscan.errors import ModelError

            raise ModelError(f"The Ray engine runs sentence-transformers models only, not '{model}': build with "
                             "the local engine (the multilingual tier encodes ~400 titles/s on 2 cores).",
                             parameter="engine")
        self.model_id, self.dimension, self.path = local.model_id, local.dimension, str(local.path)
        self.caches = local.caches
        self.batch_size = batch_size
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS")
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True)
        self.workers = workers or max(1, min(8, int(ray.cluster_resources().get("CPU", 1))))
        self.embedded = 0

    def encode(self, texts: Sequence[str], *, progress=None, cache=None) -> np.ndarray:
        """Vectors for `texts` in order: cache hits on the driver, the rest on the cluster; fresh vectors
        reach the cache batch by batch, so a killed build keeps them."""
        import ray

        from diffscan.encoder.cache import text_key
        from diffscan.encoder.local import CACHE_FLUSH_TEXTS

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        keys = [text_key(t) for t in texts] if cache is not None else []
        hits = cache.get(keys) if cache is not None else {}
        todo = [i for i in range(len(texts)) if not hits or keys[i] not in hits]
        for i, k in enumerate(keys):
            if k in hits:
                out[i] = hits[k]
        done = len(texts) - len(todo)
        if progress:
            progress(done, len(texts))
        if todo:
            items = [{"i": i, "text": texts[i]} for i in todo]
            ds = ray.data.from_items(items).map_batches(
                _EmbedBatch, fn_constructor_kwargs={"path": self.path}, batch_size=self.batch_size,
                concurrency=min(self.workers, max(1, len(todo) // self.batch_size)), batch_format="numpy",
            )
            pending: list[int] = []
            for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
                rows = np.asarray(batch["i"], dtype=np.int64)
                out[rows] = np.asarray(batch["vector"], dtype=np.float32)
                pending.extend(rows.tolist())
                done += len(rows)
                if cache is not None and len(pending) >= CACHE_FLUSH_TEXTS:
                    cache.put([keys[i] for i in pending], out[pending])
                    pending = []
                if progress:
                    progress(done, len(texts))
            if cache is not None and pending:
                cache.put([keys[i] for i in pending], out[pending])
            self.embedded += len(todo)
        return out
