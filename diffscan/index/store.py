"""The one on-disk artifact: a folder with a manifest, the listings, the vectors and the lexical matrix.

Everything downstream reads an index; nothing downstream re-reads the catalog file.

Small indexes (up to `ann_threshold()` listings, 50,000 by default) are searched exactly and loaded into
memory. Large ones also hold an HNSW graph (ann.usearch) and the lexical postings (postings.npz), and
their big arrays are memory-mapped, so opening a million-listing index costs little RAM; the manifest's
`search` entry says which kind an index is. Builds stream: see `build_index`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from diffscan.core.lexical import (
    lexical_candidates,
    lexical_query,
    load_csr,
    row_dots,
)
from diffscan.core.similarity import top_rows
from diffscan.core.text import listing_text
from diffscan.errors import IndexFormatError, ModelError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
CORE_FILES = ("listings.parquet", "vectors.npy", "lexical.npz", "idf.npy")
POSTINGS_FILE = "postings.npz"
FILES = CORE_FILES
DEFAULT_INDEX_DIR = Path(".diffscan") / "index"


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
    # Values the analyses derive from the listings (texts, what each listing states, map coordinates):
    # computed once and kept as long as the loaded index, keyed by the analysis that owns them.
    memo: dict = field(default_factory=dict, repr=False, compare=False)

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
        from diffscan.encoder.local import load_encoder

        spec = model if model is not None else self.manifest["model"]["spec"]
        encoder = load_encoder(spec)
        if encoder.model_id != self.model_id or encoder.dimension != self.vectors.shape[1]:
            raise ModelError(
                f"The index at '{self.path}' was built with model {self.model_id} ({self.vectors.shape[1]}-d) "
                f"but the query model is {encoder.model_id} ({encoder.dimension}-d): query with the index's own model, "
                f"or rebuild the index with the model {spec}."
            )
        return encoder


def listing_texts(listings: pd.DataFrame, description_chars: int) -> list[str]:
    """What gets embedded for each listing of a canonical table."""
    return [listing_text(t, b, d, description_chars)
            for t, b, d in zip(listings["title"], listings["brand"], listings["description"])]


def read_manifest(path: str | os.PathLike) -> dict | None:
    """The manifest of an index folder as a dict, unchecked (for listing indexes), or None when there is
    none, it is unreadable or it is not a JSON object."""
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


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
            from diffscan.core.ann import ANN_FILE, AnnIndex, AnnParams

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

def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read 1 MB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
