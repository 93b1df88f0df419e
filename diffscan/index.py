"""The one on-disk artifact: a folder with a manifest, the listings, the vectors and the lexical matrix.

Everything downstream reads an index; nothing downstream re-reads the catalog file.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from diffscan import __version__
from diffscan.errors import DiffscanError, IndexFormatError, ModelError
from diffscan.lexical import lexical_matrix, lexical_query
from diffscan.text import listing_text

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
FILES = ("listings.parquet", "vectors.npy", "lexical.npz", "idf.npy")
DEFAULT_INDEX_DIR = Path(".diffscan") / "index"

StageProgress = Callable[[str, int, int], None]


@dataclass
class Index:
    """A loaded index. `vectors` rows and `lexical` rows align with `listings` rows."""

    path: Path
    manifest: dict
    listings: pd.DataFrame
    vectors: np.ndarray
    lexical: sp.csr_matrix
    idf: np.ndarray
    _lexical_t: sp.csr_matrix | None = field(default=None, repr=False)
    _row_of: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.listings)

    @property
    def model_id(self) -> str:
        return self.manifest["model"]["id"]

    @property
    def lexical_t(self) -> sp.csr_matrix:
        """Transposed lexical matrix: a query row times it is the fastest sparse product."""
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
        chars = self.manifest.get("text", {}).get("description_chars", 300)
        return [
            listing_text(t, b, d, chars)
            for t, b, d in zip(self.listings["title"], self.listings["brand"], self.listings["description"])
        ]

    def query_lexical(self, text: str) -> sp.csr_matrix:
        """A query text in this index's lexical space."""
        return lexical_query(text, self.idf)

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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_index(
    catalog: str | os.PathLike,
    out: str | os.PathLike = DEFAULT_INDEX_DIR,
    *,
    model: str | None = None,
    mapping: dict[str, str] | None = None,
    description_chars: int = 300,
    progress: StageProgress | None = None,
    cache_dir: Path | None = None,
):
    """Load a catalog, embed and vectorize its listings, and write the index folder atomically.

    Returns (Index, LoadReport, stats) where stats counts embedded vs cached texts.
    """
    from diffscan.catalog import load_catalog
    from diffscan.encoder import EmbeddingCache, load_encoder, text_key

    result = load_catalog(catalog, mapping)
    listings = result.listings
    encoder = load_encoder(model)
    texts = [
        listing_text(t, b, d, description_chars)
        for t, b, d in zip(listings["title"], listings["brand"], listings["description"])
    ]
    cache = EmbeddingCache(encoder.model_id, cache_dir)
    cached = len(cache.get([text_key(t) for t in texts]))
    report_embed = (lambda d, n: progress("embed", d, n)) if progress else None
    vectors = encoder.encode(texts, progress=report_embed, cache=cache)
    if progress:
        progress("lexical", 0, 1)
    lexical, idf = lexical_matrix(texts)
    if progress:
        progress("lexical", 1, 1)
    source = Path(catalog)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "diffscan_version": __version__,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source": {"path": str(source.resolve()), "name": source.name, "format": result.report.format},
        "model": {"id": encoder.model_id, "spec": str(model or "minilm"), "dimension": encoder.dimension},
        "text": {"description_chars": description_chars},
        "counts": {"listings": len(listings), "rows_read": result.report.rows_read,
                   "rows_skipped": len(result.report.skipped), "warnings": len(result.report.warnings)},
        "column_mapping": result.report.column_mapping,
    }
    index = write_index(out, manifest, listings, vectors, lexical, idf)
    stats = {"embedded": len(texts) - cached, "cached": cached}
    return index, result.report, stats


def write_index(
    out: str | os.PathLike,
    manifest: dict,
    listings: pd.DataFrame,
    vectors: np.ndarray,
    lexical: sp.csr_matrix,
    idf: np.ndarray,
) -> Index:
    """Write all files into a temporary sibling folder, then swap it into place.

    A crash at any point leaves the previous index intact.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        listings.reset_index(drop=True).to_parquet(tmp / "listings.parquet", index=False)
        np.save(tmp / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
        sp.save_npz(tmp / "lexical.npz", lexical.tocsr(), compressed=False)
        np.save(tmp / "idf.npy", idf.astype(np.float32))
        manifest = dict(manifest)
        manifest["files"] = {
            name: {"sha256": _sha256(tmp / name), "bytes": (tmp / name).stat().st_size} for name in FILES
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            if not (out / MANIFEST).exists() and any(out.iterdir()):
                raise IndexFormatError(
                    f"'{out}' exists and is not a diffscan index: choose another --out folder."
                )
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return load_index(out, verify=False)


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
    for name in FILES:
        f = path / name
        expected = manifest.get("files", {}).get(name)
        if not f.exists():
            raise IndexFormatError(f"The index at '{path}' is missing {name}: rebuild it.")
        if expected is None:
            raise IndexFormatError(f"The manifest of '{path}' does not list {name}: rebuild the index.")
        if f.stat().st_size != expected["bytes"] or (verify and _sha256(f) != expected["sha256"]):
            raise IndexFormatError(f"{name} in '{path}' was altered or is corrupt (checksum mismatch): rebuild the index.")
    try:
        listings = pd.read_parquet(path / "listings.parquet")
        vectors = np.load(path / "vectors.npy", allow_pickle=False, mmap_mode="r")
        lexical = sp.load_npz(path / "lexical.npz").tocsr()
        idf = np.load(path / "idf.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"Could not read the index at '{path}' ({exc}): rebuild it.") from exc
    n = manifest.get("counts", {}).get("listings")
    if not (len(listings) == vectors.shape[0] == lexical.shape[0] == n):
        raise IndexFormatError(f"The files of '{path}' disagree on the number of listings: rebuild the index.")
    listings["category_path"] = listings["category_path"].map(lambda v: [str(x) for x in v] if v is not None else [])
    return Index(path=path, manifest=manifest, listings=listings, vectors=np.asarray(vectors), lexical=lexical, idf=idf)

