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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from diffscan.core.ann import ANN_FILE, AnnParams
from diffscan.core.lexical import (
    lexical_candidates,
    lexical_query,
    load_csr,
    row_dots,
)
from diffscan.core.similarity import top_rows
from diffscan.core.text import listing_text
from diffscan.errors import IndexFormatError, ModelError
from diffscan.index.swap import MANIFEST, recover

SCHEMA_VERSION = 1
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
        """The model the index was built with, to embed queries; a different `model` is refused (vectors
        would not compare). It runs in numpy where it can (`load_query_encoder`), so a query process
        does not import torch."""
        from diffscan.encoder.local import load_query_encoder

        spec = model if model is not None else self.manifest["model"]["spec"]
        encoder = load_query_encoder(spec)
        if encoder.model_id != self.model_id or encoder.dimension != self.vectors.shape[1]:
            raise ModelError(
                f"The index at '{self.path}' was built with model {self.model_id} ({self.vectors.shape[1]}-d) "
                f"but the query model is {encoder.model_id} ({encoder.dimension}-d): query with the index's own model, "
                f"or rebuild the index with the model {spec}.",
                parameter="model",
            )
        return encoder


def listing_texts(listings: pd.DataFrame, description_chars: int) -> list[str]:
    """What gets embedded for each listing of a canonical table."""
    return [listing_text(t, b, d, description_chars)
            for t, b, d in zip(listings["title"], listings["brand"], listings["description"])]


# ---------------------------------------------------------------------------------------------------
# The manifest's schema. A manifest is user-controlled data (an index folder can come from anywhere):
# it is checked field by field once, so code reading `index.manifest[...]` never meets a wrong shape.
# ---------------------------------------------------------------------------------------------------

MAX_MANIFEST_BYTES = 1 << 20  # a real manifest is a few kB


class _Optional(NamedTuple):
    """A field that may be absent (present, it must match `spec`)."""

    spec: object


class _Each(NamedTuple):
    """An object with any keys whose every value matches `spec`."""

    spec: object


_COUNT = int  # every whole number in a manifest counts something: 0 or more
_TEXT_OR_NULL = (str, type(None))
_ANN_PARAMS = {f.name: _Optional(type(f.default)) for f in fields(AnnParams)}
MANIFEST_SCHEMA: dict = {
    "schema_version": _COUNT,
    "diffscan_version": _Optional(str),
    "created_at": _Optional(str),
    "source": _Optional({"path": _Optional(str), "name": _Optional(str), "format": _Optional(_TEXT_OR_NULL)}),
    "model": {"id": str, "spec": str, "dimension": _COUNT},
    "text": {"description_chars": _COUNT},
    "counts": {"listings": _COUNT, "rows_read": _Optional(_COUNT), "rows_skipped": _Optional(_COUNT),
               "warnings": _Optional(_COUNT)},
    "column_mapping": _Optional(_Each(_TEXT_OR_NULL)),
    "search": _Optional({"semantic": _Optional(str), "lexical": _Optional(str), "ann_threshold": _Optional(_COUNT),
                         "ann": _Optional(_ANN_PARAMS)}),
    "files": _Each({"sha256": str, "bytes": _COUNT}),
    "update": _Optional(_Each(object)),
    # Analyses kept in the folder's analyses/ (index.results): their files are checked when read.
    "analyses": _Optional(_Each({"kind": str, "created_at": _Optional(str), "meta": _Optional(_Each(object)),
                                 "files": _Each({"sha256": str, "bytes": _COUNT})})),
}


def _kind(value) -> str:
    """How a JSON value reads in a message."""
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "text", int: "a whole number", float: "a number",
            type(None): "null"}.get(type(value), type(value).__name__)


_EXPECTED = {int: "a whole number of 0 or more", str: "text", type(None): "null", object: "a value"}


def _expected(spec) -> str:
    """What a spec asks for, in a message."""
    if isinstance(spec, (dict, _Each)):
        return "an object"
    return " or ".join(_EXPECTED[t] for t in (spec if isinstance(spec, tuple) else (spec,)))


def _problem(value, spec, where: str) -> str | None:
    """What is wrong with `value` at `where` against `spec`, as the end of a sentence, or None."""
    if isinstance(spec, (dict, _Each)):
        if not isinstance(value, dict):
            return f"`{where}` as {_kind(value)} where an object is expected"
        items = spec.items() if isinstance(spec, dict) else ((key, spec.spec) for key in value)
        for key, sub in items:
            inner = (f"{where}.{key}" if where else key) if isinstance(spec, dict) else f'{where}["{key}"]'
            if isinstance(sub, _Optional):
                if key not in value:
                    continue
                sub = sub.spec
            elif key not in value:
                return f"no `{inner}` field"
            found = _problem(value[key], sub, inner)
            if found:
                return found
        return None
    types = spec if isinstance(spec, tuple) else (spec,)
    count = int in types
    if not isinstance(value, types) or (count and isinstance(value, bool)):  # JSON true is not a count
        return f"`{where}` as {_kind(value)} where {_expected(spec)} is expected"
    if count and value < 0:
        return f"`{where}` = {value} where {_expected(spec)} is expected"
    return None


def check_manifest(data, path: str | os.PathLike) -> dict:
    """`data` (a parsed manifest.json) if every field has the shape this diffscan reads, else one
    IndexFormatError naming the field."""
    def wrong(what: str) -> IndexFormatError:
        return IndexFormatError(f"The manifest of '{path}' has {what}: rebuild the index.")

    if not isinstance(data, dict):
        raise IndexFormatError(f"The manifest of '{path}' is {_kind(data)}, not a JSON object: rebuild the index.")
    if "schema_version" not in data:
        raise wrong("no `schema_version` field")
    version = data["schema_version"]
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise IndexFormatError(
            f"The index at '{path}' has schema version {version!r}, this diffscan reads version {SCHEMA_VERSION}: rebuild it."
        )
    found = _problem(data, MANIFEST_SCHEMA, "")
    if found:
        raise wrong(found)
    kept = [name for entry in data.get("analyses", {}).values() for name in entry["files"]]
    for name in [*data["files"], *kept]:
        if name in ("", ".", "..") or name != Path(name).name or "\\" in name:
            raise IndexFormatError(f"The manifest of '{path}' lists a file {name!r} outside the index folder: rebuild the index.")
    return data


def parse_manifest(path: str | os.PathLike) -> dict:
    """The checked manifest of the index folder `path` (see `check_manifest`); IndexFormatError when it is
    unreadable, too big, not JSON or of the wrong shape."""
    manifest_file = Path(path) / MANIFEST
    try:
        if not manifest_file.is_file():  # a FIFO would block the read, a device never end it
            raise IndexFormatError(f"The manifest of '{path}' is not a regular file: rebuild the index.")
        size = manifest_file.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise IndexFormatError(
                f"The manifest of '{path}' is {size / 1e6:,.1f} MB, far more than any index's manifest "
                f"(at most {MAX_MANIFEST_BYTES / 1e6:.0f} MB): rebuild the index."
            )
        data = json.loads(manifest_file.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise IndexFormatError(f"Could not read the manifest of '{path}' ({exc.strerror or exc}): rebuild the index.") from exc
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON; nesting too deep for the parser
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deep"
        raise IndexFormatError(f"The manifest of '{path}' is not valid JSON ({reason}): rebuild the index.") from exc
    return check_manifest(data, path)


def read_manifest(path: str | os.PathLike) -> dict | None:
    """The checked manifest of an index folder (for listing indexes), or None when there is none or it is
    unreadable or of the wrong shape (`load_index` says what is wrong)."""
    try:
        return parse_manifest(path)
    except IndexFormatError:
        return None


def load_index(path: str | os.PathLike = DEFAULT_INDEX_DIR, *, verify: bool = True) -> Index:
    """Load an index folder, checking the manifest, sizes and (with verify) checksums of every file."""
    path = Path(path)
    if not path.is_dir() and not recover(path):  # recover: a build killed mid-swap left the old index beside
        raise IndexFormatError(f"No index at '{path}': build one first.", parameter="index")
    if not (path / MANIFEST).exists():
        raise IndexFormatError(f"'{path}' has no {MANIFEST}: it is not a diffscan index, or its build did not finish; rebuild it.",
                               parameter="index")
    manifest = parse_manifest(path)
    search = manifest.get("search", {})
    large = search.get("semantic") == "ann"
    listed = manifest["files"]
    # Large indexes must list their graph and postings; any other listed file is checked too.
    names = dict.fromkeys([*FILES, *((ANN_FILE, POSTINGS_FILE) if large else ()), *(listed if large else ())])
    for name in names:
        f = path / name
        expected = listed.get(name)
        if not f.exists():
            raise IndexFormatError(f"The index at '{path}' is missing {name}: rebuild it.")
        if expected is None:
            raise IndexFormatError(f"The manifest of '{path}' does not list {name}: rebuild the index.")
        if not f.is_file():  # a folder, FIFO or device (/dev/zero) planted under a listed name
            raise IndexFormatError(f"{name} in '{path}' is not a regular file: rebuild the index.")
        try:
            altered = f.stat().st_size != expected["bytes"] or (verify and sha256(f) != expected["sha256"])
        except OSError as exc:
            raise IndexFormatError(f"Could not read {name} in '{path}' ({exc.strerror or exc}): rebuild the index.") from exc
        if altered:
            raise IndexFormatError(f"{name} in '{path}' was altered or is corrupt (checksum mismatch): rebuild the index.")
    try:
        listings = pd.read_parquet(path / "listings.parquet")
        vectors = np.load(path / "vectors.npy", allow_pickle=False, mmap_mode="r")
        lexical = load_csr(path / "lexical.npz", mmap=large)
        idf = np.load(path / "idf.npy", allow_pickle=False)
        ann = postings = None
        if large:
            from diffscan.core.ann import AnnIndex

            ann = AnnIndex(path / ANN_FILE, AnnParams.from_dict(search.get("ann", {})), view=True)
            postings = load_csr(path / POSTINGS_FILE, mmap=True)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise IndexFormatError(f"Could not read the index at '{path}' ({exc}): rebuild it.") from exc
    n = manifest["counts"]["listings"]
    if not (len(listings) == vectors.shape[0] == lexical.shape[0] == n) or (ann is not None and len(ann) != n):
        raise IndexFormatError(f"The files of '{path}' disagree on the number of listings: rebuild the index.")
    if vectors.ndim != 2 or vectors.shape[1] != manifest["model"]["dimension"]:
        raise IndexFormatError(f"The vectors of '{path}' do not have the manifest's model dimension: rebuild the index.")
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
