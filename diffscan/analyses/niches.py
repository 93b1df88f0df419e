"""Where is there room to stand out? Niches: narrow regions of a catalog with demand and few distinct offers.

Candidates are the landscape's clusters, sub-clusters (a cluster cut again at a tighter similarity),
pockets (a listing with demand and its few look-alikes) and attribute combinations inside a category
(material x audience x use x feature, read from titles and descriptions). Each gets an opportunity score
with visible components; the best are described with their size, demand, top competitors, price band,
the USPs that set them apart from the crowded cluster next to them, and a positioning line.

    opportunity = 100 x demand x (0.60 x (1 - competition) + 0.20 x (1 - homogenization) + 0.20 x price_room)

docs/niches.md explains every component; `OPPORTUNITY_FORMULA` is the same text for help screens.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from diffscan.analyses import clusters as cl
from diffscan.analyses.differentiation import (
    Point,
    count_keys,
    listing_attributes,
    listing_stated,
)
from diffscan.analyses.landscape import NO_CATEGORY, analyze_landscape, distinct_offers
from diffscan.analyses.usps import display, pick_usps
from diffscan.catalog.values import parse_count
from diffscan.core.attributes import describe
from diffscan.errors import QueryError
from diffscan.index.store import Index

SCHEMA = "diffscan.niches/1"


@dataclass(frozen=True)
class OpportunityParams:
    """How a niche's opportunity is scored (docs/niches.md); `formula()` is the text shown to users.

    Parameters
    ----------
    competition, homogenization, price_room: weights of the room a niche leaves (they sum to 1).
    prior_listings: a small niche's demand (and price room) is pulled toward the catalog's with the weight
        of this many listings.
    """

    competition: float = 0.60
    homogenization: float = 0.20
    price_room: float = 0.20
    prior_listings: int = 2

    def formula(self) -> str:
        listings = {1: "one listing", 2: "two listings", 3: "three listings"}.get(self.prior_listings,
                                                                                  f"{self.prior_listings} listings")
        return (
            f"opportunity = 100 x demand x ({self.competition:.2f} x (1 - competition) + {self.homogenization:.2f} x "
            f"(1 - homogenization) + {self.price_room:.2f} x price_room); "
            "demand = mean log(1 + reviews or sales) of the niche's listings, pulled toward the catalog median with the "
            f"weight of {listings}, divided by log(1 + the catalog's 99th percentile), capped at 1 (ratings: that mean "
            "rating's percentile among all ratings times the niche's share of rated listings, pulled toward the catalog's "
            "share the same way; no signal: the percentile of its category's size); "
            "competition = log(1 + distinct offers) / log(1 + the 90th-percentile distinct offers of a cluster), capped at 1; "
            "homogenization = 1 - distinct offers / listings; "
            "price_room = share of the crowded neighbour cluster's listings priced below the niche's median price "
            "(its category when the neighbour has no prices; 0.5 without prices), pulled toward 0.5 with the weight of "
            f"{listings}."
        )


OPPORTUNITY = OpportunityParams()
OPPORTUNITY_FORMULA = OPPORTUNITY.formula()
MIN_SIZE = 2  # one listing is an offer, not a niche
MIN_OFFERS = 2  # nor is one product in several variant listings (one near-duplicate group): a niche has 2+ offers
NICHE_ATTRIBUTE_KINDS = ("material", "audience", "use", "feature")  # what attribute niches are made of
MAX_ATTRIBUTE_SHARE = 0.25  # an attribute niche covers at most this share of its category
SUB_CLUSTER_DISTANCE = 0.5  # sub-clusters keep a mean similarity >= 0.5 (the landscape's: 1 - its CLUSTER_DISTANCE)
SUB_CLUSTER_MIN_PARENT = 6  # clusters of at least this many listings are cut into sub-clusters
POCKET_MAX = 10  # a pocket (a listing and its look-alikes) has at most this many listings
DENSE_LIMIT = 5000  # categories up to this many listings get sub-clusters and pockets (a dense n x n matrix)
MAX_OVERLAP = 0.5  # a niche sharing this share of its listings with a better one is left out
NEIGHBOUR_MIN_SIZE = 5  # the crowded cluster next to a niche has at least this many listings ...
NEIGHBOUR_RATIO = 2.0  # ... and preferably this many times the niche's size, in the same category
NEIGHBOUR_MIN_SIMILARITY = 0.3  # a cluster less alike than this (centre cosine) is not "next to" the niche
# A cluster of another category is another market: it stands in as the crowd next to a niche only when it is
# as alike as the listings of one cluster are (the landscape's cohesion), e.g. toddler cups and water
# bottles, not bamboo toothbrushes and desk organizers.
NEIGHBOUR_OTHER_CATEGORY_SIMILARITY = 0.5
COMPARED = 200  # USPs are computed against at most this many neighbour listings, the nearest first
TOP_COMPETITORS = 5
SALES_COLUMN = re.compile(r"sales|sold|units|orders|purchases|bought", re.I)

Progress = Callable[[str, int, int], None]


@dataclass
class Niche:
    """One niche: what it is, how much room it has, and what would set a new listing apart in it."""

    rank: int
    niche_id: str
    kind: str  # "cluster", "sub-cluster", "pocket" or "attributes" (see docs/niches.md, Candidates)
    name: str
    keywords: list[str]
    category: str
    attributes: list[str]  # attribute keys that define it (attribute niches) or most of its listings state
    size: int  # listings
    distinct_offers: int  # near-duplicate groups among them
    demand_source: str  # "reviews", "sales", "rating" or "market size"
    demand: float | None  # median per listing in demand_source's unit (market size: listings in the category)
    demand_label: str
    opportunity: float  # 0-100
    components: dict[str, float]  # demand, competition, homogenization, price_room; each 0-1
    price_low: float | None  # 25th percentile
    price_median: float | None
    price_high: float | None  # 75th percentile
    top_competitors: list[dict]
    neighbour: dict | None  # the crowded cluster next to it: cluster_id, label, size, compared, compared_ids
    usps: list[Point]
    positioning: str
    listing_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain JSON-able data (the JSON export's niche object)."""
        return asdict(self)


@dataclass
class _Candidate:
    """A region of the catalog that might be a niche: its rows and where it came from."""

    niche_id: str
    kind: str
    category: str
    rows: np.ndarray
    attributes: list[str] = field(default_factory=list)
    cluster_id: str | None = None


@dataclass
class _Demand:
    """Per-listing demand in the catalog's best unit (NaN where unknown), with its median and 99th percentile."""

    source: str
    values: np.ndarray
    sorted_known: np.ndarray
    median: float = math.nan
    high: float = math.nan

    @property
    def rated(self) -> float:
        """Share of the catalog's listings that have a value."""
        return len(self.sorted_known) / len(self.values) if len(self.sorted_known) else 1.0


# ---- demand -------------------------------------------------------------------------------------------


def catalog_demand(index: Index) -> _Demand:
    """The catalog's demand signal: review counts, else a sales column, else ratings, else market size.

    A signal counts when at least 5% of the listings have a positive value for it.
    """
    df = index.listings
    enough = max(1, int(0.05 * len(df)))
    reviews = df["review_count"].to_numpy(dtype=float)
    if (reviews > 0).sum() >= enough:
        return _make_demand("reviews", reviews)
    sales = _sales(df)
    if sales is not None and (sales > 0).sum() >= enough:
        return _make_demand("sales", sales)
    ratings = df["rating"].to_numpy(dtype=float)
    ratings = np.where(ratings > 0, ratings, np.nan)  # 0 stars means "not rated yet" in exports
    if np.isfinite(ratings).sum() >= enough:
        return _make_demand("rating", ratings)
    return _make_demand("market size", np.full(len(df), np.nan))


def _make_demand(source: str, values: np.ndarray) -> _Demand:
    """A demand signal with the statistics the demand component needs (median, 99th percentile)."""
    values = values.astype(float)
    known = np.sort(values[np.isfinite(values)])
    if len(known) == 0:
        return _Demand(source, values, known)
    return _Demand(source, values, known, float(np.median(known)), float(np.percentile(known, 99)))


def demand_component(values: np.ndarray, demand: _Demand) -> float:
    """The 0-1 demand of a niche from its listings' demand (see OPPORTUNITY_FORMULA).

    Counts (reviews, sales) are heavy-tailed: their log mean is used, and a niche of few listings is
    pulled toward the catalog median with the weight of OPPORTUNITY.prior_listings listings, so one best-seller
    does not make a niche of two. Ratings are averaged the same way and ranked among all ratings, times
    the niche's share of rated listings (pulled toward the catalog's share the same way).
    """
    known = values[np.isfinite(values)]
    if demand.source == "rating":
        mean = (known.sum() + OPPORTUNITY.prior_listings * demand.median) / (len(known) + OPPORTUNITY.prior_listings)
        liked = _percentile(demand.sorted_known, float(mean))
        # An unrated listing has no buyer feedback: as a 0-review listing pulls a review niche down, it
        # lowers the niche's rated share (pulled toward the catalog's with the same prior).
        rated = (len(known) + OPPORTUNITY.prior_listings * demand.rated) / (len(values) + OPPORTUNITY.prior_listings)
        return liked * rated
    logs = np.log1p(np.maximum(known, 0.0))
    mean = (logs.sum() + OPPORTUNITY.prior_listings * math.log1p(demand.median)) / (len(known) + OPPORTUNITY.prior_listings)
    return float(min(1.0, mean / max(math.log1p(demand.high), 1e-9)))


def _sales(df: pd.DataFrame) -> np.ndarray | None:
    """A numeric sales column kept among the catalog's extra columns, if there is one."""
    if "extra" not in df.columns or df.empty:
        return None
    first = json.loads(df["extra"].iloc[0] or "{}")
    names = [k for k in first if SALES_COLUMN.search(k)]
    if not names:
        return None
    values = [parse_count(json.loads(e or "{}").get(names[0])) for e in df["extra"]]
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _percentile(sorted_values: np.ndarray, x: float) -> float:
    """Mean-rank percentile of x among sorted values (ties count half), 0-1."""
    if len(sorted_values) == 0 or not math.isfinite(x):
        return 0.0
    lo = np.searchsorted(sorted_values, x, "left")
    hi = np.searchsorted(sorted_values, x, "right")
    return float((lo + hi) / 2 / len(sorted_values))


# ---- candidates ---------------------------------------------------------------------------------------


def _cluster_candidates(landscape) -> list[_Candidate]:
    """Every landscape cluster of at least MIN_SIZE listings."""
    a = landscape.assignments
    singles = _singleton_ids(landscape)
    out = []
    for cid, rows in a.groupby("cluster_id", sort=False).indices.items():
        if len(rows) >= MIN_SIZE and str(cid) not in singles:
            out.append(_Candidate(f"cluster:{cid}", "cluster", str(a["category"].iat[rows[0]]), np.asarray(rows), cluster_id=str(cid)))
    return out


def _local_candidates(index: Index, landscape, categories: np.ndarray, demand: np.ndarray) -> list[_Candidate]:
    """Sub-clusters and pockets, category by category, from the landscape's combined similarity.

    Similarity is 0.8 x semantic + 0.2 x lexical cosine, as the landscape clusters with; one dense
    matrix per category (categories above DENSE_LIMIT listings are skipped: their pockets would need
    an approximate search, and their clusters still count as candidates).
    """
    a = landscape.assignments
    cluster_of = a["cluster_id"].astype(str).to_numpy()
    singles = _singleton_ids(landscape)
    vectors = np.asarray(index.vectors, dtype=np.float32)
    ids = index.listings["listing_id"].to_numpy()
    out: list[_Candidate] = []
    seen: set[frozenset] = set()
    for category, rows in pd.Series(np.arange(len(categories))).groupby(categories, sort=True).indices.items():
        rows = np.asarray(rows)
        if not MIN_SIZE <= len(rows) <= DENSE_LIMIT:
            continue
        sims = cl.combined_similarity(vectors[rows], index.lexical[rows])
        out += _pockets(str(category), rows, sims, 1.0 - cl.CLUSTER_DISTANCE, demand, ids, seen)
        for cid, local in pd.Series(np.arange(len(rows))).groupby(cluster_of[rows], sort=False).indices.items():
            if cid not in singles and SUB_CLUSTER_MIN_PARENT <= len(local):
                out += _sub_clusters(str(category), cid, rows[local], sims[np.ix_(local, local)])
    return out


def _sub_clusters(category: str, cluster_id: str, rows: np.ndarray, sims: np.ndarray) -> list[_Candidate]:
    """A cluster cut again by the landscape's rule (average linkage) at a tighter similarity.

    The landscape merges while the mean similarity stays >= 1 - its CLUSTER_DISTANCE; a sub-cluster keeps
    it >= 1 - SUB_CLUSTER_DISTANCE. Groups of MIN_SIZE+ listings and at most half the cluster are kept:
    a narrower offer inside a broad one.
    """
    labels = cl.agglomerate(sims, SUB_CLUSTER_DISTANCE)
    return [_Candidate(f"sub-cluster:{cluster_id}/{label}", "sub-cluster", category, rows[labels == label], cluster_id=cluster_id)
            for label, size in enumerate(np.bincount(labels)) if MIN_SIZE <= size <= len(rows) / NEIGHBOUR_RATIO]


def _pockets(category: str, rows: np.ndarray, sims: np.ndarray, threshold: float, demand: np.ndarray,
             ids: np.ndarray, seen: set[frozenset]) -> list[_Candidate]:
    """Pockets: a listing with demand and its look-alikes, where it has only a few.

    Look-alikes are listings of the same category at least as similar as the landscape requires inside
    one cluster. A listing with 1 to POCKET_MAX - 1 of them sits in a sparse spot of its market; with its
    look-alikes it is a candidate niche, whatever cluster the landscape put them in.
    """
    close = sims >= threshold
    counts = close.sum(axis=1)  # the listing itself included
    out = []
    for i in np.flatnonzero((counts >= MIN_SIZE) & (counts <= POCKET_MAX) & (demand[rows] > 0)):
        members = np.sort(rows[close[i]])
        key = frozenset(members.tolist())
        if key not in seen:
            seen.add(key)
            out.append(_Candidate(f"pocket:{ids[rows[i]]}", "pocket", category, members))
    return out


def _singleton_ids(landscape) -> set[str]:
    """Ids of the pseudo-clusters that gather a category's singletons: listings like no other, not a group."""
    clusters = landscape.clusters
    return set(clusters.loc[clusters["is_singletons"].astype(bool), "cluster_id"].astype(str))


def _attribute_candidates(index: Index, categories: np.ndarray) -> list[_Candidate]:
    """Attribute values and pairs of values that a few listings of a category share.

    Narrow on purpose: at least MIN_SIZE listings and at most MAX_ATTRIBUTE_SHARE of the category; a
    pair is kept only where it is narrower than each of its two values alone.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = defaultdict(list)
    for row, cat in enumerate(categories):
        keys = sorted(k for k in listing_attributes(index, row) if k.split(":", 1)[0] in NICHE_ATTRIBUTE_KINDS)[:8]
        for k in keys:
            groups[(cat, (k,))].append(row)
        for pair in combinations(keys, 2):
            groups[(cat, pair)].append(row)
    sizes = Counter(categories.tolist())
    out = []
    for (cat, keys), rows in groups.items():
        if not MIN_SIZE <= len(rows) <= MAX_ATTRIBUTE_SHARE * sizes[cat]:
            continue
        if len(keys) == 2 and any(len(groups[(cat, (k,))]) == len(rows) for k in keys):
            continue
        out.append(_Candidate(f"attributes:{cat}|{'+'.join(keys)}", "attributes", cat, np.asarray(rows), list(keys)))
    return out


def _not_a_cluster_again(candidates: list[_Candidate], landscape) -> list[_Candidate]:
    """Drop attribute niches that mostly sit in one cluster hardly bigger than they are: that cluster is the niche.

    Attribute niches earn their place as sub-niches of big clusters or across clusters; a subset of a
    small cluster would only cherry-pick its best-selling listings.
    """
    codes, _ = pd.factorize(landscape.assignments["cluster_id"].astype(str))
    sizes = np.bincount(codes)
    out = []
    for c in candidates:
        home = np.bincount(codes[c.rows]).argmax()
        inside = int((codes[c.rows] == home).sum())
        if inside >= MAX_OVERLAP * len(c.rows) and sizes[home] <= NEIGHBOUR_RATIO * len(c.rows):
            continue
        out.append(c)
    return out


def _category_matches(category: str, wanted: str | None) -> bool:
    """Category path starts with `wanted` (levels split on '>' or '/'), or one level equals its last part."""
    if not wanted:
        return True
    want = [p.strip().lower() for p in wanted.replace("/", ">").split(">") if p.strip()]
    have = [p.strip().lower() for p in category.split(">")]
    return have[: len(want)] == want or want[-1] in have


# ---- scoring ------------------------------------------------------------------------------------------


@dataclass
class _Context:
    """Catalog-wide arrays every candidate is scored against."""

    index: Index
    landscape: object
    demand: _Demand
    groups: np.ndarray  # near-duplicate group per row
    categories: np.ndarray
    prices: np.ndarray
    category_prices: dict[str, np.ndarray]
    category_sizes: dict[str, int]
    sorted_category_sizes: np.ndarray
    competition_ref: float
    centroids: tuple  # see _centroids
    codes: np.ndarray  # cluster number (position in centroids) of each row


def _context(index: Index, landscape) -> _Context:
    """Everything candidates are scored against, computed once: demand, prices, groups, centroids."""
    a = landscape.assignments
    categories = a["category"].astype(str).to_numpy()
    prices = index.listings["price"].to_numpy(dtype=float)
    by_cat = pd.Series(prices).groupby(categories)
    category_prices = {c: np.sort(v[np.isfinite(v)]) for c, v in ((c, s.to_numpy()) for c, s in by_cat)}
    sizes = Counter(categories.tolist())
    groups = a["near_duplicate_group"].to_numpy()
    singles = _singleton_ids(landscape)
    distinct = [distinct_offers(groups[rows]) for cid, rows in a.groupby("cluster_id", sort=False).indices.items()
                if str(cid) not in singles]
    ref = max(10.0, float(np.percentile(distinct, 90))) if distinct else 10.0
    centroids = _centroids(index, landscape)
    position = {cid: i for i, cid in enumerate(centroids[0])}
    codes = np.array([position[str(x)] for x in a["cluster_id"]], dtype=np.int64)
    return _Context(index, landscape, catalog_demand(index), groups, categories, prices, category_prices, dict(sizes),
                    np.sort(np.array([sizes[c] for c in categories], dtype=float)), ref, centroids, codes)


@dataclass
class _Scored:
    """A candidate with its demand figure, components, opportunity and crowded neighbour."""

    candidate: _Candidate
    source: str
    demand: float
    components: dict[str, float]
    opportunity: float
    distinct: int
    neighbour: int | None  # position of the crowded neighbour cluster in _Context.centroids


def _score_all(candidates: list[_Candidate], ctx: _Context) -> list[_Scored]:
    """Every candidate scored; the centre-to-centroid cosines come from one matrix product."""
    if not candidates:
        return []
    vectors = np.asarray(ctx.index.vectors, dtype=np.float32)
    centres = np.stack([vectors[c.rows].mean(axis=0) for c in candidates])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)
    sims = centres @ ctx.centroids[1].T
    return [_score(c, ctx, sims[i]) for i, c in enumerate(candidates)]


def _score(c: _Candidate, ctx: _Context, sims: np.ndarray | None = None) -> _Scored:
    """Components and opportunity of one candidate (see OPPORTUNITY_FORMULA)."""
    values = ctx.demand.values[c.rows]
    known = values[np.isfinite(values)]
    if ctx.demand.source != "market size":  # no value in the niche: the prior alone (the catalog median)
        source, figure = ctx.demand.source, float(np.median(known)) if len(known) else math.nan
        demand = demand_component(values, ctx.demand)
    else:
        source, figure = "market size", float(ctx.category_sizes.get(c.category, len(c.rows)))
        demand = _percentile(ctx.sorted_category_sizes, figure)
    distinct = distinct_offers(ctx.groups[c.rows])
    competition = min(1.0, math.log1p(distinct) / math.log1p(ctx.competition_ref))
    homogenization = 1 - distinct / len(c.rows)
    neighbour = _neighbour(c, ctx, sims)
    price_room = _price_room(c, ctx, neighbour)
    parts = {"demand": round(demand, 4), "competition": round(competition, 4),
             "homogenization": round(homogenization, 4), "price_room": round(price_room, 4)}
    room = (OPPORTUNITY.competition * (1 - competition) + OPPORTUNITY.homogenization * (1 - homogenization)
            + OPPORTUNITY.price_room * price_room)
    return _Scored(c, source, figure, parts, round(100 * demand * room, 2), distinct, neighbour)


def _price_room(c: _Candidate, ctx: _Context, neighbour: int | None) -> float:
    """Share of the crowded neighbour's priced listings cheaper than the niche's median price.

    Shoppers already paying more in the niche than in the look-alike crowd next to it is room to price;
    the niche's category stands in when the neighbour has fewer than 2 prices, and 0.5 when nothing does.
    A niche of n priced listings gets (n x share + 2 x 0.5) / (n + 2).
    """
    prices = ctx.prices[c.rows]
    prices = prices[np.isfinite(prices)]
    if len(prices) == 0:
        return 0.5
    pool = np.empty(0)
    if neighbour is not None:
        pool = ctx.prices[np.setdiff1d(np.flatnonzero(ctx.codes == neighbour), c.rows)]
        pool = np.sort(pool[np.isfinite(pool)])
    if len(pool) < 2:
        pool = ctx.category_prices.get(c.category, np.empty(0))
    if len(pool) < 2:
        return 0.5
    # The median of a few prices is a weak estimate: pulled toward neutral (0.5) with the weight of
    # OPPORTUNITY.prior_listings listings, as demand is pulled toward the catalog median.
    room = _percentile(pool, float(np.median(prices)))
    return (len(prices) * room + OPPORTUNITY.prior_listings * 0.5) / (len(prices) + OPPORTUNITY.prior_listings)


def _select(scored: list[_Scored], top: int) -> list[_Scored]:
    """The best candidates, leaving out one that mostly repeats the listings of a better one."""
    chosen: list[_Scored] = []
    taken: set[int] = set()
    for s in sorted(scored, key=lambda s: (-s.opportunity, -s.components["demand"], s.candidate.niche_id)):
        rows = s.candidate.rows
        if sum(int(r) in taken for r in rows) >= MAX_OVERLAP * len(rows):
            continue
        chosen.append(s)
        taken.update(int(r) for r in rows)
        if len(chosen) >= top:
            break
    return chosen


# ---- description --------------------------------------------------------------------------------------


def _centroids(index: Index, landscape) -> tuple[list[str], np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(cluster ids, normalized centroid, size and category per cluster, whether it is a real cluster)."""
    a = landscape.assignments
    codes, ids = pd.factorize(a["cluster_id"].astype(str))
    sums = np.zeros((len(ids), index.vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, codes, index.vectors)
    sizes = np.bincount(codes, minlength=len(ids))
    sums /= np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)
    cats = a.groupby(codes)["category"].first().astype(str).reindex(range(len(ids))).tolist()
    singles = _singleton_ids(landscape)
    real = np.array([str(cid) not in singles for cid in ids])
    return list(ids), sums, sizes, np.array(cats, dtype=object), real


def _centre(c: _Candidate, ctx: _Context) -> np.ndarray:
    """The niche's normalized mean vector."""
    centre = np.asarray(ctx.index.vectors[c.rows], dtype=np.float32).mean(axis=0)
    return centre / max(float(np.linalg.norm(centre)), 1e-9)


def _neighbour(c: _Candidate, ctx: _Context, sims: np.ndarray | None = None) -> int | None:
    """The crowded cluster next to a niche: the most similar real cluster, preferring its own category and
    clusters at least NEIGHBOUR_RATIO times its size (a sub-niche's own cluster counts without it); one of
    another category only when its own has none, and only at NEIGHBOUR_OTHER_CATEGORY_SIMILARITY.

    `sims` are the cosines of the niche's centre to the cluster centroids, when already computed.
    """
    ids, cents, sizes, cats, real = ctx.centroids
    sims = cents @ _centre(c, ctx) if sims is None else sims
    others = sizes - np.bincount(ctx.codes[c.rows], minlength=len(ids))
    big = real & (others >= max(NEIGHBOUR_MIN_SIZE, NEIGHBOUR_RATIO * len(c.rows)))
    some = real & (others >= NEIGHBOUR_MIN_SIZE)
    same_category = cats == c.category
    for pick, least in ((big & same_category, NEIGHBOUR_MIN_SIMILARITY), (some & same_category, NEIGHBOUR_MIN_SIMILARITY),
                        (big & ~same_category, NEIGHBOUR_OTHER_CATEGORY_SIMILARITY)):
        if pick.any():
            best = int(np.argmax(np.where(pick, sims, -np.inf)))
            return best if sims[best] >= least else None
    return None


def _compared(c: _Candidate, ctx: _Context, neighbour: int) -> np.ndarray:
    """The neighbour's listings (not the niche's) nearest the niche's centre: what its USPs are measured on."""
    members = np.setdiff1d(np.flatnonzero(ctx.codes == neighbour), c.rows)
    vectors = ctx.index.vectors
    return members[np.argsort(-(vectors[members] @ _centre(c, ctx)), kind="stable")[:COMPARED]]


def _niche_usps(c: _Candidate, compared: np.ndarray, index: Index) -> list[Point]:
    """What at least half the niche's listings state and fewer than 20% of the compared neighbours state."""
    own = [listing_stated(index, int(r)) for r in c.rows]
    in_niche = count_keys(own)
    need = max(2, math.ceil(len(own) / 2)) if len(own) > 1 else 1
    wordings: dict[str, str] = {}
    for s in own:  # claims: attributes, and phrases some niche listing puts in its title
        claims = {k: w for k, w in s.candidates().items() if not k.startswith("phrase:") or k[len("phrase:"):] in s.title_phrases}
        for key, wording in claims.items():
            if in_niche[key] >= need:
                wordings.setdefault(key, wording)
    counts = count_keys([listing_stated(index, int(r)) for r in compared])
    titles = " | ".join(s_title for s_title in index.listings["title"].to_numpy()[c.rows][:20])
    return pick_usps(wordings, counts, len(compared), titles)


def _keywords(c: _Candidate, ctx: _Context) -> list[str]:
    """c-TF-IDF keywords of a sub-cluster, pocket or attribute niche against the rest of its category.

    The landscape's own `ctfidf_keywords` with two classes (the niche, the rest of its category), so
    niches are named the way clusters are.
    """
    cat_rows = np.flatnonzero(ctx.categories == c.category)
    labels = np.isin(cat_rows, c.rows).astype(np.int64)
    df = ctx.index.listings
    titles = df["title"].to_numpy()[cat_rows].tolist()
    brands = df["brand"].fillna("").to_numpy()[cat_rows].tolist()
    return [display(k) for k in cl.ctfidf_keywords(titles, brands, labels, 2)[1]]


def _name(c: _Candidate, keywords: list[str], cluster_label: str | None) -> str:
    """Clusters keep the landscape's label; sub-clusters and attribute niches get c-TF-IDF keywords."""
    if c.kind == "cluster" and cluster_label:
        return cluster_label
    if not c.attributes:  # a sub-cluster: its own c-TF-IDF keywords, else its cluster's label
        return ", ".join(keywords[:3]) or cluster_label or c.niche_id
    attrs = " · ".join(describe(k) for k in c.attributes)
    words = [k for k in keywords if not any(w in k for w in (describe(a) for a in c.attributes))][:2]
    return f"{attrs}: {', '.join(words)}" if words else attrs or ", ".join(keywords[:3])


def _top_competitors(c: _Candidate, ctx: _Context) -> list[dict]:
    """The niche's listings with the most demand: who a new listing would compete with."""
    df = ctx.index.listings
    values = np.nan_to_num(ctx.demand.values[c.rows], nan=-1.0)
    order = c.rows[np.argsort(-values, kind="stable")[:TOP_COMPETITORS]]
    out = []
    for r in order:
        rec = df.iloc[int(r)]
        out.append({"listing_id": str(rec["listing_id"]), "title": str(rec["title"]), "brand": str(rec["brand"]),
                    "price": _num(rec["price"]), "rating": _num(rec["rating"]), "review_count": _num(rec["review_count"])})
    return out


def _num(value) -> float | None:
    """A float for JSON: NaN becomes None."""
    value = float(value)
    return None if math.isnan(value) else value


def demand_label(source: str, figure: float) -> str:
    """The demand figure in words, e.g. 'median 1,234 reviews per listing'."""
    if not math.isfinite(figure) and source == "rating":
        return "no ratings in this niche (the catalog median rating, lowered for its unrated listings)"
    if not math.isfinite(figure):
        unit = {"reviews": "review counts", "sales": "sales figures"}.get(source, source)
        return f"no {unit} in this niche (scored as the catalog median)"
    if source == "reviews":
        return f"median {figure:,.0f} reviews per listing"
    if source == "sales":
        return f"median {figure:,.0f} sales per listing"
    if source == "rating":
        return f"median rating {figure:.1f} per listing"
    return f"{figure:,.0f} listings in its category (market size as proxy)"


def positioning(name: str, category: str, usps: list[Point], size: int, distinct: int, demand_text: str,
                neighbour: dict | None) -> str:
    """A draft positioning line from a template: the USPs, the demand and the crowd it stands apart from.

    "<category leaf> with <material, feature...> for <audience, use> that say '<phrase>': <demand> across
    only <n> distinct offer(s), set apart from <N> look-alike '<neighbour>' listings, where under 20% say
    '<first USP>'."
    """
    leaf = name if category == NO_CATEGORY else category.split(">")[-1].strip() or name
    if not usps:
        if not neighbour:
            return (f"{leaf} ({name}): {demand_text} across {distinct} distinct offer(s), with no crowded "
                    "look-alike cluster next to it.")
        return (f"{leaf} ({name}): {demand_text} across {distinct} distinct offer(s); no claim sets it apart "
                f"from its neighbours ('{neighbour['label']}') yet: compete on a new attribute or on price.")
    top = usps[:3]
    having = [u.text for u in top if u.kind not in ("phrase", "audience", "use")]
    having = [w for w in having if not any(w != o and w.lower() in o.lower() for o in having)]  # not "natural and natural rubber"
    purpose = [("for " if u.key.startswith("audience:ages") else "") + describe(u.key) for u in top if u.kind in ("audience", "use")]
    saying = [f"'{u.text}'" for u in top if u.kind == "phrase"]
    line = leaf
    if having:
        line += " with " + _and(having)
    if purpose:
        line += " " + _and(purpose)
    if saying:
        line += " that say " + _and(saying)
    line += f": {demand_text} across only {distinct} distinct offer(s)"
    if neighbour:
        line += (f", set apart from {neighbour['size']:,} look-alike '{neighbour['label']}' listings, "
                 f"where under 20% say '{top[0].text}'")
    return line + "."


def _and(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _describe(s: _Scored, rank: int, ctx: _Context, labels: dict[str, tuple[str, list[str]]]) -> Niche:
    """Everything a reader needs about one selected niche."""
    c = s.candidate
    index = ctx.index
    label, cluster_keywords = labels.get(c.cluster_id or "", (None, []))
    keywords = list(cluster_keywords) if c.kind == "cluster" and cluster_keywords else _keywords(c, ctx)
    name = _name(c, keywords, label)
    neighbour = None
    compared = np.empty(0, dtype=np.int64)
    if s.neighbour is not None:
        compared = _compared(c, ctx, s.neighbour)
        neighbour_id = ctx.centroids[0][s.neighbour]
        n_label, _ = labels.get(neighbour_id, (neighbour_id, []))
        size = int(ctx.centroids[2][s.neighbour])
        neighbour = {"cluster_id": neighbour_id, "label": n_label or neighbour_id, "size": size, "compared": int(len(compared)),
                     "compared_ids": [str(x) for x in index.listings["listing_id"].to_numpy()[compared]]}
    usps = _niche_usps(c, compared, index) if len(compared) else []
    prices = ctx.prices[c.rows]
    prices = prices[np.isfinite(prices)]
    band = [float(np.percentile(prices, q)) for q in (25, 50, 75)] if len(prices) else [None, None, None]
    text = demand_label(s.source, s.demand)
    attrs = c.attributes or _common_attributes(c, index)
    return Niche(
        rank=rank, niche_id=c.niche_id, kind=c.kind, name=name, keywords=keywords, category=c.category,
        attributes=attrs, size=int(len(c.rows)), distinct_offers=s.distinct, demand_source=s.source,
        demand=round(s.demand, 2) if math.isfinite(s.demand) else None, demand_label=text, opportunity=s.opportunity, components=s.components,
        price_low=band[0], price_median=band[1], price_high=band[2], top_competitors=_top_competitors(c, ctx),
        neighbour=neighbour, usps=usps, positioning=positioning(name, c.category, usps, len(c.rows), s.distinct, text, neighbour),
        listing_ids=[str(x) for x in index.listings["listing_id"].to_numpy()[c.rows]],
    )


def _common_attributes(c: _Candidate, index: Index) -> list[str]:
    """Attribute keys that at least half of a cluster's listings state."""
    counts = Counter(k for r in c.rows for k in listing_attributes(index, int(r)))
    return [k for k, n in counts.most_common(6) if n >= len(c.rows) / 2]


def _labels(landscape) -> dict[str, tuple[str, list[str]]]:
    """Each cluster's c-TF-IDF label and keywords, as the landscape named them."""
    clusters = landscape.clusters
    out = {}
    for cid, label, keywords in zip(clusters["cluster_id"], clusters["label"], clusters["keywords"]):
        out[str(cid)] = (str(label), [str(k) for k in (keywords if keywords is not None else [])])
    return out


# ---- entry point --------------------------------------------------------------------------------------


def find_niches(
    index: Index,
    landscape=None,
    *,
    top: int = 20,
    category: str | None = None,
    min_demand: float | None = None,
    progress: Progress | None = None,
) -> list[Niche]:
    """Rank the catalog's niches by opportunity and describe the `top` best.

    `landscape` is `landscape.analyze_landscape(index)` (computed when not given). `category` keeps
    niches whose category path starts with it; `min_demand` drops niches whose demand figure (in the
    unit of their demand source) is lower.
    """
    if top < 1:
        raise QueryError("The number of niches asked for (top) must be at least 1.")
    if landscape is None:
        landscape = analyze_landscape(index, progress=progress)
    _step(progress, "niches", 0)
    ctx, scored = _candidates_scored(index, landscape, category)
    _step(progress, "niches", 1)
    if min_demand is not None:
        scored = [s for s in scored if math.isfinite(s.demand) and s.demand >= min_demand]
    chosen = _select(scored, top)
    _step(progress, "niches", 2)
    labels = _labels(landscape)
    niches = [_describe(s, rank, ctx, labels) for rank, s in enumerate(chosen, start=1)]
    _step(progress, "niches", 3)
    return niches


def _candidates_scored(index: Index, landscape, category: str | None = None,
                       given: list[np.ndarray] = ()) -> tuple[_Context, list[_Scored]]:
    """Every candidate niche of the catalog (of `category`) with MIN_OFFERS+ distinct offers scored, then the
    `given` row sets, scored the same way (whatever their offers)."""
    ctx = _context(index, landscape)
    candidates = (_cluster_candidates(landscape)
                  + _local_candidates(index, landscape, ctx.categories, np.nan_to_num(ctx.demand.values, nan=0.0))
                  + _not_a_cluster_again(_attribute_candidates(index, ctx.categories), landscape))
    candidates = [c for c in candidates if _category_matches(c.category, category)
                  and distinct_offers(ctx.groups[c.rows]) >= MIN_OFFERS]
    candidates += [_Candidate(f"given:{i}", "given", str(ctx.categories[rows[0]]), np.sort(np.asarray(rows)))
                   for i, rows in enumerate(given)]
    return ctx, _score_all(candidates, ctx)


def candidate_scores(index: Index, landscape, given: list[np.ndarray] = ()) -> pd.DataFrame:
    """Every candidate niche of the catalog scored as `find_niches` scores them, then the `given` row sets
    scored the same way: one row each with `rows` (index rows), `demand` (its demand component),
    `distinct_offers`, `opportunity` and `given` (True for the given sets, in their order, last)."""
    _, scored = _candidates_scored(index, landscape, given=list(given))
    return pd.DataFrame({
        "rows": [s.candidate.rows for s in scored],
        "demand": [s.components["demand"] for s in scored],
        "distinct_offers": [s.distinct for s in scored],
        "opportunity": [s.opportunity for s in scored],
        "given": [s.candidate.kind == "given" for s in scored],
    })


def _step(progress: Progress | None, stage: str, done: int) -> None:
    """Report progress of the niche stage (3 steps) when a callback is given."""
    if progress:
        progress(stage, done, 3)


# ---- exports ------------------------------------------------------------------------------------------


def niches_frame(niches: list[Niche]) -> pd.DataFrame:
    """One row per niche, flat enough for a spreadsheet (lists joined with '; ')."""
    rows = []
    for n in niches:
        rows.append({
            "rank": n.rank, "name": n.name, "kind": n.kind, "category": n.category, "opportunity": n.opportunity,
            "demand_source": n.demand_source, "demand": n.demand, "demand_label": n.demand_label,
            **{f"component_{k}": v for k, v in n.components.items()},
            "size": n.size, "distinct_offers": n.distinct_offers,
            "price_low": n.price_low, "price_median": n.price_median, "price_high": n.price_high,
            "usps": [u.text for u in n.usps], "positioning": n.positioning, "keywords": n.keywords,
            "attributes": n.attributes,
            "neighbour": (n.neighbour or {}).get("label", ""), "neighbour_size": (n.neighbour or {}).get("size"),
            "top_competitors": [f"{t['title']} ({t['listing_id']})" for t in n.top_competitors],
            "niche_id": n.niche_id,
        })
    return pd.DataFrame(rows)


def niches_document(niches: list[Niche], index: Index | None = None, **query) -> dict:
    """The JSON export: schema id, the formula, the query and the niches (see docs/niches.md)."""
    source = index.manifest.get("source", {}).get("name") if index is not None else None
    return {
        "schema": SCHEMA,
        "formula": OPPORTUNITY_FORMULA,
        "catalog": source,
        "listings": len(index) if index is not None else None,
        "query": {k: v for k, v in query.items()},
        "niches": [n.to_dict() for n in niches],
    }
