"""The one on-disk artifact: a folder with a manifest, the listings, the vectors and the lexical matrix.

Everything downstream reads an index; nothing downstream re-reads the catalog file.

Small indexes (up to `ann_threshold()` listings, 50,000 by default) are searched exactly and loaded into
memory. Large ones also hold an HNSW graph (ann.usearch) and the lexical postings (postings.npz), and
their big arrays are memory-mapped, so opening a million-listing index costs little RAM; the manifest's
`search` entry says which kind an index is. Builds stream: see `build_index`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from diffscan import __version__
from diffscan.errors import DiffscanError, IndexFormatError, ModelError
from diffscan.lexical import lexical_candidates, lexical_query, load_csr, log_tf, row_dots, term_counts
from diffscan.text import listing_text
from diffscan.writer import CORE_FILES, MANIFEST, POSTINGS_FILE, IndexWriter, sha256

SCHEMA_VERSION = 1
FILES = CORE_FILES
DEFAULT_INDEX_DIR = Path(".diffscan") / "index"

StageProgress = Callable[[str, int, int], None]


@dataclass
class Index:
    """A loaded index. `vectors` rows and `lexical` rows align with `listings` rows.

    `ann` (an HNSW graph) and `postings` (the lexical matrix transposed) are set for large indexes;
    `semantic_candidates` and `lexical_candidates` use them when present and search exactly otherwise.
    """

    path: Path
    manifest: dict
    listings: pd.DataFrame
    vectors: np.ndarray
    lexical: sp.csr_matrix
    idf: np.ndarray
    _lexical_t: sp.csr_matrix | None = field(default=None, repr=False)
    _row_of: dict[str, int] | None = field(default=None, repr=False)
    ann: object | None = field(default=None, repr=False)
    postings: sp.csr_matrix | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.listings)

    @property
    def model_id(self) -> str:
        return self.manifest["model"]["id"]

    @property
    def lexical_t(self) -> sp.csr_matrix:
        """Transposed lexical matrix: a query row times it is the fastest sparse product."""
        if self.postings is not None:
            return self.postings
        if self._lexical_t is None:
            self._lexical_t = self.lexical.T.tocsr()
        return self._lexical_t

    def row_of(self, listing_id: str) -> int | None:
        """Row number of a listing id, or None."""
        if self._row_of is None:
            self._row_of = {lid: i for i, lid in enumerate(self.listings["listing_id"].tolist())}
        return self._row_of.get(str(listing_id))

    def texts(self) -> list[str]:
        """The text of each listing as it was embedded."""
        return listing_texts(self.listings, self.manifest.get("text", {}).get("description_chars", 300))

    def query_lexical(self, text: str) -> sp.csr_matrix:
        """A query text in this index's lexical space."""
        return lexical_query(text, self.idf)

    def semantic_candidates(self, vector: np.ndarray, pool: int, blocked: np.ndarray | None = None) -> np.ndarray:
        """About the `pool` rows with the highest cosine to `vector`, never a blocked row.

        Exact below the ANN threshold; above it the graph's 2*pool nearest, re-ranked by exact cosine.
        Heavily filtered queries (the graph's neighbours mostly blocked) fall back to an exact scan.
        """
        vector = np.asarray(vector, dtype=np.float32)
        if self.ann is not None:
            found = self.ann.search(vector, 2 * pool)
            if blocked is not None:
                found = found[~blocked[found]]
            if len(found) >= min(pool, len(self) - (0 if blocked is None else int(blocked.sum()))):
                rows = np.sort(found)  # memory-mapped vectors read in row order
                return top_rows(np.asarray(self.vectors[rows] @ vector), pool, rows)
        scores = np.asarray(self.vectors @ vector, dtype=np.float32)
        if blocked is not None:
            scores[blocked] = -np.inf
        return top_rows(scores, pool)

    def lexical_candidates(self, query: sp.csr_matrix, pool: int, blocked: np.ndarray | None = None) -> np.ndarray:
        """About the `pool` rows with the highest lexical cosine to `query`, never a blocked row.

        Exact (one sparse product) below the ANN threshold; above it the postings of the query's
        rarest n-grams give 2*pool candidates, re-ranked by exact cosine.
        """
        if self.postings is None:
            scores = np.asarray((query @ self.lexical_t).todense(), dtype=np.float32).ravel()
            if blocked is not None:
                scores[blocked] = -np.inf
            return top_rows(scores, pool)
        found = np.sort(lexical_candidates(query, self.postings, 2 * pool, blocked))
        if not len(found):
            return found
        exact = row_dots(self.lexical, found, query)
        return top_rows(exact, pool, found)

    def encoder(self, model: str | None = None):
        """The model the index was built with; a different `model` is refused (vectors would not compare)."""
        from diffscan.encoder import load_encoder

        spec = model if model is not None else self.manifest["model"]["spec"]
        encoder = load_encoder(spec)
        if encoder.model_id != self.model_id or encoder.dimension != self.vectors.shape[1]:
            raise ModelError(
                f"The index at '{self.path}' was built with model {self.model_id} ({self.vectors.shape[1]}-d) "
                f"but the query model is {encoder.model_id} ({encoder.dimension}-d): query without --model, "
                f"or rebuild the index with --model {spec}."
            )
        return encoder


def top_rows(scores: np.ndarray, n: int, rows: np.ndarray | None = None) -> np.ndarray:
    """The rows (default: positions) of the n largest finite scores, unordered; `rows` align with `scores`."""
    n = min(n, len(scores))
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    idx = np.argpartition(-scores, n - 1)[:n]
    idx = idx[np.isfinite(scores[idx])]
    return idx if rows is None else rows[idx]


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


def _listing_chunks(catalog, mapping, stream: bool | None, chunk_rows: int | None):
    """(chunks, report getter, listing count or None): streamed for large CSV/TSV/JSONL/Parquet files,
    else loaded whole."""
    from diffscan.catalog import load_catalog
    from diffscan.streaming import DEFAULT_CHUNK_ROWS, STREAM_MIN_BYTES, can_stream, iter_catalog

    path = Path(catalog)
    if stream is None:
        stream = path.is_file() and path.stat().st_size >= STREAM_MIN_BYTES and can_stream(path)
    if stream:
        chunks = iter_catalog(path, mapping, chunk_rows=chunk_rows or DEFAULT_CHUNK_ROWS)
        return chunks, lambda: chunks.report, None
    result = load_catalog(path, mapping)
    listings = result.listings
    step = chunk_rows or max(len(listings), 1)
    parts: Iterable[pd.DataFrame] = (listings.iloc[s : s + step].reset_index(drop=True)
                                     for s in range(0, len(listings), step))
    return parts, lambda: result.report, len(listings)


def listing_texts(listings: pd.DataFrame, description_chars: int) -> list[str]:
    """What gets embedded for each listing of a canonical table."""
    return [listing_text(t, b, d, description_chars)
            for t, b, d in zip(listings["title"], listings["brand"], listings["description"])]


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
    engine: str = "local",
    engine_options: dict | None = None,
):
    """Load a catalog, embed and vectorize its listings, and write the index folder atomically.

    Returns (Index, LoadReport, stats): stats counts embedded vs cached texts, and for `update` also
    the listings added, changed, unchanged (vectors re-used) and deleted.

    Parameters beyond the basics:
    update: re-use the existing index at `out` (same model, text settings and, unless `mapping` is
        given, column mapping); only new or edited listings are embedded.
    stream: read the catalog in chunks (None: for CSV/TSV/JSONL/Parquet files of 64 MB or more);
        `chunk_rows` listings at a time (default 50,000). Results equal a whole-file build.
    ann: force (True) or forbid (False) the ANN graph; None builds it above `ann_threshold()` listings.
    engine: "local", or "ray" to embed on a Ray cluster (`engine_options`, e.g. {"address": ...}).
    """
    from diffscan.encoder import EmbeddingCache, load_encoder, text_key

    if engine not in ("local", "ray"):
        raise DiffscanError(f"Unknown engine '{engine}': use local or ray.")
    previous = None
    if update:
        previous = load_index(out)
        description_chars = previous.manifest.get("text", {}).get("description_chars", description_chars)
        if mapping is None:
            mapping = {f: c for f, c in previous.manifest.get("column_mapping", {}).items() if c}
        spec = previous.manifest["model"]["spec"]
        if model is not None and load_encoder(model).model_id != previous.model_id:
            raise ModelError(
                f"--update keeps the index's model ({previous.model_id}); to change model rebuild "
                f"'{out}' without --update."
            )
        model = spec
    encoder = load_encoder(model)
    cache = EmbeddingCache(encoder.model_id, cache_dir) if encoder.caches else None
    if engine == "ray":
        from diffscan.distributed import RayEmbedder

        embed = RayEmbedder(model, cache_dir=cache_dir, **(engine_options or {}))
    else:
        embed = None
    reuse = None
    if previous is not None:
        from diffscan.update import Reuse

        reuse = Reuse(previous)
    chunks, report_of, total = _listing_chunks(catalog, mapping, stream, chunk_rows)
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
                if embed is not None:
                    vectors[fresh] = embed(fresh_texts)
                else:
                    vectors[fresh] = encoder.encode(fresh_texts, progress=report_embed if progress else None,
                                                    cache=cache)
            parts = [log_tf(term_counts(fresh_texts))] if len(fresh) else []
            if len(kept):
                vectors[kept] = reuse.vectors(rows[kept])
                parts.append(reuse.lexical(rows[kept]))
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
            "text": {"description_chars": description_chars},
            "counts": {"listings": writer.n, "rows_read": report.rows_read,
                       "rows_skipped": len(report.skipped), "warnings": len(report.warnings)},
            "column_mapping": report.column_mapping,
        }
        if reuse is not None:
            manifest["update"] = {"previous_created_at": previous.manifest.get("created_at"),
                                  **reuse.finish().as_dict()}
        index = writer.finish(manifest)
        if progress:
            progress("write", 1, 1)
    stats = {"embedded": embedded, "cached": cached}
    if reuse is not None:
        stats.update(reuse.counts.as_dict())
    return index, report, stats


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def load_index(path: str | os.PathLike = DEFAULT_INDEX_DIR, *, verify: bool = True) -> Index:
    """Load an index folder, checking the manifest, sizes and (with verify) checksums of every file."""
    path = Path(path)
    manifest_file = path / MANIFEST
    if not path.is_dir():
        raise IndexFormatError(f"No index at '{path}': build one with `diffscan build CATALOG --out {path}`.")
    if not manifest_file.exists():
        raise IndexFormatError(f"'{path}' has no {MANIFEST}: it is not a diffscan index, or its build did not finish; rebuild it.")
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexFormatError(f"The manifest of '{path}' is not valid JSON ({exc}); rebuild the index.") from exc
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise IndexFormatError(
            f"The index at '{path}' has schema version {version}, this diffscan reads version {SCHEMA_VERSION}: rebuild it."
        )
    search = manifest.get("search", {})
    large = search.get("semantic") == "ann"
    names = list(FILES) + ([name for name in manifest.get("files", {}) if name not in FILES] if large else [])
    for name in names:
        f = path / name
        expected = manifest.get("files", {}).get(name)
        if not f.exists():
            raise IndexFormatError(f"The index at '{path}' is missing {name}: rebuild it.")
        if expected is None:
            raise IndexFormatError(f"The manifest of '{path}' does not list {name}: rebuild the index.")
        if f.stat().st_size != expected["bytes"] or (verify and sha256(f) != expected["sha256"]):
            raise IndexFormatError(f"{name} in '{path}' was altered or is corrupt (checksum mismatch): rebuild the index.")
    try:
        listings = pd.read_parquet(path / "listings.parquet")
        vectors = np.load(path / "vectors.npy", allow_pickle=False, mmap_mode="r")
        lexical = load_csr(path / "lexical.npz", mmap=large)
        idf = np.load(path / "idf.npy", allow_pickle=False)
        ann = postings = None
        if large:
            from diffscan.ann import ANN_FILE, AnnIndex, AnnParams

            ann = AnnIndex(path / ANN_FILE, AnnParams.from_dict(search.get("ann", {})), view=True)
            postings = load_csr(path / POSTINGS_FILE, mmap=True)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise IndexFormatError(f"Could not read the index at '{path}' ({exc}): rebuild it.") from exc
    n = manifest.get("counts", {}).get("listings")
    if not (len(listings) == vectors.shape[0] == lexical.shape[0] == n) or (ann is not None and len(ann) != n):
        raise IndexFormatError(f"The files of '{path}' disagree on the number of listings: rebuild the index.")
    listings["category_path"] = listings["category_path"].map(lambda v: [str(x) for x in v] if v is not None else [])
    return Index(path=path, manifest=manifest, listings=listings, vectors=np.asarray(vectors), lexical=lexical,
                 idf=idf, ann=ann, postings=postings)
