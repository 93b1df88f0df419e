"""Where is the market crowded? Clusters, near-duplicate groups, homogenization and saturation per category.

`analyze_landscape(index)` returns plain tables (a `Landscape`); `analyses.projection.landscape_map` gives
their map coordinates and `present.figures.write_map` draws them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from diffscan.analyses import clusters as cl
from diffscan.analyses.clusters import CLUSTERING, ClusterParams
from diffscan.core.similarity import COSINE_SCALE, CosineScale
from diffscan.errors import QueryError
from diffscan.index.store import Index

__all__ = [
    "SATURATION", "SATURATION_FORMULA", "Landscape", "SaturationParams", "analyze_landscape", "brand_concentration",
    "choose_level", "distinct_offers", "effective_number", "is_crowded", "label_flags", "near_duplicate_share",
    "price_spread", "saturation_parts", "saturation_score", "shrink_scores", "CROWDED", "NOT_CROWDED", "TOO_FEW",
]

ALL = "(all)"
NO_CATEGORY = "(no category)"
SINGLETONS = "(singletons)"
CROWDED, NOT_CROWDED = "crowded", "not crowded"
TOO_FEW = "too few listings to judge"  # the `verdict` of a category under `min_judged_listings`


@dataclass(frozen=True)
class SaturationParams:
    """How the saturation score and the crowded flag are computed (docs/saturation.md).

    Saturation score = 100 x the weighted mean of its parts (each 0..1, 1 = saturated); a part that
    cannot be measured (no prices, no brands, a single listing) is left out and the weights renormalized.

    Parameters
    ----------
    weights: weight of each part: near_duplicates (near-duplicate share), similarity (mean kNN cosine on
        `scale`), crowding (listings per kind of offer, log scale, `crowding_reference` -> 1), price
        (1 - price spread), brands (1 - brand HHI), labels (label completeness).
    scale: the cosine scale of the similarity part (0 at `scale.far`, 1 at `scale.near`).
    knn: the similarity part (and the map's crowding) is each listing's mean cosine to its this many nearest
        listings of the category: a few, so a small category of look-alikes reads as alike.
    crowding_reference: listings per kind of offer at which crowding reaches 1.
    crowded_score, crowded_min_listings: a category is crowded at this score with this many listings.
    prior_listings: a category's shown score is shrunk toward the catalog's mean as if it held this many
        more listings scoring the mean, (n x raw + m x mean) / (n + m): a score measured on 2 listings is
        mostly noise, so small categories cannot win the ranking by chance (empirical-Bayes shrinkage).
    min_judged_listings: a category with fewer listings is "too few listings to judge": never crowded and
        ranked after every category that is judged.
    min_category_listings: the default level is the deepest where half the listings sit in categories
        this big.
    """

    weights: tuple[tuple[str, float], ...] = (
        ("near_duplicates", 0.30), ("similarity", 0.20), ("crowding", 0.20),
        ("price", 0.10), ("brands", 0.10), ("labels", 0.10),
    )
    scale: CosineScale = COSINE_SCALE
    knn: int = 5
    crowding_reference: int = 200
    crowded_score: float = 55.0
    crowded_min_listings: int = 20
    prior_listings: int = 10
    min_judged_listings: int = 5
    min_category_listings: int = 20

    @property
    def weight(self) -> dict[str, float]:
        return dict(self.weights)

    def crowded_rule(self) -> str:
        """The crowded rule in words."""
        return f"saturation >= {self.crowded_score:g} with {self.crowded_min_listings}+ listings"

    def formula(self) -> str:
        """The formula as shown in help texts, the JSON export and docs, from these numbers."""
        w = self.weight
        letters = {"near_duplicates": "D", "similarity": "S", "crowding": "C", "price": "P", "brands": "B",
                   "labels": "L"}
        terms = " + ".join(f"{w[k]:.2f} {letters[k]}" for k in letters if k in w)
        far, near = self.scale.far, self.scale.near
        m = self.prior_listings
        return f"""\
raw saturation = 100 x ({terms})
                 / (sum of the weights of the parts that can be measured)
D = near-duplicate share: listings with a look-alike shoppers cannot tell apart
S = (mean cosine to the {self.knn} nearest listings - {far:.2f}) / {near - far:.2f}, clipped to 0..1
C = min(1, ln(1 + listings / effective clusters) / ln(1 + {self.crowding_reference}))
P = 1 - min(1, price spread), spread = (p75 - p25) / median price
B = 1 - brand HHI (many brands selling the same thing)
L = label completeness: share stating brand, size/quantity, material, colour
saturation = (n x raw saturation + {m} x catalog mean) / (n + {m}), n = the category's listings,
             catalog mean = the mean raw saturation over all listings (small categories lean to it)
under {self.min_judged_listings} listings: too few listings to judge, ranked last
crowded = saturation >= {self.crowded_score:g} and at least {self.crowded_min_listings} listings"""


SATURATION = SaturationParams()
LABEL_KINDS = ("brand", "quantity", "material", "colour")  # the standard labels of label completeness
_LABEL_ROWS = 50_000  # listings whose labels are read at once (memory only)
SATURATION_FORMULA = SATURATION.formula()

Progress = Callable[[str, int, int], None]
# An earlier analysis's clustering of one category: (cluster label, knn similarity, pair rows a, b), rows
# local to the category, or None to compute it.
Reuse = Callable[[str, np.ndarray], "tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None"]


@dataclass
class Landscape:
    """Clusters, near-duplicate groups and homogenization of a catalog at one category level.

    `assignments`: one row per listing (index row order): listing_id, category, cluster_id,
    cluster_label, near_duplicate_group, is_singleton, knn_similarity.
    `clusters`: one row per cluster, with keywords, representative and homogenization metrics.
    `categories`: one row per category ranked by saturation_score (rank 1 = most saturated).
    """

    level: int
    assignments: pd.DataFrame
    clusters: pd.DataFrame
    categories: pd.DataFrame
    note: str = ""
    params: SaturationParams = SATURATION
    clustering: ClusterParams = CLUSTERING

    def to_dict(self) -> dict:
        """The JSON document of `diffscan saturation --format json`: level, note, formula, categories, clusters."""
        return {"level": self.level, "note": self.note, "formula": self.params.formula(),
                "categories": self.categories.to_dict(orient="records"),
                "clusters": self.clusters.to_dict(orient="records")}

    def crowded_count(self) -> int:
        """How many categories are crowded."""
        return int(self.categories["crowded"].sum())

    def clusters_of(self, category: str) -> pd.DataFrame:
        """The clusters of one category, biggest first."""
        return self.clusters[self.clusters["category"] == category].sort_values("size", ascending=False)


# ---- categories and level --------------------------------------------------------------------------


def category_names(paths: Sequence[Sequence[str]], level: int) -> np.ndarray:
    """Each listing's category path cut at `level` and joined with ' > '."""
    names: dict[tuple, str] = {}  # one string per category, not one per listing (a million listings: ~100 MB)
    out = np.empty(len(paths), dtype=object)
    for i, p in enumerate(paths):
        key = tuple(p[:level]) if len(p) else None
        name = names.get(key)
        if name is None:
            name = names[key] = NO_CATEGORY if key is None else " > ".join(key)
        out[i] = name
    return out


def choose_level(paths: Sequence[Sequence[str]], level: int | None = None, *,
                 min_listings: int = SATURATION.min_category_listings) -> tuple[int, str]:
    """The category level to analyze and a sentence saying why (validates a level the user gave)."""
    depth = max((len(p) for p in paths), default=0)
    if level is not None:
        if level < 0 or level > depth:
            raise QueryError(f"Category level {level} is outside this catalog's category paths: use 0 to {depth} "
                             "(0 = no categories).", parameter="level")
        if level == 0:
            return 0, "level 0 (chosen): clusters over the whole catalog act as categories."
        return level, f"level {level} (chosen).{_shorter_paths(paths, level)}"
    if depth == 0:
        return 0, "The catalog has no categories: clusters over the whole catalog act as categories (level 0)."
    n = len(paths)
    for lv in range(depth, 0, -1):
        sizes = Counter(category_names(paths, lv).tolist())
        big = sum(c for c in sizes.values() if c >= min_listings)
        if big >= 0.5 * n:
            return lv, (f"level {lv} of {depth}: the deepest level where at least half of the listings sit in "
                        f"categories of {min_listings}+ listings.{_shorter_paths(paths, lv)}")
    return 1, (f"level 1 of {depth}: most categories hold fewer than {min_listings} listings even at the "
               "top level, so figures for small categories are rough.")


def _shorter_paths(paths: Sequence[Sequence[str]], level: int) -> str:
    """A sentence when some category paths have fewer levels than `level` (they are kept whole), else ""."""
    short = sum(1 for p in paths if 0 < len(p) < level)
    if not short:
        return ""
    return (f" Categories are cut at up to {level} levels; {short:,} listings have shorter paths and keep "
            "them whole.")


# ---- metric functions (one group of listings each) --------------------------------------------------


def distinct_offers(groups: Sequence[int]) -> int:
    """Number of distinct offers: near-duplicate groups among the listings."""
    return len(np.unique(np.asarray(groups)))


def near_duplicate_share(groups: Sequence[int], group_sizes: Sequence[int] | None = None) -> float:
    """Share of listings that have at least one near-duplicate (their group has 2+ listings).

    `group_sizes` are the catalog-wide sizes of each listing's group; without them, the sizes inside
    `groups` are used.
    """
    g = np.asarray(groups)
    if len(g) == 0:
        return float("nan")
    if group_sizes is None:
        _, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
        group_sizes = counts[inverse]
    return float(np.mean(np.asarray(group_sizes) >= 2))


def effective_number(labels: Sequence) -> float:
    """Inverse Herfindahl index of label shares: 4 equal clusters -> 4, one dominant cluster -> near 1."""
    counts = np.array(list(Counter(labels).values()), dtype=float)
    if counts.sum() == 0:
        return float("nan")
    shares = counts / counts.sum()
    return float(1.0 / np.sum(shares**2))


def brand_concentration(brands: Sequence[str]) -> tuple[float, float, str]:
    """(top-brand share, brand HHI, top brand) over listings that state a brand; NaN when none does."""
    named = [b.strip().casefold() for b in brands if isinstance(b, str) and b.strip()]
    if not named:
        return float("nan"), float("nan"), ""
    counts = Counter(named)
    top, top_count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    shares = np.array(list(counts.values()), dtype=float) / len(named)
    original = next(b.strip() for b in brands if isinstance(b, str) and b.strip().casefold() == top)
    return float(top_count / len(named)), float(np.sum(shares**2)), original


def price_spread(prices: Sequence[float]) -> float:
    """(75th - 25th percentile) / median of the known prices; NaN with fewer than 3 prices."""
    p = np.asarray(prices, dtype=float)
    p = p[np.isfinite(p) & (p > 0)]
    if len(p) < 3:
        return float("nan")
    q25, q50, q75 = np.percentile(p, [25, 50, 75])
    return float((q75 - q25) / q50) if q50 > 0 else float("nan")


def saturation_parts(m: Mapping[str, float], params: SaturationParams = SATURATION) -> dict[str, float]:
    """The 0..1 parts of the saturation score from a group's metrics (NaN = cannot be measured)."""
    knn = m.get("mean_knn_similarity", float("nan"))
    spread = m.get("price_spread", float("nan"))
    hhi = m.get("brand_hhi", float("nan"))
    per_kind = m["listings"] / max(m.get("effective_clusters", 1.0) or 1.0, 1.0)
    return {
        "near_duplicates": float(m["near_duplicate_share"]),
        "similarity": params.scale.closeness(knn) if _ok(knn) else math.nan,
        "crowding": float(min(1.0, math.log1p(per_kind) / math.log1p(params.crowding_reference))),
        "price": float(1.0 - min(1.0, spread)) if _ok(spread) else math.nan,
        "brands": float(1.0 - hhi) if _ok(hhi) else math.nan,
        "labels": float(m["label_completeness"]) if _ok(m.get("label_completeness", math.nan)) else math.nan,
    }


def saturation_score(parts: Mapping[str, float], params: SaturationParams = SATURATION) -> float:
    """100 x the weighted mean of the measurable parts (see SaturationParams.formula)."""
    weight = params.weight
    used = {k: v for k, v in parts.items() if k in weight and _ok(v)}
    total = sum(weight[k] for k in used)
    return round(100.0 * sum(weight[k] * v for k, v in used.items()) / total, 1) if total else 0.0


def shrink_scores(raw: Sequence[float], listings: Sequence[int], params: SaturationParams = SATURATION) -> np.ndarray:
    """Category scores shrunk toward the catalog's listing-weighted mean: (n x raw + m x mean) / (n + m)."""
    raw = np.asarray(raw, dtype=float)
    n = np.asarray(listings, dtype=float)
    if len(raw) == 0:
        return raw
    mean = float(np.average(raw, weights=n)) if n.sum() > 0 else float(np.mean(raw))
    m = float(params.prior_listings)
    return np.round((n * raw + m * mean) / (n + m), 1)


def is_crowded(score: float, listings: int, params: SaturationParams = SATURATION) -> bool:
    """The crowded rule: a high saturation score on a category big enough for it to mean something."""
    return bool(score >= params.crowded_score and listings >= params.crowded_min_listings)


def _ok(x) -> bool:
    return x is not None and isinstance(x, (int, float, np.floating)) and math.isfinite(x)


# ---- label completeness -----------------------------------------------------------------------------


def label_flags(titles: Sequence[str], descriptions: Sequence[str], brands: Sequence[str]) -> pd.DataFrame:
    """Which standard attributes each listing states: brand, quantity/size, material, colour (booleans).

    Read from the title and description with `diffscan.attributes` (vocabularies and unit regexes).
    """
    from diffscan.core.attributes import extract_attributes

    seen: dict[str, tuple[bool, bool, bool]] = {}
    stated = []
    for title, description, brand in zip(titles, descriptions, brands):
        text = f"{title} | {description[:300]}" if description else title
        flags = seen.get(text)
        if flags is None:
            kinds = {a.kind for a in extract_attributes(text)}
            flags = seen[text] = (bool(kinds & {"size", "quantity"}), "material" in kinds, "colour" in kinds)
        stated.append((bool(str(brand).strip()), *flags))
    columns = list(zip(*stated)) if stated else [()] * len(LABEL_KINDS)
    return pd.DataFrame({f"label_{k}": np.array(c, dtype=bool) for k, c in zip(LABEL_KINDS, columns)})


# ---- the analysis -------------------------------------------------------------------------------------


@dataclass
class _Work:
    """Per-listing arrays filled category by category."""

    cluster_local: np.ndarray
    knn: np.ndarray
    pair_a: list
    pair_b: list


def analyze_landscape(index: Index, level: int | None = None, *, params: SaturationParams = SATURATION,
                      clustering: ClusterParams = CLUSTERING, progress: Progress | None = None,
                      reuse: Reuse | None = None) -> Landscape:
    """Cluster every category's listings, find near-duplicate groups, and rank categories by saturation.

    `level` is the category depth (None: the deepest level with categories of a reasonable size;
    0: no categories, clusters over the whole catalog act as categories). `params` score the categories,
    `clustering` finds neighbours, near-duplicate groups and clusters. `reuse(category, rows)` may give a
    category's clustering from an earlier analysis (`kept`: categories whose listings did not change).
    """
    df = index.listings
    n = len(df)
    if n == 0:
        raise QueryError(f"The index at '{index.path}' has no listings: rebuild it from a catalog with listings.")
    paths = df["category_path"].tolist()
    level, note = choose_level(paths, level, min_listings=params.min_category_listings)
    vectors = np.asarray(index.vectors, dtype=np.float32)
    titles = df["title"].astype(str).tolist()
    brands = df["brand"].fillna("").astype(str).tolist()
    if level == 0:
        coarse = cl.coarse_groups(vectors, params=clustering)
        categories = _coarse_names(titles, brands, coarse)
    else:
        categories = category_names(paths, level)
    work = _cluster_categories(index, vectors, titles, categories, params.knn, clustering, progress, reuse)
    groups = cl.group_labels(n, np.concatenate(work.pair_a), np.concatenate(work.pair_b))
    if progress:
        progress("names", 0, n)
    assignments, cluster_codes, cluster_ids = _assign(df, categories, work, groups)
    del work, groups
    clusters = _cluster_table(index, vectors, titles, brands, assignments, cluster_codes, cluster_ids, progress)
    cl.release_pages(vectors)
    label_of = dict(zip(clusters["cluster_id"], clusters["label"]))
    assignments["cluster_label"] = assignments["cluster_id"].map(label_of)
    per_listing = _per_listing(df, assignments, progress)
    metrics = _group_metrics(per_listing, "cluster_id", params, progress)
    clusters = clusters.merge(metrics, left_on="cluster_id", right_index=True, how="left")
    categories_table = _rank(_group_metrics(per_listing, "category", params).rename_axis("category").reset_index(),
                             assignments, params)
    assignments = assignments[["listing_id", "category", "cluster_id", "cluster_label", "near_duplicate_group",
                               "is_singleton", "knn_similarity"]]
    return Landscape(level=level, assignments=assignments, clusters=clusters.reset_index(drop=True),
                     categories=categories_table, note=note, params=params, clustering=clustering)


def _coarse_names(titles: list[str], brands: list[str], coarse: np.ndarray) -> np.ndarray:
    """Names of the groups that stand in for categories: '(all) > ' + their c-TF-IDF keywords."""
    k = int(coarse.max()) + 1 if len(coarse) else 0
    keywords = cl.ctfidf_keywords(titles, brands, coarse, k, top=3)
    names, used = [], Counter()
    for g in range(k):
        base = f"{ALL} > " + (", ".join(keywords[g]) if keywords[g] else f"group {g + 1}")
        used[base] += 1
        names.append(base if used[base] == 1 else f"{base} #{used[base]}")
    return np.array([names[g] for g in coarse], dtype=object)


def _cluster_categories(index: Index, vectors: np.ndarray, titles: list[str], categories: np.ndarray, knn: int,
                        clustering: ClusterParams, progress: Progress | None, reuse: Reuse | None = None) -> _Work:
    """Neighbours (the `knn` nearest give the knn similarity), near-duplicate pairs and clusters, one
    category at a time (or as `reuse` gives them)."""
    n = len(categories)
    work = _Work(np.zeros(n, dtype=np.int64), np.full(n, np.nan, dtype=np.float32), [np.empty(0, np.int64)], [np.empty(0, np.int64)])
    blocks = pd.Series(np.arange(n)).groupby(categories, sort=True).indices
    total = len(blocks)
    for done, (name, rows) in enumerate(blocks.items()):
        rows = np.asarray(rows)
        if reuse is not None and (earlier := reuse(str(name), rows)) is not None:
            work.cluster_local[rows], work.knn[rows], a, b = earlier
            work.pair_a.append(rows[a])
            work.pair_b.append(rows[b])
            if progress:
                progress("clusters", done + 1, total)
            continue
        v = cl.gather(vectors, rows, clustering.release_rows)
        sims = v @ v.T if len(rows) <= clustering.exact_limit else None
        nbr, val = cl.nearest_neighbours(v, max(clustering.candidates, knn), sims=sims, params=clustering)
        if len(rows) > 1:
            work.knn[rows] = np.nanmean(val[:, :knn], axis=1)
        a, b = cl.near_duplicate_pairs(v, [titles[i] for i in rows], nbr[:, : clustering.candidates],
                                       val[:, : clustering.candidates], params=clustering)
        work.pair_a.append(rows[a])
        work.pair_b.append(rows[b])
        lexical = cl.gather(index.lexical, rows, clustering.release_rows)
        work.cluster_local[rows] = cl.cluster_offers(v, lexical, semantic=sims, params=clustering)
        if progress:
            progress("clusters", done + 1, total)
    return work


def _assign(df: pd.DataFrame, categories: np.ndarray, work: _Work, groups: np.ndarray):
    """Catalog-wide cluster ids ('<category no>.<cluster no>', biggest first; '<category no>.s' for singletons)."""
    frame = pd.DataFrame({"listing_id": df["listing_id"].astype(str).to_numpy(), "category": categories.astype(str),
                          "local": work.cluster_local})
    # Ids are made per (category, local cluster) and shared by its listings, not formatted per listing.
    by = frame.groupby(["category", "local"], sort=True)
    group = by.ngroup().to_numpy()
    order = by.size().rename("n").reset_index()  # one row per group, in ngroup order
    order["cat_no"] = pd.factorize(order["category"], sort=True)[0]
    singleton = order["n"].to_numpy()[group] == 1
    frame["is_singleton"] = singleton
    real = order[order["n"] > 1].sort_values(["category", "n", "local"], ascending=[True, False, True])
    rank = pd.Series(real.groupby("category").cumcount().to_numpy(), index=real.index).reindex(order.index)
    names = np.array([f"{c}.s" if np.isnan(r) else f"{c}.{int(r)}" for c, r in zip(order["cat_no"], rank)],
                     dtype=object)
    frame["cluster_id"] = names[group]
    frame["near_duplicate_group"] = groups
    frame["knn_similarity"] = work.knn
    codes, ids = pd.factorize(frame["cluster_id"])
    return frame.drop(columns="local"), codes.astype(np.int64), list(ids)


def _cluster_table(index: Index, vectors: np.ndarray, titles: list[str], brands: list[str],
                   assignments: pd.DataFrame, codes: np.ndarray, ids: list[str],
                   progress: Progress | None = None) -> pd.DataFrame:
    """One row per cluster: category, size, c-TF-IDF keywords and label, representative listing."""
    k = len(ids)
    keywords = cl.ctfidf_keywords(titles, brands, codes, k,
                                  progress=(lambda done, total: progress("names", done, total)) if progress else None)
    reps = cl.representatives(vectors, codes, k)
    first = pd.Series(np.arange(len(codes))).groupby(codes).first().reindex(range(k)).to_numpy()
    singletons = np.array([cid.endswith(".s") for cid in ids])
    labels = [SINGLETONS if s else (", ".join(kw[:3]) if kw else titles[r][:60]) for s, kw, r in zip(singletons, keywords, reps)]
    return pd.DataFrame({
        "cluster_id": ids,
        "category": assignments["category"].to_numpy()[first],
        "size": np.bincount(codes, minlength=k),
        "label": labels,
        "keywords": keywords,
        "representative_id": assignments["listing_id"].to_numpy()[reps],
        "representative_title": [titles[r] for r in reps],
        "is_singletons": singletons,
    })


def _per_listing(df: pd.DataFrame, assignments: pd.DataFrame, progress: Progress | None = None) -> pd.DataFrame:
    """What the group metrics are computed from, one row per listing."""
    groups = assignments["near_duplicate_group"].to_numpy()
    sizes = np.bincount(groups)[groups]
    # Singletons are each their own kind of offer when counting effective clusters (numbered after the
    # clusters: numbers count as the ids would, and a million of them take 8 MB, not 100).
    codes, ids = pd.factorize(assignments["cluster_id"])
    kind = np.where(assignments["is_singleton"].to_numpy(), len(ids) + np.arange(len(codes)), codes)
    flags = []
    n = len(df)
    for start in range(0, n, _LABEL_ROWS):  # in blocks: a million descriptions at once are ~1 GB of strings
        part = df.iloc[start : start + _LABEL_ROWS]
        flags.append(label_flags(part["title"].astype(str).tolist(), part["description"].fillna("").astype(str).tolist(),
                                 part["brand"].fillna("").astype(str).tolist()))
        if progress:
            progress("labels", min(n, start + _LABEL_ROWS), n)
    flags = pd.concat(flags, ignore_index=True)
    out = pd.DataFrame({
        "category": assignments["category"].to_numpy(),
        "cluster_id": assignments["cluster_id"].to_numpy(),
        "group": groups,
        "group_size": sizes,
        "kind": kind,
        "knn": assignments["knn_similarity"].to_numpy(),
        "brand": df["brand"].fillna("").astype(str).to_numpy(),
        "price": df["price"].to_numpy(dtype=float),
    })
    return pd.concat([out, flags.reset_index(drop=True)], axis=1)


def _group_metrics(per_listing: pd.DataFrame, by: str, params: SaturationParams,
                   progress: Progress | None = None) -> pd.DataFrame:
    """Homogenization metrics and saturation score of every group (category or cluster)."""
    label_cols = [f"label_{k}" for k in LABEL_KINDS]
    col = {c: per_listing[c].to_numpy() for c in ("group", "group_size", "kind", "knn", "brand", "price")}
    labels = per_listing[label_cols].to_numpy(dtype=float)
    records = {}
    groups = per_listing.groupby(by, sort=False).indices
    for done, (key, rows) in enumerate(groups.items(), start=1):
        records[key] = _metrics({c: v[rows] for c, v in col.items()}, labels[rows], label_cols, params)
        if progress and (done % 2000 == 0 or done == len(groups)):
            progress("metrics", done, len(groups))
    return pd.DataFrame.from_dict(records, orient="index")


def _metrics(g: dict[str, np.ndarray], labels: np.ndarray, label_cols: list[str], params: SaturationParams) -> dict:
    """The metrics of one group of listings, from its per-listing arrays."""
    top_share, hhi, top_brand = brand_concentration(g["brand"].tolist())
    knn = g["knn"].astype(float)
    prices = g["price"].astype(float)
    shares = labels.mean(axis=0)
    m = {
        "listings": len(knn),
        "distinct_offers": distinct_offers(g["group"]),
        "near_duplicate_share": near_duplicate_share(g["group"], g["group_size"]),
        "mean_knn_similarity": float(np.nanmean(knn)) if np.isfinite(knn).any() else float("nan"),
        "effective_clusters": effective_number(g["kind"].tolist()),
        "top_brand": top_brand,
        "top_brand_share": top_share,
        "brand_hhi": hhi,
        "median_price": float(np.nanmedian(prices)) if np.isfinite(prices).any() else float("nan"),
        "price_spread": price_spread(prices),
        "label_completeness": float(shares.mean()),
        **{c: float(v) for c, v in zip(label_cols, shares)},
    }
    parts = saturation_parts(m, params)
    m["saturation_score"] = saturation_score(parts, params)
    m.update({f"part_{k}": v for k, v in parts.items()})
    return m


def _rank(categories: pd.DataFrame, assignments: pd.DataFrame, params: SaturationParams) -> pd.DataFrame:
    """Categories ranked by their shrunk saturation score (ties: more listings first), judged ones first,
    with the crowded flag; `raw_saturation_score` keeps the score before shrinking."""
    n_clusters = assignments.groupby("category")["cluster_id"].nunique()
    categories.insert(2, "clusters", categories["category"].map(n_clusters).astype(int))
    raw = categories["saturation_score"].to_numpy(dtype=float)
    at = categories.columns.get_loc("saturation_score")
    categories["saturation_score"] = shrink_scores(raw, categories["listings"], params)
    categories.insert(at + 1, "raw_saturation_score", raw)
    categories["judged"] = categories["listings"] >= params.min_judged_listings
    categories["crowded"] = [bool(j) and is_crowded(s, n, params)
                             for s, n, j in zip(categories["saturation_score"], categories["listings"], categories["judged"])]
    categories["verdict"] = np.where(~categories["judged"], TOO_FEW,
                                     np.where(categories["crowded"], CROWDED, NOT_CROWDED))
    categories = categories.sort_values(["judged", "saturation_score", "listings", "category"],
                                        ascending=[False, False, False, True])
    categories["rank"] = np.arange(1, len(categories) + 1)
    return categories.reset_index(drop=True)
