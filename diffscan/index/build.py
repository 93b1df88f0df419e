"""The build pipeline: catalog chunks -> embedder -> lexical rows -> the index writer."""

from __future__ import annotations

import datetime as _dt
import itertools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from diffscan.catalog.limits import LOAD_LIMITS, LoadLimits
from diffscan.core.lexical import (
    LEXICAL_VERSION,
    log_tf,
    term_counts,
)
from diffscan.errors import ModelError
from diffscan.index.store import (
    DEFAULT_INDEX_DIR,
    SCHEMA_VERSION,
    listing_texts,
    load_index,
)
from diffscan.index.results import carry_over
from diffscan.index.swap import BuildLock, check_out
from diffscan.index.writer import IndexWriter
from diffscan.version import __version__

if TYPE_CHECKING:
    from diffscan.encoder.local import Embedder

StageProgress = Callable[[str, int, int], None]


def _listing_chunks(catalog, mapping, stream: bool | None, chunk_rows: int | None, limits):
    """(chunks, report getter, listing count or None): streamed for large CSV/TSV/JSONL/Parquet files,
    else loaded whole."""
    from diffscan.catalog.chunks import (
        DEFAULT_CHUNK_ROWS,
        STREAM_MIN_BYTES,
        can_stream,
        iter_catalog,
    )
    from diffscan.catalog.table import load_catalog

    path = Path(catalog)
    if stream is None:
        stream = path.is_file() and path.stat().st_size >= STREAM_MIN_BYTES and can_stream(path)
    if stream:
        chunks = iter_catalog(path, mapping, chunk_rows=chunk_rows or DEFAULT_CHUNK_ROWS, limits=limits)
        return chunks, lambda: chunks.report, None
    result = load_catalog(path, mapping, limits=limits)
    listings = result.listings
    step = chunk_rows or max(len(listings), 1)
    parts: Iterable[pd.DataFrame] = (listings.iloc[s : s + step].reset_index(drop=True)
                                     for s in range(0, len(listings), step))
    return parts, lambda: result.report, len(listings)


def _peeked(chunks: Iterable[pd.DataFrame]) -> tuple[pd.DataFrame | None, Iterable[pd.DataFrame]]:
    """The first chunk and the same chunks, the first one read now: a catalog without a title column or
    usable rows fails before the model spends 10-50 s loading, and the model can be chosen from it."""
    chunks = iter(chunks)
    first = next(chunks, None)
    return first, (chunks if first is None else itertools.chain([first], chunks))


def build_index(
    catalog: str | os.PathLike,
    out: str | os.PathLike = DEFAULT_INDEX_DIR,
    *,
    model: str | None = None,
    mapping: dict[str, str] | None = None,
    description_chars: int = 300,
    progress: StageProgress | None = None,
    cache_dir: Path | None = None,
    update: bool = False,
    stream: bool | None = None,
    chunk_rows: int | None = None,
    ann: bool | None = None,
    embedder: Callable[[str | None], Embedder] | None = None,
    limits: LoadLimits = LOAD_LIMITS,
):
    """Load a catalog, embed and vectorize its listings, and write the index folder atomically.

    Returns (Index, LoadReport, stats): stats counts embedded vs cached texts, and for `update` also
    the listings added, changed, unchanged (vectors re-used) and deleted.

    Parameters beyond the basics:
    model: a model spec (`encoder.models.resolve_model`); None lets the first chunk's titles choose
        (`encoder.models.choose_model`: the multilingual tier when most are Chinese, Japanese or Korean,
        else MiniLM; stats["model_note"] then says why). An update keeps the index's model.
    update: re-use the existing index at `out` (same model, text settings and, unless `mapping` is
        given, column mapping); only new or edited listings are embedded.
    stream: read the catalog in chunks (None: for CSV/TSV/JSONL/Parquet files of 64 MB or more);
        `chunk_rows` listings at a time (default 50,000). Results equal a whole-file build.
    ann: force (True) or forbid (False) the ANN graph; None builds it above `ann_threshold()` listings.
    embedder: opens the embedder for a model spec (default `encoder.local.load_encoder`; e.g.
        `functools.partial(encoder.ray.RayEmbedder, address=...)` to embed on a Ray cluster). A
        factory, not an instance, because an update takes its model from the existing index.
    limits: what the catalog file may hold (`catalog.LoadLimits`: bytes, rows, columns, cell size...).

    `out` is checked, and the catalog read up to its first chunk, before the model loads; a second
    build of the same `out` stops with a message while the first runs (see `index.swap`).
    """
    out = Path(out)
    with BuildLock(out):
        check_out(out)
        return _build(catalog, out, model=model, mapping=mapping, description_chars=description_chars,
                      progress=progress, cache_dir=cache_dir, update=update, stream=stream,
                      chunk_rows=chunk_rows, ann=ann, embedder=embedder, limits=limits)


def _build(catalog, out: Path, *, model, mapping, description_chars, progress, cache_dir, update, stream,
           chunk_rows, ann, embedder, limits):
    from diffscan.encoder.cache import EmbeddingCache, text_key

    if embedder is None:
        from diffscan.encoder.local import load_encoder as embedder
    previous = None
    if update:
        previous = load_index(out)
        description_chars = previous.manifest.get("text", {}).get("description_chars", description_chars)
        if mapping is None:
            mapping = {f: c for f, c in previous.manifest.get("column_mapping", {}).items() if c}
    chunks, report_of, total = _listing_chunks(catalog, mapping, stream, chunk_rows, limits)
    first, chunks = _peeked(chunks)
    model_note = None
    if previous is None and model is None and first is not None:
        from diffscan.encoder.models import choose_model

        model, model_note = choose_model(first["title"].tolist())
    if previous is not None:
        if model is not None and embedder(model).model_id != previous.model_id:
            raise ModelError(
                f"An update keeps the index's model ({previous.model_id}); to change model rebuild "
                f"'{out}' from scratch.", parameter="model"
            )
        model = previous.manifest["model"]["spec"]
    encoder = embedder(model)
    cache = EmbeddingCache(encoder.model_id, cache_dir) if encoder.caches else None
    reuse = None
    if previous is not None:
        from diffscan.index.update import Reuse

        reuse = Reuse(previous)
    # An index written with other lexical features: kept rows are vectorized again from their text.
    relex = previous is not None and previous.manifest["text"].get("lexical") != LEXICAL_VERSION
    embedded = cached = 0
    with IndexWriter(out, dimension=encoder.dimension, ann=ann) as writer:
        for listings in chunks:
            texts = listing_texts(listings, description_chars)
            rows = reuse.match(listings["listing_id"].tolist(), texts) if reuse else np.full(len(texts), -1)
            fresh = np.flatnonzero(rows < 0)
            kept = np.flatnonzero(rows >= 0)
            fresh_texts = [texts[i] for i in fresh]
            if cache is not None and fresh_texts:
                keys = [text_key(t) for t in fresh_texts]
                found = cache.get(keys)
                hits = sum(k in found for k in keys)  # repeated texts count once per listing
            else:
                hits = 0
            cached += hits
            embedded += len(fresh_texts) - hits
            base = writer.n

            def report_embed(done: int, todo: int, base=base, size=len(texts)) -> None:
                if progress and total is not None:
                    progress("embed", base + done + (size - todo), total)

            vectors = np.empty((len(texts), encoder.dimension), dtype=np.float32)
            if len(fresh):
                vectors[fresh] = encoder.encode(fresh_texts, progress=report_embed if progress else None,
                                                cache=cache)
            parts = [log_tf(term_counts(fresh_texts))] if len(fresh) else []
            if len(kept):
                vectors[kept] = reuse.vectors(rows[kept])
                parts.append(log_tf(term_counts([texts[i] for i in kept])) if relex else reuse.lexical(rows[kept]))
            tf = sp.vstack(parts).tocsr() if len(parts) > 1 else parts[0]
            if len(parts) > 1:  # back into catalog order
                tf = tf[np.argsort(np.concatenate([fresh, kept]))]
            writer.add(listings, vectors, tf)
            if progress:
                progress("embed", writer.n, total)  # total None (unknown) while a file streams
        report = report_of()
        if progress:
            progress("write", 0, 1)
        source = Path(catalog)
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "diffscan_version": __version__,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "source": {"path": str(source.resolve()), "name": source.name, "format": report.format},
            "model": {"id": encoder.model_id, "spec": str(model or "minilm"), "dimension": encoder.dimension},
            "text": {"description_chars": description_chars, "lexical": LEXICAL_VERSION},
            "counts": {"listings": writer.n, "rows_read": report.rows_read,
                       "rows_skipped": len(report.skipped), "warnings": report.warning_count},
            "column_mapping": report.column_mapping,
        }
        if reuse is not None:
            manifest["update"] = {"previous_created_at": previous.manifest.get("created_at"),
                                  **reuse.finish().as_dict()}
            # The previous landscapes come along: the next analysis recomputes only changed categories.
            if carried := carry_over(previous, writer.tmp):
                manifest["analyses"] = carried
        index = writer.finish(manifest)
        if progress:
            progress("write", 1, 1)
    stats = {"embedded": embedded, "cached": cached}
    if model_note:
        stats["model_note"] = model_note
    if reuse is not None:
        stats.update(reuse.counts.as_dict())
    return index, report, stats
