"""Map coordinates of a landscape: a 2-D projection of the listings and the saturation chart's data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from diffscan.errors import QueryError

if TYPE_CHECKING:
    from diffscan.analyses.landscape import Landscape
    from diffscan.index.store import Index

COLOR_BY = ("category", "cluster")
OTHER = "other"


@dataclass(frozen=True)
class ProjectionParams:
    """How the saturation map is projected and coloured (docs/saturation.md, Maps).

    Parameters
    ----------
    sample: t-SNE runs on a random sample of at most this many listings (seconds on 2 cores; all 20,000
        BigBasket listings take minutes); every other listing is placed by its nearest sampled ones.
    pca_dimensions: vectors are reduced to this many PCA dimensions before t-SNE (the usual t-SNE recipe).
    tsne_iterations: t-SNE iterations (at least 250, scikit-learn's minimum): enough for stable blobs.
    perplexity: t-SNE perplexity, lowered for samples too small for it.
    place_neighbours: a listing outside the sample sits at the similarity-weighted mean of this many most
        similar sampled listings.
    seed: random state of the sample, PCA and t-SNE, so a map repeats exactly.
    max_colours: this many categories (or clusters) get a colour and a legend entry, the rest are grey
        "other" (more colours cannot be told apart): by category, every crowded category (even past this
        many) and then the most saturated judged ones, in the table's order, so the legend names what the
        saturation chart lists; by cluster, the biggest clusters.
    chart_categories: the saturation chart shows the most saturated this many categories.
    """

    sample: int = 3000
    pca_dimensions: int = 50
    tsne_iterations: int = 500
    perplexity: float = 30.0
    place_neighbours: int = 5
    seed: int = 0
    max_colours: int = 20
    chart_categories: int = 30


PROJECTION = ProjectionParams()


def project(vectors: np.ndarray, *, params: ProjectionParams = PROJECTION) -> np.ndarray:
    """2-D coordinates of L2-normalized vectors: PCA then t-SNE on `params.sample` of them (seeded by
    `params.seed`), the rest placed by neighbours."""
    # Imported here: scikit-learn costs a second to import, and a kept map needs none of it.
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    sample, seed = params.sample, params.seed
    x = np.asarray(vectors, dtype=np.float32)
    n = len(x)
    if n < 5:  # too few for t-SNE: spread them on a line in PCA order
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(n, size=min(n, sample), replace=False))
    d = min(params.pca_dimensions, x.shape[1], len(chosen))
    reduced = PCA(d, random_state=seed).fit_transform(x[chosen])
    perplexity = float(min(params.perplexity, (len(chosen) - 1) / 3))
    tsne = TSNE(2, init="pca", perplexity=perplexity, max_iter=max(250, params.tsne_iterations), random_state=seed)
    out = np.zeros((n, 2), dtype=float)
    # One OpenMP thread: on a shared 2-core machine more threads spin and run several times slower.
    with threadpool_limits(1, user_api="openmp"):
        out[chosen] = tsne.fit_transform(reduced)
    rest = np.setdiff1d(np.arange(n), chosen)
    if len(rest):
        out[rest] = _place(x[rest], x[chosen], out[chosen], rng, params.place_neighbours)
    return out


def _place(rest: np.ndarray, anchors: np.ndarray, anchor_xy: np.ndarray, rng, neighbours: int) -> np.ndarray:
    """Put each listing at the similarity-weighted mean of its `neighbours` nearest anchors, with a little jitter."""
    k = min(neighbours, len(anchors))
    out = np.zeros((len(rest), 2))
    step = max(1, (1 << 22) // len(anchors))
    spread = float(np.std(anchor_xy)) or 1.0
    for start in range(0, len(rest), step):
        sims = rest[start : start + step] @ anchors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        w = np.clip(np.take_along_axis(sims, top, axis=1), 1e-3, None) ** 4
        out[start : start + step] = np.einsum("ij,ijk->ik", w / w.sum(1, keepdims=True), anchor_xy[top])
    return out + rng.normal(scale=0.01 * spread, size=out.shape)


def _projection(index: Index, params: ProjectionParams) -> np.ndarray:
    """The index's 2-D projection, computed once per loaded index and parameters (not per landscape)."""
    memo = index.memo.setdefault("map_xy", {})
    if params not in memo:
        memo[params] = project(index.vectors, params=params)
    return memo[params]


def named_categories(landscape: Landscape, params: ProjectionParams = PROJECTION) -> list[str]:
    """The categories a map names (colour and legend), in the table's order: every crowded one, then the
    most saturated judged ones up to `params.max_colours`."""
    cats = landscape.categories
    judged = cats["judged"] if "judged" in cats else pd.Series(True, index=cats.index)
    crowded = cats.loc[cats["crowded"], "category"].tolist()
    rest = cats.loc[judged & ~cats["crowded"], "category"].tolist()
    return crowded + rest[: max(0, params.max_colours - len(crowded))]


def landscape_map(index: Index, landscape: Landscape, *, color_by: str = "category",
                  params: ProjectionParams = PROJECTION, xy: np.ndarray | None = None) -> pd.DataFrame:
    """One row per listing: x, y, listing_id, title, category, cluster_id, cluster_label, crowding,
    saturation_score, crowded, verdict, look_alikes, cluster_share, colour.

    `crowding` (0-100) is the listing's mean similarity to its nearest listings in its category;
    `saturation_score`, `crowded` and `verdict` are its category's; `look_alikes` counts the other listings
    of its near-duplicate group and `cluster_share` is its cluster's share of the category's listings (NaN
    for a listing in no cluster), which say why a point is crowded. `colour` is the category
    (`named_categories`) or cluster label (the `params.max_colours` biggest) used to colour the point, the
    rest "other". `xy` are coordinates computed before (`kept.map_coordinates`); by default the index's
    projection is computed once per loaded index.
    """
    if color_by not in COLOR_BY:
        raise QueryError(f"Unknown map colouring '{color_by}': use one of {', '.join(COLOR_BY)}.", parameter="color_by")
    a = landscape.assignments
    xy = _projection(index, params) if xy is None else xy
    cats = landscape.categories.set_index("category")
    groups = a["near_duplicate_group"].to_numpy()
    cluster_size = a.groupby("cluster_id")["cluster_id"].transform("size").to_numpy(dtype=float)
    category_size = a.groupby("category")["category"].transform("size").to_numpy(dtype=float)
    frame = pd.DataFrame({
        "x": xy[:, 0],
        "y": xy[:, 1],
        "listing_id": a["listing_id"].to_numpy(),
        "title": index.listings["title"].astype(str).to_numpy(),
        "category": a["category"].to_numpy(),
        "cluster_id": a["cluster_id"].to_numpy(),
        "cluster_label": a["cluster_label"].to_numpy(),
        "crowding": np.round(100 * np.nan_to_num(a["knn_similarity"].to_numpy(dtype=float), nan=0.0), 1),
        "saturation_score": a["category"].map(cats["saturation_score"]).to_numpy(dtype=float),
        "crowded": a["category"].map(cats["crowded"]).fillna(False).to_numpy(dtype=bool),
        "verdict": a["category"].map(cats["verdict"]).to_numpy() if "verdict" in cats else "",
        "look_alikes": np.bincount(groups)[groups] - 1,
        "cluster_share": np.where(a["is_singleton"].to_numpy(dtype=bool), np.nan, cluster_size / category_size),
    })
    if color_by == "category":
        key, named = frame["category"], set(named_categories(landscape, params))
    else:
        key = frame["cluster_id"] + " " + frame["cluster_label"]
        named = set(key.value_counts().index[:params.max_colours])
    frame["colour"] = key.where(key.isin(named), OTHER)
    return frame


def search_mask(frame: pd.DataFrame, words: str) -> np.ndarray:
    """Which points of a map match a search: every word in the title (case-insensitive), or the listing id
    itself; all of them for an empty search. The map greys the rest, it does not hide them."""
    words = words.strip()
    if not words:
        return np.ones(len(frame), dtype=bool)
    titles = frame["title"].astype(str).str.casefold()
    found = np.ones(len(frame), dtype=bool)
    for word in words.casefold().split():
        found &= titles.str.contains(word, regex=False).to_numpy()
    return found | (frame["listing_id"].astype(str) == words).to_numpy()


def saturation_chart(landscape: Landscape, top: int = PROJECTION.chart_categories) -> pd.DataFrame:
    """The most saturated categories, for the bar chart: category, saturation_score, crowded, listings."""
    cols = ["category", "saturation_score", "crowded", "listings", "rank"]
    return landscape.categories[cols].head(top).iloc[::-1].reset_index(drop=True)
