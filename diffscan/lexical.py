"""Lexical side of matching: hashed character n-gram TF-IDF.

Character 3-5-grams catch model numbers, spelling variants and languages without spaces. Hashing
means no vocabulary to store or grow: an index only keeps its idf vector (.npy), and the same
vectorizer serves any catalog size.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize as l2_normalize

N_FEATURES = 2**20
NGRAM_RANGE = (3, 5)

_VECTORIZER = HashingVectorizer(
    analyzer="char_wb",
    ngram_range=NGRAM_RANGE,
    n_features=N_FEATURES,
    alternate_sign=False,
    norm=None,
    lowercase=True,
    dtype=np.float32,
)


def term_counts(texts: list[str]) -> sp.csr_matrix:
    """Raw hashed n-gram counts, one row per text."""
    return _VECTORIZER.transform(texts).tocsr()


def fit_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed idf as scikit-learn's TfidfTransformer computes it."""
    n_docs = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    return (np.log((1 + n_docs) / (1 + df)) + 1.0).astype(np.float32)


def weigh(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf times idf, rows L2-normalized (so a dot product is a cosine)."""
    m = counts.copy().astype(np.float32)
    np.log1p(m.data, out=m.data)
    m = m @ sp.diags(idf, format="csr")
    return l2_normalize(m, norm="l2", copy=False).tocsr().astype(np.float32)


def lexical_matrix(texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
    """The weighted matrix of a catalog and its idf vector."""
    counts = term_counts(texts)
    idf = fit_idf(counts)
    return weigh(counts, idf), idf


def lexical_query(text: str, idf: np.ndarray) -> sp.csr_matrix:
    """One query row in the index's lexical space."""
    return weigh(term_counts([text]), idf)
