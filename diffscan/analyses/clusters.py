"""Groups of listings inside a category: nearest neighbours, near-duplicate groups, clusters and their names.

Everything here works on one category (a block of rows) at a time and never holds an all-pairs
matrix of a big category: exact search below EXACT_LIMIT listings, an inverted-file search above it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA

from diffscan.core.similarity import NEAR_DUPLICATE, is_near_duplicate
from diffscan.core.text import phrases, tokens

# Clusters: average-linkage agglomerative clustering on a combined similarity. Two listings' similarity
# is 0.8 x semantic cosine + 0.2 x lexical (character n-gram) cosine; clusters merge while the mean
# similarity between their listings stays >= 1 - CLUSTER_DISTANCE = 0.30 (see docs/saturation.md).
SEMANTIC_WEIGHT = 0.8
CLUSTER_DISTANCE = 0.70
# Above this many listings a category is first cut into micro-clusters (k-means on PCA-reduced vectors),
# then micro-clusters are merged with the same rule: memory stays linear in the category size.
EXACT_LIMIT = 4000
MICRO_CLUSTER_SIZE = 8
MAX_MICRO_CLUSTERS = 1000
PCA_DIMENSIONS = 64
# Neighbours: mean similarity to the KNN nearest listings measures how alike a category is;
# near-duplicate candidates are the CANDIDATES nearest ones plus a sorted-neighbourhood window on titles.
KNN = 5
CANDIDATES = 10
TITLE_WINDOW = 4
# Inverted-file search for big categories: cells of about CELL_SIZE listings, each searched against its
# PROBES nearest cells, never more than MAX_CANDIDATES listings at once.
CELL_SIZE = 250
PROBES = 8
MAX_CANDIDATES = 2400
BLOCK_ELEMENTS = 1 << 22  # similarities computed per block: 4M floats = 16 MB
SEED = 0
# Scripts written without spaces (text.tokens cuts them into character bigrams).
_CJK_RE = re.compile(r"^[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+$")


def _top_k(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the k largest entries of each row, best first."""
    k = min(k, sims.shape[1])
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(sims, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _padded(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, k), -1, dtype=np.int64), np.full((n, k), np.nan, dtype=np.float32)


def nearest_neighbours(vectors: np.ndarray, k: int, sims: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k most similar other rows of each row (cosine on L2-normalized rows), best first.

    Returns (indices, similarities), both (n, k); rows with fewer than k others are padded with -1 / NaN.
    `sims` is the full similarity matrix when the caller already has it (small categories).
    """
    n = len(vectors)
    idx, val = _padded(n, k)
    kk = min(k, n - 1)
    if kk <= 0:
        return idx, val
    if sims is not None:
        s = sims.copy()
        np.fill_diagonal(s, -np.inf)
        idx[:, :kk], val[:, :kk] = _top_k(s, kk)
        return idx, val
    if n <= EXACT_LIMIT:
        return _exact_neighbours(np.asarray(vectors, dtype=np.float32), kk, idx, val)
    return _ivf_neighbours(np.asarray(vectors, dtype=np.float32), kk, idx, val)


def _exact_neighbours(x: np.ndarray, k: int, idx: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact search in row blocks: memory is block x n, not n x n."""
    n = len(x)
    step = max(1, BLOCK_ELEMENTS // n)
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        s = x[rows] @ x.T
        s[np.arange(len(rows)), rows] = -np.inf
        idx[rows, :k], val[rows, :k] = _top_k(s, k)
    return idx, val


def _ivf_cells(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells of an inverted file: k-means on a sample, every row assigned to its nearest centroid."""
    n_cells = max(2, math.ceil(len(x) / CELL_SIZE))
    rng = np.random.default_rng(SEED)
    sample = x[rng.choice(len(x), size=min(len(x), 20 * CELL_SIZE), replace=False)]
    km = KMeans(n_cells, n_init=1, max_iter=15, random_state=SEED).fit(sample)
    centres = km.cluster_centers_.astype(np.float32)
    return km.predict(x), centres


def _ivf_neighbours(x: np.ndarray, k: int, idx: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Approximate search: each cell's rows against the rows of its PROBES nearest cells (capped)."""
    cell, centres = _ivf_cells(x)
    members = [np.flatnonzero(cell == c) for c in range(len(centres))]
    unit = centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)
    affinity = unit @ unit.T
    np.fill_diagonal(affinity, np.inf)  # a cell always searches itself first
    near_cells = np.argsort(-affinity, axis=1)[:, :PROBES]
    rng = np.random.default_rng(SEED)
    for c, rows in enumerate(members):
        if len(rows) == 0:
            continue
        cand = np.concatenate([members[j] for j in near_cells[c]])
        if len(cand) > MAX_CANDIDATES:  # a degenerate cell (many identical rows): any subset is as good
            cand = rng.choice(cand, size=MAX_CANDIDATES, replace=False)
        cand = np.sort(cand)
        kk = min(k, len(cand) - 1)
        if kk <= 0:
            continue
        step = max(1, BLOCK_ELEMENTS // len(cand))
        for start in range(0, len(rows), step):
            q = rows[start : start + step]
            s = x[q] @ x[cand].T
            pos = np.searchsorted(cand, q)
            own = (pos < len(cand)) & (cand[np.minimum(pos, len(cand) - 1)] == q)
            s[np.flatnonzero(own), pos[own]] = -np.inf  # a listing is not its own neighbour
            idx[q, :kk], val[q, :kk] = _top_k(s, kk)
            idx[q, :kk] = cand[idx[q, :kk]]
    val[~np.isfinite(val)] = np.nan
    idx[np.isnan(val)] = -1
    return idx, val


def near_duplicate_pairs(
    vectors: np.ndarray, titles: Sequence[str], neighbours: np.ndarray, similarities: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (local row indices) of listings a shopper could not tell apart.

    Candidates are each listing's nearest neighbours with cosine >= NEAR_DUPLICATE.set_min_cosine and the
    next TITLE_WINDOW listings in the order of their sorted title words (catches reordered titles);
    each candidate pair is judged by `core.similarity.is_near_duplicate`, so the thresholds are the same.
    """
    n = len(titles)
    if n < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    k = neighbours.shape[1]
    a = np.repeat(np.arange(n), k)
    b = neighbours.ravel()
    s = similarities.ravel()
    keep = (b >= 0) & (s >= NEAR_DUPLICATE.set_min_cosine)
    a, b = a[keep], b[keep]
    ta, tb = _title_window_pairs(titles)
    a, b = np.concatenate([a, ta]), np.concatenate([b, tb])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys = np.unique((lo * n + hi)[lo != hi])
    pairs = np.stack([keys // n, keys % n], axis=1)
    if len(pairs) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    x = np.asarray(vectors, dtype=np.float32)
    sem = np.einsum("ij,ij->i", x[pairs[:, 0]], x[pairs[:, 1]])
    sure = sem >= NEAR_DUPLICATE.cosine
    judged = np.array(
        [is_near_duplicate(float(sem[i]), titles[pairs[i, 0]], titles[pairs[i, 1]]) if not sure[i] else True
         for i in range(len(pairs))],
        dtype=bool,
    )
    pairs = pairs[judged]
    return pairs[:, 0], pairs[:, 1]


def _title_window_pairs(titles: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted neighbourhood: listings next to each other when titles are keyed by their sorted words."""
    keys = [" ".join(sorted(tokens(t))) for t in titles]
    order = np.argsort(np.array(keys, dtype=object), kind="stable")
    a, b = [], []
    for w in range(1, TITLE_WINDOW + 1):
        a.append(order[:-w])
        b.append(order[w:])
    return np.concatenate(a).astype(np.int64), np.concatenate(b).astype(np.int64)


def group_labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the near-duplicate pairs (union-find, vectorized): one group id per row."""
    graph = sp.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int64)


# ---- clusters of offers ---------------------------------------------------------------------------


def combined_similarity(vectors: np.ndarray, lexical: sp.csr_matrix, semantic: np.ndarray | None = None) -> np.ndarray:
    """SEMANTIC_WEIGHT x semantic cosine + the rest x lexical cosine, for all pairs of a small block."""
    if semantic is None:
        semantic = np.asarray(vectors, dtype=np.float32) @ np.asarray(vectors, dtype=np.float32).T
    lex = (lexical @ lexical.T).toarray()
    return SEMANTIC_WEIGHT * semantic + (1 - SEMANTIC_WEIGHT) * lex


def agglomerate(similarity: np.ndarray, distance_threshold: float = CLUSTER_DISTANCE) -> np.ndarray:
    """Average-linkage clusters of a similarity matrix, cut at `distance_threshold` (1 - mean similarity)."""
    if len(similarity) < 2:
        return np.zeros(len(similarity), dtype=np.int64)
    distance = np.clip(1.0 - similarity.astype(np.float64), 0.0, None)
    np.fill_diagonal(distance, 0.0)
    distance = (distance + distance.T) / 2
    model = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=distance_threshold
    )
    return model.fit_predict(distance).astype(np.int64)


def reduce(vectors: np.ndarray, dimensions: int = PCA_DIMENSIONS) -> np.ndarray:
    """PCA-reduced vectors (for k-means speed); a no-op for vectors already this small."""
    x = np.asarray(vectors, dtype=np.float32)
    d = min(dimensions, x.shape[1], len(x))
    if d >= x.shape[1]:
        return x
    return PCA(d, random_state=SEED, svd_solver="randomized").fit_transform(x).astype(np.float32)


def _kmeans(x: np.ndarray, k: int, *, init: str = "k-means++", max_iter: int = 20) -> np.ndarray:
    """k-means labels (k clamped to the number of rows)."""
    k = max(1, min(k, len(x)))
    if k == 1:
        return np.zeros(len(x), dtype=np.int64)
    return KMeans(k, init=init, n_init=1, max_iter=max_iter, random_state=SEED).fit_predict(x).astype(np.int64)


def mean_rows(labels: np.ndarray, matrix, n_groups: int):
    """Mean row per label (dense or sparse): their dot products are the mean pairwise similarities."""
    counts = np.bincount(labels, minlength=n_groups).astype(np.float64)
    ind = sp.csr_matrix((1.0 / counts[labels], (labels, np.arange(len(labels)))), shape=(n_groups, len(labels)))
    out = ind @ matrix
    return out if sp.issparse(out) else np.asarray(out, dtype=np.float32)


def cluster_offers(vectors: np.ndarray, lexical: sp.csr_matrix, semantic: np.ndarray | None = None) -> np.ndarray:
    """Cluster labels (0..k-1) of one category's listings; see SEMANTIC_WEIGHT and CLUSTER_DISTANCE.

    Small categories are clustered exactly. Big ones are cut into micro-clusters first; because rows are
    L2-normalized, the dot product of two micro-clusters' mean rows is the mean similarity between their
    listings, so the same average-linkage rule applies to them.
    """
    n = len(vectors)
    if n <= EXACT_LIMIT:
        return agglomerate(combined_similarity(vectors, lexical, semantic))
    m = min(MAX_MICRO_CLUSTERS, max(2, n // MICRO_CLUSTER_SIZE))
    # Micro-clusters only need to be tight, not well placed: random init and few iterations are enough.
    micro = _kmeans(reduce(vectors), m, init="random", max_iter=10)
    _, micro = np.unique(micro, return_inverse=True)
    m = int(micro.max()) + 1
    sem = mean_rows(micro, np.asarray(vectors, dtype=np.float32), m)
    lex = mean_rows(micro, lexical, m)
    similarity = SEMANTIC_WEIGHT * (sem @ sem.T) + (1 - SEMANTIC_WEIGHT) * (lex @ lex.T).toarray()
    return agglomerate(similarity)[micro]


def coarse_groups(vectors: np.ndarray) -> np.ndarray:
    """Groups that stand in for categories in a catalog without any: k-means with k = sqrt(n / 2)."""
    k = max(1, round(math.sqrt(len(vectors) / 2)))
    return np.zeros(len(vectors), dtype=np.int64) if k == 1 else _kmeans(reduce(vectors), k)


# ---- names ----------------------------------------------------------------------------------------


def _title_terms(title: str, brand: str) -> set[str]:
    """Words and two-word phrases of a title that can name a cluster.

    Left out: numbers (sizes name a listing, not a kind), the brand, two-word phrases with a one-letter
    word ("e serum"), and pairs of CJK bigrams (they overlap; single bigrams read better).
    """
    brand_key = " ".join(tokens(brand)) if brand else ""
    out = set()
    for p in phrases(title, max_n=2):
        words = p.split()
        if p == brand_key or any(ch.isdigit() for ch in p):
            continue
        if len(words) == 2 and (any(len(w) < 2 for w in words) or any(_CJK_RE.match(w) for w in words)):
            continue
        out.add(p)
    return out


def ctfidf_keywords(titles: Sequence[str], brands: Sequence[str], labels: np.ndarray, n_labels: int, top: int = 5) -> list[list[str]]:
    """c-TF-IDF keywords per label, as BERTopic computes them (class-based TF-IDF over title phrases).

    weight(t, c) = tf(t, c) / |c| x log(1 + A / f(t)), with tf counted once per listing, A the mean
    number of phrases per class and f(t) the frequency of t over all classes.
    """
    vocab: dict[str, int] = {}
    seen: dict[tuple[str, str], list[int]] = {}
    rows, cols = [], []
    for i, (t, b) in enumerate(zip(titles, brands)):
        key = (t, b)
        if key not in seen:
            seen[key] = [vocab.setdefault(p, len(vocab)) for p in sorted(_title_terms(t, b))]
        cols.extend(seen[key])
        rows.extend([i] * len(seen[key]))
    if not vocab:
        return [[] for _ in range(n_labels)]
    x = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(titles), len(vocab)))
    ind = sp.csr_matrix((np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))), shape=(n_labels, len(titles)))
    tf = (ind @ x).tocsr()
    freq = np.asarray(tf.sum(axis=0)).ravel()
    words_per_class = np.asarray(tf.sum(axis=1)).ravel()
    avg = max(1.0, float(words_per_class.mean()))
    idf = np.log1p(avg / np.maximum(freq, 1e-9)).astype(np.float32)
    sizes = np.maximum(np.bincount(labels, minlength=n_labels), 1).astype(np.float32)
    weights = sp.diags(1.0 / sizes) @ tf @ sp.diags(idf)
    terms = np.array(list(vocab), dtype=object)
    out = []
    for c in range(n_labels):
        row = weights.getrow(c)
        if row.nnz == 0:
            out.append([])
            continue
        best = row.indices[np.lexsort((terms[row.indices], -row.data))][: 3 * top]
        out.append(_readable(list(terms[best]), top))
    return out


def _readable(ranked: list[str], top: int) -> list[str]:
    """Best-first keywords; a phrase inside a kept one is skipped, and a longer one replaces what it contains."""
    kept: list[str] = []
    for p in ranked:
        padded = f" {p} "
        if any(padded in f" {k} " for k in kept):
            continue
        inside = [i for i, k in enumerate(kept) if f" {k} " in padded]
        if inside:
            kept[inside[0]] = p
            kept = [k for i, k in enumerate(kept) if i not in inside[1:]]
        else:
            kept.append(p)
    return kept[:top]


def representatives(vectors: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Row of each label's listing nearest its mean vector (the listing that best stands for it)."""
    x = np.asarray(vectors, dtype=np.float32)
    centres = mean_rows(labels, x, n_labels)
    score = np.einsum("ij,ij->i", x, centres[labels])
    best = np.full(n_labels, -1, dtype=np.int64)
    order = np.lexsort((-score, labels))
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    best[labels[order][first]] = order[first]
    return best
