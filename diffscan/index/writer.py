"""Writes an index folder chunk by chunk, so building one never holds the whole catalog in memory.

Each chunk of listings arrives with its vectors and its `log1p(tf)` lexical rows. Listings go straight
into listings.parquet (one row group per chunk), vectors into vectors.npy (its header written last),
lexical rows into spill files beside the folder, and document frequencies are summed. `finish` then
knows the idf, weighs the spilled rows into lexical.npz, and for a large index saves the ANN graph
(grown in the background while chunks arrived) and the lexical postings. Everything is written into a
temporary folder that is swapped into place at the end (see `swap`): a crash leaves the previous
index intact.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from diffscan.core.ann import ANN_FILE, AnnBuilder, AnnParams, ann_threshold
from diffscan.core.lexical import (
    N_FEATURES,
    CsrNpzWriter,
    idf_from_df,
    index_dtype_for,
    weigh_rows,
)
from diffscan.errors import IndexFormatError
from diffscan.index.store import CORE_FILES, MANIFEST, POSTINGS_FILE, load_index, sha256
from diffscan.index.swap import check_out, sibling, swap_into_place

NPY_HEADER_BYTES = 128  # vectors.npy's header is reserved up front and written once the row count is known
_ROWS_PER_WEIGH = 16_384  # ~2M values: the float64 temporaries of weighing stay ~100 MB
_ROWS_PER_POSTINGS_PASS = 16_384
_POSTINGS_BLOCK = 48_000_000  # postings entries built at a time (~400 MB with the pass's temporaries)


def _read(path: Path, dtype, start: int, stop: int) -> np.ndarray:
    """Values start..stop of a raw spill file, read (not mapped: mapped pages would count as resident)."""
    dtype = np.dtype(dtype)
    if stop <= start:
        return np.zeros(0, dtype=dtype)
    return np.fromfile(path, dtype=dtype, count=stop - start, offset=start * dtype.itemsize)



def _npy_header(shape: tuple[int, ...], dtype=np.float32) -> bytes:
    """The .npy (v1.0) header numpy writes for this shape, which is NPY_HEADER_BYTES long for any 2-d float32
    array (numpy pads headers to a multiple of 64 bytes)."""
    import io

    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    if len(buffer.getvalue()) != NPY_HEADER_BYTES:
        raise ValueError(f"shape {shape} does not fit the reserved .npy header")
    return buffer.getvalue()


class IndexWriter:
    """Accumulates chunks into a temporary index folder; `finish` writes the manifest and swaps it in.

    `ann`: True always builds the ANN graph, False never, None builds it once the listing count passes
    `ann_threshold()` (the rows before are caught up from vectors.npy). The build pipeline holds
    `swap.BuildLock(out)` around a writer, so only one writes an `out` at a time.
    """

    def __init__(self, out: str | os.PathLike, *, dimension: int, ann: bool | None = None,
                 ann_params: AnnParams = AnnParams(), threshold: int | None = None) -> None:
        self.out = Path(out)
        check_out(self.out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = sibling(self.out, "tmp")
        self.spill = sibling(self.out, "spill")
        for folder in (self.tmp, self.spill):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        self.dimension = dimension
        self.ann_mode = ann
        self.ann_params = ann_params
        self.threshold = ann_threshold() if threshold is None else threshold
        self.n = 0
        self.nnz = 0
        self._df = np.zeros(N_FEATURES, dtype=np.int64)
        self._row_nnz: list[np.ndarray] = []
        self._vectors = open(self.tmp / "vectors.npy", "wb")
        self._vectors.write(b"\0" * NPY_HEADER_BYTES)
        self._data = open(self.spill / "data.f32", "wb")
        self._indices = open(self.spill / "indices.i32", "wb")
        self._parquet = None
        self._schema = None
        self._ann: AnnBuilder | None = None

    # --- context manager: any error removes the temporary folders and leaves `out` untouched
    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc) -> None:
        self._close_files()
        shutil.rmtree(self.spill, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _close_files(self) -> None:
        for f in (self._vectors, self._data, self._indices):
            if not f.closed:
                f.close()
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._ann is not None:
            try:
                self._ann.wait()
            except Exception:  # noqa: BLE001 - an error here is already being reported
                pass

    def add(self, listings: pd.DataFrame, vectors: np.ndarray, tf: sp.csr_matrix) -> None:
        """Append a chunk: canonical listings, their L2-normalized vectors and their log1p(tf) rows."""
        if not (len(listings) == len(vectors) == tf.shape[0]):
            raise ValueError("listings, vectors and lexical rows of a chunk must have the same length")
        if len(listings) == 0:
            return
        self._write_listings(listings)
        start = self.n
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._vectors.write(vectors.tobytes())
        tf = tf.tocsr()
        self._data.write(np.asarray(tf.data, dtype=np.float32).tobytes())
        self._indices.write(np.asarray(tf.indices, dtype=np.int32).tobytes())
        self._row_nnz.append(np.diff(tf.indptr).astype(np.int64))
        self._df += np.bincount(tf.indices, minlength=N_FEATURES)
        self.n += len(listings)
        self.nnz += tf.nnz
        self._grow_ann(start, vectors)

    def _write_listings(self, listings: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = listings.reset_index(drop=True)
        if self._schema is None:
            first = pa.Table.from_pandas(frame, preserve_index=False)
            fields = [pa.field(f.name, pa.list_(pa.string())) if f.name == "category_path" else f
                      for f in first.schema]
            self._schema = pa.schema(fields, metadata=first.schema.metadata)
            self._parquet = pq.ParquetWriter(self.tmp / "listings.parquet", self._schema)
        self._parquet.write_table(pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False))

    def _grow_ann(self, start: int, vectors: np.ndarray) -> None:
        wanted = self.ann_mode is True or (self.ann_mode is None and self.n > self.threshold)
        if not wanted:
            return
        if self._ann is None:
            self._ann = AnnBuilder(self.dimension, self.ann_params)
            if start:  # catch up the rows written before the threshold was passed
                self._vectors.flush()
                done = np.memmap(self.tmp / "vectors.npy", dtype=np.float32, mode="r", offset=NPY_HEADER_BYTES,
                                 shape=(start, self.dimension))
                for s in range(0, start, 65_536):
                    self._ann.add(s, np.array(done[s : s + 65_536]))
                del done
        self._ann.add(start, vectors)

    def _lexical_chunks(self, idf: np.ndarray, indptr: np.ndarray, tee: Path | None = None):
        """Weighted lexical values, rows weighed block by block from the spill (never all in memory);
        with `tee` they are also appended to that file, for the postings pass."""
        sink = open(tee, "wb") if tee else None
        try:
            for r0 in range(0, self.n, _ROWS_PER_WEIGH):
                r1 = min(self.n, r0 + _ROWS_PER_WEIGH)
                p0, p1 = int(indptr[r0]), int(indptr[r1])
                data = _read(self.spill / "data.f32", np.float32, p0, p1)
                weighted = weigh_rows(data, _read(self.spill / "indices.i32", np.int32, p0, p1),
                                      indptr[r0 : r1 + 1] - p0, idf)
                if sink:
                    sink.write(weighted.tobytes())
                yield weighted
        finally:
            if sink:
                sink.close()

    def _index_chunks(self, name: str = "indices.i32", dtype=np.int32, total: int | None = None):
        """A spill file's values in blocks of 16M."""
        total = self.nnz if total is None else total
        for p0 in range(0, total, 1 << 24):
            yield _read(self.spill / name, dtype, p0, min(total, p0 + (1 << 24)))

    def _write_postings(self, indptr: np.ndarray) -> None:
        """postings.npz (the lexical matrix transposed: per n-gram, its listings in row order), built by
        blocks of n-grams with a counting sort, so at most ~POSTINGS_BLOCK entries are in memory."""
        df = self._df
        tindptr = np.concatenate([[0], np.cumsum(df)])
        bounds = [0]
        while bounds[-1] < N_FEATURES:
            limit = tindptr[bounds[-1]] + _POSTINGS_BLOCK
            bounds.append(max(bounds[-1] + 1, min(N_FEATURES, int(np.searchsorted(tindptr, limit, side="right")) - 1)))
        out_rows = open(self.spill / "post_rows.i32", "wb")
        out_vals = open(self.spill / "post_vals.f32", "wb")
        with out_rows, out_vals:
            for f0, f1 in zip(bounds[:-1], bounds[1:]):
                base = int(tindptr[f0])
                size = int(tindptr[f1]) - base
                rows_block = np.empty(size, dtype=np.int32)
                vals_block = np.empty(size, dtype=np.float32)
                cursor = tindptr[f0:f1] - base
                for r0 in range(0, self.n, _ROWS_PER_POSTINGS_PASS):
                    r1 = min(self.n, r0 + _ROWS_PER_POSTINGS_PASS)
                    p0, p1 = int(indptr[r0]), int(indptr[r1])
                    feats = _read(self.spill / "indices.i32", np.int32, p0, p1)
                    keep = (feats >= f0) & (feats < f1)
                    if not keep.any():
                        continue
                    local = feats[keep] - f0
                    order = np.argsort(local, kind="stable")  # rows stay ascending within an n-gram
                    local = local[order]
                    row_ids = np.repeat(np.arange(r0, r1, dtype=np.int32), np.diff(indptr[r0 : r1 + 1]))[keep][order]
                    vals = _read(self.spill / "weighted.f32", np.float32, p0, p1)[keep][order]
                    counts = np.bincount(local, minlength=f1 - f0)
                    first = np.cumsum(counts) - counts
                    pos = cursor[local] + (np.arange(len(local)) - first[local])
                    rows_block[pos] = row_ids
                    vals_block[pos] = vals
                    cursor += counts
                out_rows.write(rows_block.tobytes())
                out_vals.write(vals_block.tobytes())
        shape = (N_FEATURES, self.n)
        CsrNpzWriter(self.tmp / POSTINGS_FILE).write(
            shape, self.nnz, tindptr, self._index_chunks("post_vals.f32", np.float32),
            self._index_chunks("post_rows.i32"), index_dtype=index_dtype_for(self.nnz, shape),
        )

    def finish(self, manifest: dict):
        """Write the lexical matrix, idf, ANN graph, postings and manifest; swap the folder into place."""

        if self.n == 0:
            raise IndexFormatError(f"No listings to write into '{self.out}'.")
        self._vectors.seek(0)
        self._vectors.write(_npy_header((self.n, self.dimension)))
        self._close_files()
        idf = idf_from_df(self._df, self.n)
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(self._row_nnz))])
        shape = (self.n, N_FEATURES)
        large = self._ann is not None
        CsrNpzWriter(self.tmp / "lexical.npz").write(
            shape, self.nnz, indptr, self._lexical_chunks(idf, indptr, self.spill / "weighted.f32" if large else None),
            self._index_chunks(), index_dtype=index_dtype_for(self.nnz, shape),
        )
        np.save(self.tmp / "idf.npy", idf)
        files = list(CORE_FILES)
        search: dict = {"semantic": "exact", "lexical": "full", "ann_threshold": self.threshold}
        if large:
            self._ann.save(self.tmp / ANN_FILE)
            self._ann = None  # free the graph before the postings pass
            self._write_postings(indptr)
            files += [ANN_FILE, POSTINGS_FILE]
            search.update(semantic="ann", lexical="postings", ann=self.ann_params.to_dict())
        shutil.rmtree(self.spill, ignore_errors=True)
        manifest = dict(manifest)
        manifest["search"] = search
        manifest["files"] = {name: {"sha256": sha256(self.tmp / name), "bytes": (self.tmp / name).stat().st_size}
                             for name in files}
        (self.tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        swap_into_place(self.tmp, self.out)
        return load_index(self.out, verify=False)
