"""Groups of listings inside a category: nearest neighbours, near-duplicate groups, clusters and their names.

Everything here works on one category (a block of rows) at a time and never holds an all-pairs
matrix of a big category: exact search up to `ClusterParams.exact_limit` listings, an inverted-file
search above it. Every tuned number is a field of `ClusterParams` (default `CLUSTERING`).
"""

from __future__ import annotations

import heapq
import math
import mmap
import re
import warnings
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from diffscan.core.similarity import NEAR_DUPLICATE, NearDuplicateRule
from diffscan.core.text import Segmenter, phrases, tokens, words

__all__ = [
    "CLUSTERING", "ClusterParams", "agglomerate", "cluster_offers", "coarse_groups", "combined_similarity",
    "compact_columns", "ctfidf_keywords", "gather", "group_labels", "mean_rows", "near_duplicate_pairs",
    "nearest_neighbours", "product_types", "reduce", "release_pages", "representatives",
]


@dataclass(frozen=True)
class ClusterParams:
    """How one category's listings are searched, paired into near-duplicates and clustered (docs/saturation.md).

    Parameters
    ----------
    semantic_weight: two listings' similarity is this x semantic cosine + the rest x lexical (character
        n-gram) cosine; 0.2 lexical keeps model numbers and spellings in play (NMI on BigBasket moves < 0.001).
    cluster_distance: average-linkage clusters merge while 1 - mean similarity stays below this; 0.70 is the
        knee on BigBasket (NMI 0.840; 0.75 collapses big categories into one cluster, 0.65 fragments them).
    exact_limit: categories up to this many listings are searched and clustered exactly (a 4,000^2 float32
        matrix is 64 MB); bigger ones go through micro-clusters and the inverted file.
    micro_cluster_size: a big category is first cut into micro-clusters of about this many listings, small
        enough to stay inside one kind of offer.
    max_micro_clusters: at most this many micro-clusters, so their merge matrix stays 1,000^2.
    pca_dimensions: k-means on big categories runs on this many PCA dimensions (speed, not quality).
    candidates: near-duplicate candidates are each listing's this many nearest neighbours (with cosine
        >= `near_duplicate.set_min_cosine`); the knn similarity reads the first few of them.
    title_window: plus the next this many listings in the order of their sorted title words (reordered titles).
    near_duplicate: the rule every candidate pair is judged by (the same as competitors use).
    cell_size: inverted-file cells hold about this many listings.
    probes: each cell is searched against its this many nearest cells: 88% of the exact 10 nearest on 8,000
        BigBasket embeddings.
    max_candidates: never more than this many listings searched at once (a cell of many identical rows).
    block_elements: similarities computed per block (4M floats = 16 MB); memory only, results do not change.
    release_rows: mapped index pages are let go (`release_pages`) after every this many scattered rows read,
        so a million-listing index's 2 GB of mapped files do not stay resident; memory only.
    type_neighbours: product types (a catalog without categories) are Ward clusters over a graph joining each
        listing to its this many nearest neighbours: a type grows only through listings that look alike.
    type_distance: Ward merges stop at this distance. For unit vectors a Ward merge costs
        sqrt(2ab / (a + b)) x the distance of the two centroids, so one threshold stops loose merges of big
        groups and still joins small tight ones, whatever the catalog's size; 2.5 gives types of about 30
        listings on BigBasket (675 types for its 424), 38 on Amazon UK toys and 52 on Product1M, and beats
        k-means at the same number of clusters on all three (docs/saturation.md).
    type_limit: catalogs without categories up to this many listings get Ward product types; bigger ones
        fall back to k-means groups: the exact neighbour search and Ward's merge tree grow faster than n
        (about 12 s at 20,000 listings, 40 s at 30,000 and 140 s at 60,000 on 2 busy cores).
    seed: random state of k-means, PCA and sampling, so an analysis repeats exactly.
    """

    semantic_weight: float = 0.8
    cluster_distance: float = 0.70
    exact_limit: int = 4000
    micro_cluster_size: int = 8
    max_micro_clusters: int = 1000
    pca_dimensions: int = 64
    candidates: int = 10
    title_window: int = 4
    near_duplicate: NearDuplicateRule = NEAR_DUPLICATE
    cell_size: int = 250
    probes: int = 8
    max_candidates: int = 2400
    block_elements: int = 1 << 22
    release_rows: int = 2048
    type_neighbours: int = 5
    type_distance: float = 2.5
    type_limit: int = 30_000
    seed: int = 0

    @property
    def cluster_similarity(self) -> float:
        """The mean similarity clusters keep: 1 - cluster_distance."""
        return 1.0 - self.cluster_distance

    def similarity_rule(self) -> str:
        """The combined similarity and the cut in words, for help texts and docs."""
        return (f"similarity = {self.semantic_weight:.1f} x semantic cosine + {1 - self.semantic_weight:.1f} x lexical "
                f"cosine; clusters merge while the mean similarity stays >= {self.cluster_similarity:.2f}")


CLUSTERING = ClusterParams()
# Scripts written without spaces (text.words cuts Chinese into words).
_SEEN_TITLES = 100_000  # titles whose terms ctfidf_keywords remembers at once (memory, not results)
_CJK_RE = re.compile(r"^[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+$")


def _top_k(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the k largest entries of each row, best first (ties: lower column first)."""
    n = sims.shape[1]
    k = min(k, n)
    if 0 < k and len(sims):
        # A floor under each row's k-th largest, from the maxima of 64 column groups (k of them are >= it),
        # leaves a few dozen candidates a row to sort: ~10x faster than argpartition over whole rows, which
        # was most of the time of exact neighbours (8 s for 20,000 listings).
        groups = min(n, max(k, 64))
        maxima = np.maximum.reduceat(sims, np.linspace(0, n, groups, endpoint=False).astype(np.int64), axis=1)
        floor = np.partition(maxima, groups - k, axis=1)[:, groups - k]
        if not np.isnan(floor).any():
            r, c = np.nonzero(sims >= floor[:, None])
            v = sims[r, c]
            order = np.lexsort((c, -v, r))
            c, v = c[order], v[order]
            pick = np.searchsorted(r[order], np.arange(len(sims)))[:, None] + np.arange(k)
            return c[pick], v[pick]
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(sims, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _padded(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, k), -1, dtype=np.int64), np.full((n, k), np.nan, dtype=np.float32)


def nearest_neighbours(vectors: np.ndarray, k: int, sims: np.ndarray | None = None, *,
                       params: ClusterParams = CLUSTERING) -> tuple[np.ndarray, np.ndarray]:
    """The k most similar other rows of each row (cosine on L2-normalized rows), best first.

    Returns (indices, similarities), both (n, k); rows with fewer than k others are padded with -1 / NaN.
    `sims` is the full similarity matrix when the caller already has it (small categories); without it,
    up to `params.exact_limit` rows are searched exactly, more through an inverted file.
    """
    n = len(vectors)
    idx, val = _padded(n, k)
    kk = min(k, n - 1)
    if kk <= 0:
        return idx, val
    if sims is not None:
        # A block of rows at a time: no copy of the whole matrix, and the top-k of a block that fits in
        # cache is ~10x faster than of a 4,000^2 matrix; every row's result is the same.
        step = max(1, params.block_elements // n)
        for start in range(0, n, step):
            s = np.array(sims[start : start + step])
            local = np.arange(len(s))
            s[local, start + local] = -np.inf
            idx[start : start + len(s), :kk], val[start : start + len(s), :kk] = _top_k(s, kk)
        return idx, val
    if n <= params.exact_limit:
        return _exact_neighbours(np.asarray(vectors, dtype=np.float32), kk, idx, val, params)
    return _ivf_neighbours(np.asarray(vectors, dtype=np.float32), kk, idx, val, params)


def _exact_neighbours(x: np.ndarray, k: int, idx: np.ndarray, val: np.ndarray,
                      params: ClusterParams = CLUSTERING) -> tuple[np.ndarray, np.ndarray]:
    """Exact search in row blocks: memory is block x n, not n x n."""
    n = len(x)
    step = max(1, params.block_elements // n)
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        s = x[rows] @ x.T
        s[np.arange(len(rows)), rows] = -np.inf
        idx[rows, :k], val[rows, :k] = _top_k(s, k)
    return idx, val


def _ivf_cells(x: np.ndarray, params: ClusterParams) -> tuple[np.ndarray, np.ndarray]:
    """Cells of an inverted file: k-means on a sample, every row assigned to its nearest centroid."""
    n_cells = max(2, math.ceil(len(x) / params.cell_size))
    rng = np.random.default_rng(params.seed)
    sample = x[rng.choice(len(x), size=min(len(x), 20 * params.cell_size), replace=False)]
    # sklearn is imported where it is used: the CLI imports this module for help texts (~1 s saved)
    from sklearn.cluster import KMeans

    km = KMeans(n_cells, n_init=1, max_iter=15, random_state=params.seed).fit(sample)
    centres = km.cluster_centers_.astype(np.float32)
    return km.predict(x), centres


def _ivf_neighbours(x: np.ndarray, k: int, idx: np.ndarray, val: np.ndarray,
                    params: ClusterParams) -> tuple[np.ndarray, np.ndarray]:
    """Approximate search: each cell's rows against the rows of its `params.probes` nearest cells (capped)."""
    cell, centres = _ivf_cells(x, params)
    members = [np.flatnonzero(cell == c) for c in range(len(centres))]
    unit = centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)
    affinity = unit @ unit.T
    np.fill_diagonal(affinity, np.inf)  # a cell always searches itself first
    near_cells = np.argsort(-affinity, axis=1)[:, :params.probes]
    rng = np.random.default_rng(params.seed)
    for c, rows in enumerate(members):
        if len(rows) == 0:
            continue
        cand = np.concatenate([members[j] for j in near_cells[c]])
        if len(cand) > params.max_candidates:  # a degenerate cell (many identical rows): any subset is as good
            cand = rng.choice(cand, size=params.max_candidates, replace=False)
        cand = np.sort(cand)
        kk = min(k, len(cand) - 1)
        if kk <= 0:
            continue
        step = max(1, params.block_elements // len(cand))
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
    vectors: np.ndarray, titles: Sequence[str], neighbours: np.ndarray, similarities: np.ndarray, *,
    params: ClusterParams = CLUSTERING,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (local row indices) of listings a shopper could not tell apart.

    Candidates are each listing's nearest neighbours with cosine >= `params.near_duplicate.set_min_cosine`
    and the next `params.title_window` listings in the order of their sorted title words (catches
    reordered titles); each candidate pair is judged by `params.near_duplicate`, the rule competitors use.
    """
    rule = params.near_duplicate
    n = len(titles)
    if n < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    k = neighbours.shape[1]
    a = np.repeat(np.arange(n), k)
    b = neighbours.ravel()
    s = similarities.ravel()
    keep = (b >= 0) & (s >= rule.set_min_cosine)
    a, b = a[keep], b[keep]
    ta, tb = _title_window_pairs(titles, params.title_window)
    a, b = np.concatenate([a, ta]), np.concatenate([b, tb])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys = np.unique((lo * n + hi)[lo != hi])
    pairs = np.stack([keys // n, keys % n], axis=1)
    if len(pairs) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    x = np.asarray(vectors, dtype=np.float32)
    sem = np.einsum("ij,ij->i", x[pairs[:, 0]], x[pairs[:, 1]])
    sure = sem >= rule.cosine
    judged = np.array(
        [rule(float(sem[i]), titles[pairs[i, 0]], titles[pairs[i, 1]]) if not sure[i] else True
         for i in range(len(pairs))],
        dtype=bool,
    )
    pairs = pairs[judged]
    return pairs[:, 0], pairs[:, 1]


def _title_window_pairs(titles: Sequence[str], window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted neighbourhood: listings up to `window` apart when titles are keyed by their sorted words."""
    keys = [" ".join(sorted(tokens(t))) for t in titles]
    order = np.argsort(np.array(keys, dtype=object), kind="stable")
    a, b = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]  # window 0: no title pairs
    for w in range(1, window + 1):
        a.append(order[:-w])
        b.append(order[w:])
    return np.concatenate(a).astype(np.int64), np.concatenate(b).astype(np.int64)


def group_labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the near-duplicate pairs (union-find, vectorized): one group id per row."""
    # here, not at the top: it loads scipy.sparse.linalg (~60 ms a CLI command would pay)
    from scipy.sparse.csgraph import connected_components

    graph = sp.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int64)


# ---- clusters of offers ---------------------------------------------------------------------------


def combined_similarity(vectors: np.ndarray, lexical: sp.csr_matrix, semantic: np.ndarray | None = None, *,
                        params: ClusterParams = CLUSTERING) -> np.ndarray:
    """`params.semantic_weight` x semantic cosine + the rest x lexical cosine, for all pairs of a small block."""
    if semantic is None:
        semantic = np.asarray(vectors, dtype=np.float32) @ np.asarray(vectors, dtype=np.float32).T
    lexical = compact_columns(lexical)
    lex = (lexical @ lexical.T).toarray()
    return params.semantic_weight * semantic + (1 - params.semantic_weight) * lex


def compact_columns(m: sp.csr_matrix) -> sp.csr_matrix:
    """A block of lexical rows with only the columns it uses, in order: the same products (each pair's sum
    runs over the same n-grams in the same order), but transposing it costs the block's n-grams, not the
    2^20 columns of the hashed space (~2 ms a category)."""
    m = sp.csr_matrix(m)
    used, inverse = np.unique(m.indices, return_inverse=True)
    return sp.csr_matrix((m.data, inverse.astype(m.indices.dtype), m.indptr), shape=(m.shape[0], len(used)))


def agglomerate(similarity: np.ndarray, distance_threshold: float = CLUSTERING.cluster_distance) -> np.ndarray:
    """Average-linkage clusters of a similarity matrix, cut at `distance_threshold` (1 - mean similarity)."""
    n = len(similarity)
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    # What scikit-learn's AgglomerativeClustering(metric="precomputed", linkage="average") does, minus its
    # n x n float64 copies (~0.5 GB for a 4,000-listing category): scipy's linkage of the condensed
    # distances, cut where merges reach the threshold, clusters numbered as scikit-learn numbers them.
    from scipy.cluster.hierarchy import linkage

    merges = linkage(_condensed_distance(similarity), method="average")
    n_clusters = int(np.count_nonzero(merges[:, 2] >= distance_threshold)) + 1
    return _cut(merges[:, :2].astype(int).tolist(), n_clusters, n)


def _condensed_distance(similarity: np.ndarray) -> np.ndarray:
    """The upper triangle, row by row, of the symmetrized distance (max(0, 1 - s_ij) + max(0, 1 - s_ji)) / 2."""
    n = len(similarity)
    out = np.empty(n * (n - 1) // 2)
    pos = 0
    step = max(1, (1 << 20) // n)
    for start in range(0, n - 1, step):
        stop = min(n - 1, start + step)
        upper = np.clip(1.0 - similarity[start:stop].astype(np.float64), 0.0, None)
        lower = np.clip(1.0 - similarity[:, start:stop].T.astype(np.float64), 0.0, None)
        both = (upper + lower) / 2
        for r, i in enumerate(range(start, stop)):
            out[pos : pos + n - i - 1] = both[r, i + 1 :]
            pos += n - i - 1
    return out


def _cut(children: list[list[int]], n_clusters: int, n: int) -> np.ndarray:
    """Leaf labels of a merge tree cut into `n_clusters`, numbered as scikit-learn's `_hc_cut` numbers them
    (a heap of the top nodes; the numbering decides which of two equal-sized clusters ranks first)."""
    nodes = [-(max(children[-1]) + 1)]
    for _ in range(n_clusters - 1):
        these = children[-nodes[0] - n]
        heapq.heappush(nodes, -these[0])
        heapq.heappushpop(nodes, -these[1])
    label = [-1] * (2 * n - 1)
    for i, node in enumerate(nodes):
        label[-node] = i
    for m in range(n - 2, -1, -1):  # a node before its children: each leaf gets its top node's label
        if label[n + m] >= 0:
            a, b = children[m]
            label[a] = label[b] = label[n + m]
    return np.array(label[:n], dtype=np.int64)


def reduce(vectors: np.ndarray, *, params: ClusterParams = CLUSTERING) -> np.ndarray:
    """PCA-reduced vectors to `params.pca_dimensions` (for k-means speed); a no-op for vectors already this small."""
    x = np.asarray(vectors, dtype=np.float32)
    d = min(params.pca_dimensions, x.shape[1], len(x))
    if d >= x.shape[1]:
        return x
    from sklearn.decomposition import PCA

    return PCA(d, random_state=params.seed, svd_solver="randomized").fit_transform(x).astype(np.float32)


def _kmeans(x: np.ndarray, k: int, seed: int, *, init: str = "k-means++", max_iter: int = 20) -> np.ndarray:
    """k-means labels (k clamped to the number of rows)."""
    k = max(1, min(k, len(x)))
    if k == 1:
        return np.zeros(len(x), dtype=np.int64)
    from sklearn.cluster import KMeans

    return KMeans(k, init=init, n_init=1, max_iter=max_iter, random_state=seed).fit_predict(x).astype(np.int64)


def release_pages(*arrays) -> None:
    """Drop the pages of read-only memory-mapped arrays (a large index's vectors and lexical rows) that this
    process has read from its resident set.

    The kernel keeps them in its page cache, so reading them again costs a page fault, not a disk read;
    without this, a pass over a million-listing index leaves its 2 GB of mapped files resident for the
    rest of the analysis. Arrays that are not read-only maps are left alone.
    """
    for a in arrays:
        base = a
        while isinstance(base, np.ndarray) and not isinstance(base, np.memmap):
            base = base.base
        handle = getattr(base, "_mmap", None) if isinstance(base, np.memmap) and base.mode == "r" else None
        if handle is not None and hasattr(mmap, "MADV_DONTNEED"):
            handle.madvise(mmap.MADV_DONTNEED)


def gather(matrix, rows: np.ndarray, step: int):
    """`matrix[rows]` of dense rows or a CSR matrix, read `step` rows at a time, letting go of mapped pages after
    each read (`release_pages`): one category's rows are spread over the whole file, and each page fault maps
    the pages around it too, so a few thousand scattered rows would otherwise keep most of the file resident."""
    sparse = sp.issparse(matrix)
    parts = []
    for start in range(0, len(rows), max(1, step)):
        parts.append(matrix[rows[start : start + max(1, step)]])
        release_pages(*((matrix.data, matrix.indices) if sparse else (matrix,)))
    if not parts:
        return matrix[rows]
    if len(parts) == 1:
        return parts[0]
    return sp.vstack(parts, format="csr") if sparse else np.concatenate(parts)


def mean_rows(labels: np.ndarray, matrix, n_groups: int):
    """Mean row per label (dense or sparse): their dot products are the mean pairwise similarities."""
    counts = np.bincount(labels, minlength=n_groups).astype(np.float64)
    ind = sp.csr_matrix((1.0 / counts[labels], (labels, np.arange(len(labels)))), shape=(n_groups, len(labels)))
    out = ind @ matrix
    return out if sp.issparse(out) else np.asarray(out, dtype=np.float32)


def cluster_offers(vectors: np.ndarray, lexical: sp.csr_matrix, semantic: np.ndarray | None = None, *,
                   params: ClusterParams = CLUSTERING) -> np.ndarray:
    """Cluster labels (0..k-1) of one category's listings: average linkage on the combined similarity, cut
    at `params.cluster_distance`.

    Categories up to `params.exact_limit` listings are clustered exactly. Bigger ones are cut into
    micro-clusters first; because rows are L2-normalized, the dot product of two micro-clusters' mean rows
    is the mean similarity between their listings, so the same average-linkage rule applies to them.
    """
    n = len(vectors)
    if n <= params.exact_limit:
        return agglomerate(combined_similarity(vectors, lexical, semantic, params=params), params.cluster_distance)
    m = min(params.max_micro_clusters, max(2, n // params.micro_cluster_size))
    # Micro-clusters only need to be tight, not well placed: random init and few iterations are enough.
    micro = _kmeans(reduce(vectors, params=params), m, params.seed, init="random", max_iter=10)
    _, micro = np.unique(micro, return_inverse=True)
    m = int(micro.max()) + 1
    sem = mean_rows(micro, np.asarray(vectors, dtype=np.float32), m)
    lex = mean_rows(micro, lexical, m)
    w = params.semantic_weight
    similarity = w * (sem @ sem.T) + (1 - w) * (lex @ lex.T).toarray()
    return agglomerate(similarity, params.cluster_distance)[micro]


def coarse_groups(vectors: np.ndarray, *, params: ClusterParams = CLUSTERING) -> np.ndarray:
    """Groups that stand in for categories in a catalog without any: product types (`product_types`), or
    k-means with k = sqrt(n / 2) above `params.type_limit` listings."""
    if 2 < len(vectors) <= params.type_limit:
        return product_types(vectors, params=params)
    k = max(1, round(math.sqrt(len(vectors) / 2)))
    return np.zeros(len(vectors), dtype=np.int64) if k == 1 else _kmeans(reduce(vectors, params=params), k, params.seed)


def product_types(vectors: np.ndarray, *, params: ClusterParams = CLUSTERING) -> np.ndarray:
    """Labels (0..k-1) of the kinds of product of a catalog without categories: Ward clusters over the graph
    of each listing's `params.type_neighbours` nearest neighbours, cut at `params.type_distance`.

    Ward keeps clusters compact where k-means' round cells cut through elongated product families, and the
    neighbour graph keeps a type from jumping across the catalog; the cut, not a k, sets how many types.
    """
    x = np.asarray(vectors, dtype=np.float32)
    n = len(x)
    if n < 3:
        return np.zeros(n, dtype=np.int64)
    # Exact neighbours: the inverted file's misses (12%) cost Ward more than they save (0.73 -> 0.71 NMI on
    # BigBasket), and up to `type_limit` listings the exact search takes seconds.
    k = min(params.type_neighbours, n - 1)
    idx, _ = _exact_neighbours(x, k, *_padded(n, k), params)
    rows = np.repeat(np.arange(n), idx.shape[1])
    cols = idx.ravel()
    ok = cols >= 0
    graph = sp.csr_matrix((np.ones(int(ok.sum()), dtype=np.float32), (rows[ok], cols[ok])), shape=(n, n))
    from sklearn.cluster import AgglomerativeClustering

    with warnings.catch_warnings():
        # A graph in several pieces is joined by scikit-learn at its nearest points (it warns that it does).
        warnings.simplefilter("ignore", UserWarning)
        labels = AgglomerativeClustering(None, linkage="ward", connectivity=graph,
                                         distance_threshold=params.type_distance).fit_predict(x)
    return labels.astype(np.int64)


# ---- names ----------------------------------------------------------------------------------------


def _title_terms(title: str, brand: str, segmenter: Segmenter | None = None) -> set[str]:
    """Words and two-word phrases of a title that can name a cluster.

    Left out: numbers (sizes name a listing, not a kind), the brand, two-word phrases with a one-letter
    word ("e serum"), and two-word phrases with a Chinese word (one word reads better as a name). Chinese
    comes cut into words by `segmenter`: no single characters, no marketing filler (`text.phrases`).
    """
    brand_key = " ".join(words(brand, segmenter)) if brand else ""
    out = set()
    for p in phrases(title, max_n=2, segmenter=segmenter):
        parts = p.split()
        if p == brand_key or any(ch.isdigit() for ch in p):
            continue
        if len(parts) == 2 and (any(len(w) < 2 for w in parts) or any(_CJK_RE.match(w) for w in parts)):
            continue
        out.add(p)
    return out


def ctfidf_keywords(titles: Sequence[str], brands: Sequence[str], labels: np.ndarray, n_labels: int, top: int = 5,
                    *, segmenter: Segmenter | None = None,
                    progress: Callable[[int, int], None] | None = None) -> list[list[str]]:
    """c-TF-IDF keywords per label, as BERTopic computes them (class-based TF-IDF over title phrases).

    weight(t, c) = tf(t, c) / |c| x log(1 + A / f(t)), with tf counted once per listing, A the mean
    number of phrases per class and f(t) the frequency of t over all classes. Chinese titles are cut
    into words by `segmenter` (`usps.catalog_segmenter` of the index; by default one that knows the
    Chinese brand names among `brands`, loaded only when a title has Chinese). `progress(done, total)` is
    told how many titles have been read.
    """
    if segmenter is None:  # cheap: jieba loads only if a title has Chinese
        segmenter = Segmenter(set(brands))
    vocab: dict[str, int] = {}
    seen: dict[tuple[str, str], list[int]] = {}
    # Term ids in a flat int32 array, not Python lists: a million titles have ~15M (title, term) pairs.
    cols, lengths = array("i"), np.zeros(len(titles), dtype=np.int64)
    for i, (t, b) in enumerate(zip(titles, brands)):
        key = (t, b)
        ids = seen.get(key)
        if ids is None:
            if len(seen) >= _SEEN_TITLES:  # repeated titles sit close together; the memo need not hold them all
                seen.clear()
            ids = seen[key] = [vocab.setdefault(p, len(vocab)) for p in sorted(_title_terms(t, b, segmenter))]
        cols.extend(ids)
        lengths[i] = len(ids)
        if progress and (i + 1) % 50_000 == 0:
            progress(i + 1, len(titles))
    del seen
    if progress:
        progress(len(titles), len(titles))
    if not vocab:
        return [[] for _ in range(n_labels)]
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    x = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), np.frombuffer(cols, dtype=np.int32), indptr),
                      shape=(len(titles), len(vocab)))
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
    weights = weights.tocsr()
    for c in range(n_labels):
        lo, hi = weights.indptr[c], weights.indptr[c + 1]
        if lo == hi:
            out.append([])
            continue
        ids, data = weights.indices[lo:hi], weights.data[lo:hi]
        best = ids[np.lexsort((terms[ids], -data))][: 3 * top]
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
    labels = np.asarray(labels)
    score = np.empty(len(labels), dtype=np.float32)
    # The rows of a few thousand labels at a time, each label's in row order: every mean is summed as over
    # the whole matrix, without its float64 copy (scipy multiplies in float64: 2 GB at a million rows).
    by_label = np.argsort(labels, kind="stable")
    ordered = labels[by_label]
    step = max(1, CLUSTERING.block_elements // max(1, vectors.shape[1]))
    start = 0
    while start < len(by_label):
        stop = int(np.searchsorted(ordered, ordered[min(len(by_label), start + step) - 1], side="right"))
        rows = by_label[start:stop]
        x = np.asarray(gather(vectors, rows, CLUSTERING.release_rows), dtype=np.float32)
        local, inverse = np.unique(ordered[start:stop], return_inverse=True)
        score[rows] = np.einsum("ij,ij->i", x, mean_rows(inverse, x, len(local))[inverse])
        start = stop
    best = np.full(n_labels, -1, dtype=np.int64)
    order = np.lexsort((-score, labels))
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    best[labels[order][first]] = order[first]
    return best
