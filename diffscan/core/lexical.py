"""Lexical side of matching: hashed character n-gram TF-IDF.

Character 3-5-grams catch model numbers and spelling variants. Text without spaces (Chinese, Japanese)
also gets the 1- and 2-grams of each CJK run: there one character is about a word (水 water, 乳 lotion),
and 3-5-grams alone would only match phrases (Product1M dev R@1: 1-5-grams 0.81, 3-5-grams 0.77).
Text without CJK letters gets exactly the features it always had. Hashing
means no vocabulary to store or grow: an index only keeps its idf vector (.npy), and the same
vectorizer serves any catalog size.

A row is `normalize(log1p(tf) * idf)`. Builds keep `log1p(tf)` until the idf of the whole catalog is
known, so a catalog can be vectorized chunk by chunk; an update re-weighs kept rows for the new idf
instead of re-reading their text (normalization cancels the old idf's scale exactly).

Builds hash with scikit-learn's HashingVectorizer, imported on first use; a single query
(`lexical_query`) computes the same row in pure Python (`query_counts`), so a one-query process does
not pay the ~1.5 s of importing scikit-learn.

Large indexes answer a query from *postings* (the transposed matrix: for each n-gram, the listings that
have it) and read only the rarest n-grams' lists; see `lexical_candidates`.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from functools import cache
from itertools import chain
from pathlib import Path

import numpy as np
import scipy.sparse as sp

# The lexical space itself: an index's matrix and idf are written in it, so these are part of the index
# format (a query vectorized with other values would not match), not parameters to tune per call.
N_FEATURES = 2**20
NGRAM_RANGE = (3, 5)
CJK_NGRAM_RANGE = (1, 2)  # ... added inside runs of CJK letters (3-grams and longer come from NGRAM_RANGE)
# Recorded as the manifest's `text.lexical`: an index written without the CJK grams re-vectorizes the
# rows an update keeps (its English rows come out identical).
LEXICAL_VERSION = "char_wb 3-5 + cjk 1-2"
# Han (with extensions and compatibility ideographs), kana (full and half width), hangul.
CJK_RUN = re.compile(
    "[\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uffdc\U00020000-\U0003134f]+"
)


@dataclass(frozen=True)
class LexicalParams:
    """How a large index's lexical candidates are read from the postings (docs/scale.md).

    Parameters
    ----------
    postings_budget: posting entries a query reads at most, rarest n-grams first: ~8 ms of numpy; on a
        million synthetic listings this finds 99.7% of the exact lexical top-10 (200,000: 98.9%, 5 ms).
    min_query_grams: ... but always the query's rarest this many n-grams, however long their lists (a
        short query of common n-grams still finds its candidates).
    """

    postings_budget: int = 400_000
    min_query_grams: int = 8


LEXICAL = LexicalParams()


def cjk_grams(text: str) -> list[str]:
    """The 1- and 2-grams of the CJK runs of a text (none for text without CJK letters)."""
    lo, hi = CJK_NGRAM_RANGE
    return [run[i:i + n] for run in CJK_RUN.findall(text.lower()) for n in range(lo, hi + 1)
            for i in range(len(run) - n + 1)]


def cjk_share(text: str) -> float:
    """The share of a text's words that are CJK: each CJK letter counts as a word (CJK has no spaces),
    each run of other letters as one; 0 for a text without letters."""
    cjk = sum(len(run) for run in CJK_RUN.findall(text))
    other = len(re.findall(r"[^\W\d_]+", CJK_RUN.sub(" ", text)))
    return cjk / (cjk + other) if cjk + other else 0.0


@cache
def _vectorizers():
    """scikit-learn's hashers of the two n-gram families, made when a build first needs them."""
    from sklearn.feature_extraction.text import HashingVectorizer

    chars = HashingVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, n_features=N_FEATURES,
                              alternate_sign=False, norm=None, lowercase=True, dtype=np.float32)
    cjk = HashingVectorizer(analyzer=cjk_grams, n_features=N_FEATURES, alternate_sign=False, norm=None,
                            dtype=np.float32)
    return chars, cjk


def term_counts(texts: list[str]) -> sp.csr_matrix:
    """Raw hashed n-gram counts, one row per text: character 3-5-grams, plus CJK runs' 1-2-grams."""
    chars, cjk = _vectorizers()
    counts = chars.transform(texts).tocsr()
    if any(CJK_RUN.search(t) for t in texts):
        counts = (counts + cjk.transform(texts)).tocsr()
        counts.sort_indices()
    return counts


# ---------------------------------------------------------------------------------------------
# One text's counts in pure Python, equal to `term_counts([text])` entry for entry: scikit-learn's
# char_wb analysis (sklearn/feature_extraction/text.py) and FeatureHasher's signed MurmurHash3 column
# (_hashing_fast.pyx). A query has ~100 n-grams, a few microseconds each.
# ---------------------------------------------------------------------------------------------

_WHITE_SPACES = re.compile(r"\s\s+")  # sklearn's: runs of two or more become one space; a lone tab stays
_M32 = 0xFFFFFFFF


def char_wb_grams(text: str) -> list[str]:
    """The char_wb n-grams scikit-learn's analyzer gives a text (lowercased, NGRAM_RANGE), in its order."""
    min_n, max_n = NGRAM_RANGE
    grams = []
    for w in _WHITE_SPACES.sub(" ", text.lower()).split():
        w = " " + w + " "
        for n in range(min_n, max_n + 1):
            offset = 0
            grams.append(w[offset:offset + n])
            while offset + n < len(w):
                offset += 1
                grams.append(w[offset:offset + n])
            if offset == 0:  # a word shorter than n counts once, not once per longer n
                break
    return grams


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def murmurhash3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 (x86, 32-bit) as a signed int, as `sklearn.utils.murmurhash3_32` gives it."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & _M32
    whole = len(data) - len(data) % 4
    for i in range(0, whole, 4):
        k = _rotl((int.from_bytes(data[i:i + 4], "little") * c1) & _M32, 15)
        h = _rotl(h ^ ((k * c2) & _M32), 13)
        h = (h * 5 + 0xE6546B64) & _M32
    if whole < len(data):
        k = _rotl((int.from_bytes(data[whole:], "little") * c1) & _M32, 15)
        h ^= (k * c2) & _M32
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def feature_index(gram: str) -> int:
    """The column FeatureHasher gives an n-gram: |hash| modulo N_FEATURES (with its rule for -2^31)."""
    h = murmurhash3_32(gram.encode("utf-8"))
    if h == -(1 << 31):
        return (2**31 - 1 - (N_FEATURES - 1)) % N_FEATURES
    return abs(h) % N_FEATURES


def query_counts(text: str) -> sp.csr_matrix:
    """`term_counts([text])` without scikit-learn: the same indices (sorted) and float32 counts."""
    counts = Counter(feature_index(g) for g in chain(char_wb_grams(text), cjk_grams(text)))
    indices = np.array(sorted(counts), dtype=np.int32)
    data = np.array([counts[i] for i in indices.tolist()], dtype=np.float32)
    indptr = np.array([0, len(indices)], dtype=np.int32)
    return sp.csr_matrix((data, indices, indptr), shape=(1, N_FEATURES))


def log_tf(counts: sp.csr_matrix) -> sp.csr_matrix:
    """Sublinear term frequency `log1p(tf)`: the idf-free form a chunked build keeps."""
    m = counts.astype(np.float32, copy=True)
    np.log1p(m.data, out=m.data)
    return m


def document_frequencies(m: sp.csr_matrix) -> np.ndarray:
    """How many rows have each n-gram (rows hold no explicit zeros)."""
    return np.bincount(m.indices, minlength=m.shape[1]).astype(np.int64)


def idf_from_df(df: np.ndarray, n_docs: int) -> np.ndarray:
    """Smoothed idf as scikit-learn's TfidfTransformer computes it."""
    return (np.log((1 + n_docs) / (1 + df.astype(np.float64))) + 1.0).astype(np.float32)


def fit_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed idf of a count matrix."""
    return idf_from_df(document_frequencies(counts), counts.shape[0])


def weigh_rows(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """Weighted, row-L2-normalized values for CSR arrays of `log1p(tf)` (or any per-row scale of it).

    Row by row, so any chunking of the rows gives the same bits.
    """
    w = data.astype(np.float32) * idf[indices]
    lengths = np.diff(indptr)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    norms = np.sqrt(np.bincount(rows, weights=np.square(w, dtype=np.float64), minlength=len(lengths)))
    norms[norms == 0] = 1.0
    return (w / norms[rows]).astype(np.float32)


def weigh_log_tf(m: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """`normalize(m * idf)` for a matrix of `log1p(tf)` rows."""
    data = weigh_rows(m.data, m.indices, m.indptr, idf)
    return sp.csr_matrix((data, m.indices.copy(), m.indptr.copy()), shape=m.shape)


def weigh(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf times idf, rows L2-normalized (so a dot product is a cosine)."""
    return weigh_log_tf(log_tf(counts), idf)


def unweigh(m: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Weighted rows back to a per-row multiple of `log1p(tf)`, to be weighed again with a new idf."""
    data = (np.asarray(m.data, dtype=np.float32) / idf[m.indices]).astype(np.float32)
    return sp.csr_matrix((data, np.array(m.indices), np.array(m.indptr)), shape=m.shape)


def lexical_matrix(texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
    """The weighted matrix of a catalog and its idf vector."""
    counts = term_counts(texts)
    idf = fit_idf(counts)
    return weigh(counts, idf), idf


def lexical_query(text: str, idf: np.ndarray) -> sp.csr_matrix:
    """One query row in the index's lexical space (pure Python: no scikit-learn import)."""
    return weigh(query_counts(text), idf)


def row_dots(m: sp.csr_matrix, rows: np.ndarray, query: sp.csr_matrix) -> np.ndarray:
    """Cosines of the given rows of `m` with a one-row `query`, touching only those rows' entries.

    A sparse product would first transpose the 2^20-wide query (~1.5 ms); this is a sorted lookup.
    """
    q_idx = np.asarray(query.indices)
    q_val = np.asarray(query.data, dtype=np.float32)
    order = np.argsort(q_idx)
    q_idx, q_val = q_idx[order], q_val[order]
    starts = np.asarray(m.indptr[rows], dtype=np.int64)
    ends = np.asarray(m.indptr[rows + 1], dtype=np.int64)
    lengths = ends - starts
    if not len(q_idx) or not lengths.sum():
        return np.zeros(len(rows), dtype=np.float32)
    span = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
    feats = np.asarray(m.indices[span])
    vals = np.asarray(m.data[span], dtype=np.float32)
    pos = np.minimum(np.searchsorted(q_idx, feats), len(q_idx) - 1)
    hit = q_idx[pos] == feats
    owner = np.repeat(np.arange(len(rows)), lengths)
    return np.bincount(owner[hit], weights=vals[hit] * q_val[pos[hit]], minlength=len(rows)).astype(np.float32)


def lexical_candidates(query: sp.csr_matrix, postings: sp.csr_matrix, pool: int, blocked: np.ndarray | None = None,
                       *, params: LexicalParams = LEXICAL) -> np.ndarray:
    """Rows likely to have the highest lexical cosine with `query`, read from the postings.

    Only the query's rarest n-grams are read (highest weight first, until `params.postings_budget`
    posting entries, but at least `params.min_query_grams` n-grams): common n-grams such
    as " th" have postings of half the catalog and add little to a cosine. The caller scores the returned
    rows exactly.
    """
    budget = params.postings_budget
    n_docs = postings.shape[1]
    feats = np.asarray(query.indices)
    weights = np.asarray(query.data, dtype=np.float32)
    order = np.argsort(-weights, kind="stable")
    starts = np.asarray(postings.indptr[feats[order]], dtype=np.int64)
    ends = np.asarray(postings.indptr[feats[order] + 1], dtype=np.int64)
    cumulative = np.cumsum(ends - starts)
    keep = max(params.min_query_grams, int(np.searchsorted(cumulative, budget, side="right")))
    docs = [np.asarray(postings.indices[s:e]) for s, e in zip(starts[:keep], ends[:keep])]
    vals = [np.asarray(postings.data[s:e]) * w for s, e, w in zip(starts[:keep], ends[:keep], weights[order][:keep])]
    if not docs or not sum(len(d) for d in docs):
        return np.empty(0, dtype=np.int64)
    scores = np.bincount(np.concatenate(docs), weights=np.concatenate(vals), minlength=n_docs)
    if blocked is not None:
        scores[blocked] = 0.0
    hit = np.flatnonzero(scores)
    if len(hit) <= pool:
        return hit
    return hit[np.argpartition(-scores[hit], pool - 1)[:pool]]


# ---------------------------------------------------------------------------------------------
# On disk: the .npz that scipy.sparse.save_npz writes (uncompressed), written in pieces and mapped
# into memory without reading it, so a million-listing matrix costs no RAM until rows are used.
# ---------------------------------------------------------------------------------------------


class _Chunked:
    """Stands in for a 1-d array whose values arrive in chunks, so it is written without being held."""

    def __init__(self, chunks, dtype, length: int) -> None:
        self.chunks, self.dtype, self.length = chunks, np.dtype(dtype), length


def _write_member(zf: zipfile.ZipFile, name: str, array) -> None:
    """One .npy member: a whole array, or a `_Chunked` one written piece by piece."""
    with zf.open(name, "w", force_zip64=True) as f:
        if not isinstance(array, _Chunked):
            np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)
            return
        header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False, "shape": (array.length,)}
        np.lib.format.write_array_header_1_0(f, header)
        written = 0
        for chunk in array.chunks:
            values = np.ascontiguousarray(chunk, dtype=array.dtype)
            f.write(values.tobytes())
            written += len(values)
        if written != array.length:
            raise ValueError(f"{name}: wrote {written} values, announced {array.length}")


class CsrNpzWriter:
    """Writes a CSR matrix as the uncompressed .npz `scipy.sparse.load_npz` reads, member by member.

    `data` and `indices` arrive as iterables of chunks, so the matrix never has to be in memory.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def write(self, shape: tuple[int, int], nnz: int, indptr: np.ndarray, data_chunks, indices_chunks,
              index_dtype=np.int32) -> None:
        with zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            _write_member(zf, "indices.npy", _Chunked(indices_chunks, index_dtype, nnz))
            _write_member(zf, "indptr.npy", np.asarray(indptr, dtype=index_dtype))
            _write_member(zf, "format.npy", np.array(b"csr"))
            _write_member(zf, "shape.npy", np.array(shape, dtype=np.int64))
            _write_member(zf, "data.npy", _Chunked(data_chunks, np.float32, nnz))


def index_dtype_for(nnz: int, shape: tuple[int, int]):
    """int32 indices while they fit (half the size), else int64."""
    return np.int32 if nnz < 2**31 and max(shape) < 2**31 else np.int64


def _member_array(f, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """Memory-map one stored (uncompressed) .npy member of a zip file."""
    f.seek(info.header_offset)
    local = f.read(30)
    if local[:4] != b"PK\x03\x04":
        raise ValueError(f"{path}: bad zip entry {info.filename}")
    name_len = int.from_bytes(local[26:28], "little")
    extra_len = int.from_bytes(local[28:30], "little")
    f.seek(info.header_offset + 30 + name_len + extra_len)
    major, _minor = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(f)
    if dtype.hasobject:
        raise ValueError(f"{path}: object arrays are not allowed")
    offset = f.tell()
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def load_csr(path: str | os.PathLike, *, mmap: bool = False) -> sp.csr_matrix:
    """Load a CSR .npz; with `mmap`, data and indices stay on disk (read-only) until rows are used.

    Falls back to reading into memory when a member is compressed (an index written by other tools).
    """
    path = Path(path)
    if not mmap:
        return sp.load_npz(path).tocsr()
    with zipfile.ZipFile(path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        if any(infos[f"{big}.npy"].compress_type != zipfile.ZIP_STORED for big in ("data", "indices")):
            return sp.load_npz(path).tocsr()
        arrays = {name: np.load(zf.open(f"{name}.npy"), allow_pickle=False) for name in ("format", "shape", "indptr")}
        with open(path, "rb") as f:
            arrays.update({big: _member_array(f, infos[f"{big}.npy"], path) for big in ("data", "indices")})
    if bytes(np.asarray(arrays["format"]).item()) != b"csr":
        raise ValueError(f"{path} does not hold a CSR matrix")
    shape = tuple(int(x) for x in np.asarray(arrays["shape"]))
    indptr = np.asarray(arrays["indptr"])
    m = sp.csr_matrix(shape, dtype=np.float32)
    # Assign the arrays directly: the constructor may copy or up-cast them, reading the whole file.
    # Plain ndarray views of the maps: slicing a np.memmap subclass costs ~10 us a slice on the query path.
    m.data, m.indices, m.indptr = arrays["data"].view(np.ndarray), arrays["indices"].view(np.ndarray), np.array(indptr)
    return m
