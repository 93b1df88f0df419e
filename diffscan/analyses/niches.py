"""Where is there room to stand out? Niches: narrow regions of a catalog with demand and few distinct offers.

Candidates are the landscape's clusters, sub-clusters (a cluster cut again at a tighter similarity),
pockets (a listing with demand and its few look-alikes) and attribute combinations inside a category
(material x audience x use x feature, read from titles and descriptions). Each gets an opportunity score
with visible components; the best are described with their size, demand, top competitors, price band,
the USPs that set them apart from the crowded cluster next to them, and a positioning line.

    opportunity = 100 x demand x (weighted room: 1 - competition, 1 - homogenization, price_room)

The numbers are parameters: `OpportunityParams` (the score; `OPPORTUNITY_FORMULA` is its text for help
screens and the JSON export), `CandidateParams` (what counts as a candidate niche) and `NeighbourParams`
(the crowded cluster next to a niche and what its USPs are measured against). docs/niches.md explains
every component.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from itertools import combinations

import numpy as np
import pandas as pd

from diffscan.analyses import clusters as cl
from diffscan.analyses.competitors import price_position
from diffscan.analyses.differentiation import (
    Point,
    count_keys,
    listing_attributes,
    listing_stated,
)
from diffscan.analyses.landscape import NO_CATEGORY, analyze_landscape, distinct_offers
from diffscan.analyses.usps import (
    USP,
    UspParams,
    catalog_brand_words,
    catalog_segmenter,
    display,
    pick_usps,
)
from diffscan.core.attributes import attribute_keys, describe
from diffscan.core.text import plural, words
from diffscan.errors import QueryError
from diffscan.index.store import Index

SCHEMA = "diffscan.niches/1"


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th ... 11th, 90th, 99th."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class OpportunityParams:
    """How a niche's opportunity is scored (docs/niches.md); `formula()` is the text shown to users.

    Parameters
    ----------
    competition, homogenization, price_room: weights of the room a niche leaves (they sum to 1); few
        distinct offers matter most, so competition weighs three times each of the others.
    prior_listings: a small niche's demand (and price room) is pulled toward the catalog's with the weight
        of this many listings, so one best-seller does not make a niche of two.
    demand_percentile: demand reaches 1 at this percentile of the catalog's per-listing demand (log scale):
        the very top sellers, not the single biggest one.
    competition_percentile, competition_floor: competition reaches 1 at this percentile of the distinct
        offers of the landscape's clusters, and never below this many offers (a catalog of tiny clusters).
    signal_min_share: a demand signal (reviews, sales, ratings) is used when at least this share of the
        listings has a value for it; fewer would rank a handful of listings against missing data.
    demand_reference: "category" (default): review or sales demand is the niche's against its surroundings
        (its category's other listings; the catalog's when they are fewer than `CandidateParams.min_size`),
        r / (1 + r) with r the ratio of their geometric means of (1 + reviews), so 0.5 is "as around it";
        "catalog": against the catalog's `demand_percentile`. On held-out toys entrants (bench.niches) the
        category reading lifted the shortlist's entrants from 1.35 to about 1.5 times their categories':
        a listing sells like its look-alikes, and what sets a market apart is how it does against its own.
    """

    competition: float = 0.60
    homogenization: float = 0.20
    price_room: float = 0.20
    prior_listings: int = 2
    demand_percentile: int = 99
    competition_percentile: int = 90
    competition_floor: float = 10.0
    signal_min_share: float = 0.05
    demand_reference: str = "category"

    def __post_init__(self):
        if self.demand_reference not in ("category", "catalog"):
            raise ValueError(f"demand_reference must be 'category' or 'catalog', not {self.demand_reference!r}")

    def room(self, competition: float, homogenization: float, price_room: float) -> float:
        """The weighted room a niche leaves, 0-1 (opportunity = 100 x demand x room)."""
        return (self.competition * (1 - competition) + self.homogenization * (1 - homogenization)
                + self.price_room * price_room)

    def formula(self) -> str:
        listings = {1: "one listing", 2: "two listings", 3: "three listings"}.get(self.prior_listings,
                                                                                  f"{self.prior_listings} listings")
        return (
            f"opportunity = 100 x demand x ({self.competition:.2f} x (1 - competition) + {self.homogenization:.2f} x "
            f"(1 - homogenization) + {self.price_room:.2f} x price_room); "
            + (("demand = r / (1 + r), r = exp(mean log(1 + reviews or sales) of the niche's listings, pulled toward "
                f"the mean of its surroundings with the weight of {listings}, minus that mean; surroundings = the other "
                "listings of its category, or the catalog when fewer than a niche's minimum size) (ratings: ")
               if self.demand_reference == "category" else
               ("demand = mean log(1 + reviews or sales) of the niche's listings, pulled toward the catalog median with the "
                f"weight of {listings}, divided by log(1 + the catalog's {_ordinal(self.demand_percentile)} percentile), "
                "capped at 1 (ratings: "))
            + "the mean rating, pulled toward the catalog median with the same weight: its "
            "percentile among all ratings times the niche's share of rated listings, pulled toward the catalog's "
            "share the same way; no signal: the percentile of its category's size); "
            f"competition = log(1 + distinct offers) / log(1 + the {_ordinal(self.competition_percentile)}-percentile "
            "distinct offers of a cluster), capped at 1; "
            "homogenization = 1 - distinct offers / listings; "
            "price_room = share of the crowded neighbour cluster's listings priced below the niche's median price "
            "(its category when the neighbour has no prices; 0.5 without prices), pulled toward 0.5 with the weight of "
            f"{listings}."
        )


ROOM_WEIGHTS = ("competition", "homogenization", "price_room")


def weighted(params: OpportunityParams, weights: dict[str, float] | None) -> OpportunityParams:
    """`params` with the room's weights a user chose (any of `ROOM_WEIGHTS`, each >= 0, at least one > 0),
    scaled to sum to 1 so opportunity stays 0-100; the others keep their share of what is left."""
    if not weights:
        return params
    unknown = sorted(set(weights) - set(ROOM_WEIGHTS))
    if unknown:
        raise QueryError(f"Unknown weight '{unknown[0]}': the weights are {', '.join(ROOM_WEIGHTS)}.", parameter="weights")
    values = {k: float(weights.get(k, getattr(params, k))) for k in ROOM_WEIGHTS}
    if any(not math.isfinite(v) or v < 0 for v in values.values()) or sum(values.values()) <= 0:
        raise QueryError("Weights must be numbers of at least 0, and at least one must be above 0.", parameter="weights")
    total = sum(values.values())
    return replace(params, **{k: round(v / total, 4) for k, v in values.items()})


def parse_weights(text: str | None) -> dict[str, float]:
    """'competition=2,price_room=1' -> {'competition': 2.0, 'price_room': 1.0} (checked by `weighted`)."""
    out: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError(part)
            out[name.strip().replace("-", "_")] = float(value)
        except ValueError:
            raise QueryError(f"Weight '{part.strip()}' is not NAME=NUMBER (e.g. competition=0.5).", parameter="weights") from None
    return out


@dataclass(frozen=True)
class CandidateParams:
    """Which regions of a catalog are candidate niches, which are kept, and how a niche is described.

    Parameters
    ----------
    min_size: a niche has at least this many listings: fewer are a product or two, and their demand is one
        best-seller's (on held-out entrants, niches of 2-4 listings predicted demand no better than their
        categories, docs/niches.md).
    min_offers: and at least this many distinct offers (near-duplicate groups): one product in several
        variant listings is not a niche either.
    attribute_kinds: the attribute kinds attribute niches are made of (what a product is and is for, not
        its size or colour).
    max_attribute_keys: attribute values of one listing combined into pairs (the pairs grow quadratically).
    max_attribute_share: an attribute niche covers at most this share of its category: narrow on purpose.
    sub_cluster_distance: sub-clusters are cut by average linkage at this distance (mean similarity >= 0.5,
        tighter than a landscape cluster's).
    sub_cluster_min_parent: clusters of at least this many listings are cut into sub-clusters.
    sub_cluster_max_share: a sub-cluster holds at most this share of its cluster: a narrower offer inside a
        broad one, not the cluster again.
    pocket_max: a pocket (a listing with demand and its look-alikes) has at most this many listings: a
        sparse spot of its market.
    dense_limit: categories up to this many listings get sub-clusters and pockets (every pair of their
        listings is compared: 25M pairs at 5,000).
    max_overlap: a niche sharing this share of its listings with a better one is left out (and an attribute
        niche with this share inside one cluster is that cluster again, see `own_cluster_ratio`).
    own_cluster_ratio: ... when that cluster is at most this many times the attribute niche's size.
    top_competitors: a niche lists this many of its listings with the most demand as its top competitors.
    max_brand_share: a niche is a market a new seller can enter: no brand holds more than this share of its
        listings (`brand_share`; a brand's own product line is not a niche).
    min_demand_listings: a niche whose demand rests on fewer listings than this is flagged (`Niche.demand_weak`).
    min_quartile_prices: a price band gives quartiles only from this many prices (fewer: lowest to highest).
    block_rows: similarities are computed for this many listings (and candidate centres) at a time, so no
        category's n x n matrix and no candidates x clusters matrix is ever whole; memory only.
    """

    min_size: int = 5
    min_offers: int = 2
    max_brand_share: float = 0.5
    min_demand_listings: int = 3
    min_quartile_prices: int = 4
    attribute_kinds: tuple[str, ...] = ("material", "audience", "use", "feature")
    max_attribute_keys: int = 8
    max_attribute_share: float = 0.25
    sub_cluster_distance: float = 0.5
    sub_cluster_min_parent: int = 6
    sub_cluster_max_share: float = 0.5
    pocket_max: int = 10
    dense_limit: int = 5000
    max_overlap: float = 0.5
    own_cluster_ratio: float = 2.0
    top_competitors: int = 5
    block_rows: int = 256


@dataclass(frozen=True)
class NeighbourParams:
    """The crowded cluster next to a niche, and what the niche's USPs are measured against.

    Parameters
    ----------
    min_size: the neighbour is a real cluster of at least this many listings besides the niche's own.
    ratio: preferably one at least this many times the niche's size (a crowd, not a peer).
    min_similarity: a cluster of the niche's category whose centre is less alike than this (cosine) is not
        "next to" it.
    other_category_similarity: a cluster of another category stands in only when its own category has
        none and it is as alike as the listings of one cluster are (toddler cups next to water bottles, not
        bamboo toothbrushes next to desk organizers).
    compared: USPs are computed against at most this many of the neighbour's listings, the nearest first.
    usp_min_share: a niche's USP is stated by at least this share of its listings (and 2 of them)...
    usp: ... and is a USP by this rule against the compared listings (fewer than 20% state it).
    """

    min_size: int = 5
    ratio: float = 2.0
    min_similarity: float = 0.3
    other_category_similarity: float = 0.5
    compared: int = 200
    usp_min_share: float = 0.5
    usp: UspParams = USP


OPPORTUNITY = OpportunityParams()
OPPORTUNITY_FORMULA = OPPORTUNITY.formula()
CANDIDATES = CandidateParams()
NEIGHBOURS = NeighbourParams()

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
    price_low: float | None  # 25th percentile of the niche's prices, from 4+ prices only (a real price)
    price_median: float | None  # a real price: the lower middle one of an even count
    price_high: float | None  # 75th percentile, from 4+ prices only (a real price)
    top_competitors: list[dict]
    neighbour: dict | None  # the crowded cluster next to it: cluster_id, label, size, compared, compared_ids
    usps: list[Point]
    positioning: str
    listing_ids: list[str] = field(default_factory=list)
    price_min: float | None = None  # lowest and highest of the niche's known prices
    price_max: float | None = None
    price_count: int = 0  # listings with a known price
    demand_listings: int = 0  # listings that carry the demand signal (a review, a sale, a rating)
    demand_weak: bool = True  # fewer than `CandidateParams.min_demand_listings` carry it: a guess, not a reading
    demand_vs_category: float | None = None  # its listings' demand against its category's (see `relative_demand`)
    demand_interval: list[float] | None = None  # 80% interval of its typical listing's demand (`demand_interval`)
    brand_leader_share: float = 0.0  # the biggest share of its listings one brand holds (at most max_brand_share)

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


def catalog_demand(index: Index, *, params: OpportunityParams = OPPORTUNITY) -> _Demand:
    """The catalog's demand signal: review counts, else sales, else ratings, else market size.

    A signal counts when at least `params.signal_min_share` of the listings have a positive value for it.
    """
    df = index.listings
    enough = max(1, int(params.signal_min_share * len(df)))
    reviews = df["review_count"].to_numpy(dtype=float)
    if (reviews > 0).sum() >= enough:
        return _make_demand("reviews", reviews, params)
    sales = _sales(df)
    if sales is not None and (sales > 0).sum() >= enough:
        return _make_demand("sales", sales, params)
    ratings = df["rating"].to_numpy(dtype=float)
    ratings = np.where(ratings > 0, ratings, np.nan)  # 0 stars means "not rated yet" in exports
    if np.isfinite(ratings).sum() >= enough:
        return _make_demand("rating", ratings, params)
    return _make_demand("market size", np.full(len(df), np.nan), params)


def _make_demand(source: str, values: np.ndarray, params: OpportunityParams = OPPORTUNITY) -> _Demand:
    """A demand signal with the statistics the demand component needs (median, `params.demand_percentile`)."""
    values = values.astype(float)
    known = np.sort(values[np.isfinite(values)])
    if len(known) == 0:
        return _Demand(source, values, known)
    return _Demand(source, values, known, float(np.median(known)),
                   float(np.percentile(known, params.demand_percentile)))


def demand_component(values: np.ndarray, demand: _Demand, *, params: OpportunityParams = OPPORTUNITY,
                     reference: float | None = None) -> float:
    """The 0-1 demand of a niche from its listings' demand (see OpportunityParams.formula).

    Counts (reviews, sales) are heavy-tailed: their log mean is used, and a niche of few listings is
    pulled toward the catalog median with the weight of `params.prior_listings` listings, so one best-seller
    does not make a niche of two. Ratings are averaged the same way and ranked among all ratings, times
    the niche's share of rated listings (pulled toward the catalog's share the same way).
    """
    prior = params.prior_listings
    known = values[np.isfinite(values)]
    if demand.source == "rating":
        mean = (known.sum() + prior * demand.median) / (len(known) + prior)
        liked = _percentile(demand.sorted_known, float(mean))
        # An unrated listing has no buyer feedback: as a 0-review listing pulls a review niche down, it
        # lowers the niche's rated share (pulled toward the catalog's with the same prior).
        rated = (len(known) + prior * demand.rated) / (len(values) + prior)
        return liked * rated
    logs = np.log1p(np.maximum(known, 0.0))
    if params.demand_reference == "category" and reference is not None:
        ratio = math.exp((logs.sum() + prior * reference) / (len(known) + prior) - reference)
        return float(ratio / (1 + ratio))
    mean = (logs.sum() + prior * math.log1p(demand.median)) / (len(known) + prior)
    return float(min(1.0, mean / max(math.log1p(demand.high), 1e-9)))


def category_log_sums(demand: _Demand, categories: np.ndarray) -> dict[str, tuple[float, int]]:
    """Each category's sum of log(1 + reviews or sales) and count, over its listings with a value."""
    logs = np.log1p(np.maximum(demand.values, 0.0))
    known = np.isfinite(logs)
    frame = pd.DataFrame({"log": np.where(known, logs, 0.0), "known": known}).groupby(categories).sum()
    return {str(c): (float(r["log"]), int(r["known"])) for c, r in frame.iterrows()}


def surroundings_log_mean(ctx_sums: dict[str, tuple[float, int]], category: str, values: np.ndarray,
                          catalog: tuple[float, int], least: int) -> float | None:
    """The mean log(1 + demand) of a niche's surroundings: its category's other listings, or the whole
    catalog's when fewer than `least` of them have a value (a niche that is most of its category, a small
    category of its own, is measured against the market at large)."""
    logs = np.log1p(np.maximum(values[np.isfinite(values)], 0.0))
    total, n = ctx_sums.get(category, (0.0, 0))
    rest, rest_n = total - float(logs.sum()), n - len(logs)
    if rest_n >= least:
        return rest / rest_n
    return catalog[0] / catalog[1] if catalog[1] else None


def _sales(df: pd.DataFrame) -> np.ndarray | None:
    """The catalog's canonical `sales` column (units sold per listing), when it has any value."""
    if "sales" not in df.columns:
        return None
    sales = pd.to_numeric(df["sales"], errors="coerce").to_numpy(dtype=float)
    return sales if np.isfinite(sales).any() else None


def _percentile(sorted_values: np.ndarray, x: float) -> float:
    """Mean-rank percentile of x among sorted values (ties count half), 0-1."""
    if len(sorted_values) == 0 or not math.isfinite(x):
        return 0.0
    lo = np.searchsorted(sorted_values, x, "left")
    hi = np.searchsorted(sorted_values, x, "right")
    return float((lo + hi) / 2 / len(sorted_values))


# ---- candidates ---------------------------------------------------------------------------------------


def _cluster_candidates(landscape, params: CandidateParams) -> list[_Candidate]:
    """Every landscape cluster of at least `params.min_size` listings."""
    a = landscape.assignments
    singles = _singleton_ids(landscape)
    out = []
    for cid, rows in a.groupby("cluster_id", sort=False).indices.items():
        if len(rows) >= params.min_size and str(cid) not in singles:
            out.append(_Candidate(f"cluster:{cid}", "cluster", str(a["category"].iat[rows[0]]), np.asarray(rows), cluster_id=str(cid)))
    return out


def _local_candidates(index: Index, landscape, categories: np.ndarray, demand: np.ndarray,
                      params: CandidateParams, progress: Progress | None = None) -> list[_Candidate]:
    """Sub-clusters and pockets, category by category, from the landscape's combined similarity.

    Similarity is the one the landscape clusters with (its `clustering` parameters), computed for
    `params.block_rows` listings of a category at a time (categories above `params.dense_limit` listings
    are skipped: their pockets would need an approximate search, and their clusters still count as
    candidates).
    """
    clustering = landscape.clustering
    cluster_of = landscape.assignments["cluster_id"].astype(str).to_numpy()
    singles = _singleton_ids(landscape)
    ids = index.listings["listing_id"].to_numpy()
    out: list[_Candidate] = []
    seen: set[frozenset] = set()
    blocks = pd.Series(np.arange(len(categories))).groupby(categories, sort=True).indices
    for done, (category, rows) in enumerate(blocks.items(), start=1):
        rows = np.asarray(rows)
        if params.min_size <= len(rows) <= params.dense_limit:
            out += _category_candidates(index, str(category), rows, cluster_of[rows], singles, clustering, demand,
                                        ids, seen, params)
        if progress:
            progress("pockets", done, len(blocks))
    return out


def _category_candidates(index: Index, category: str, rows: np.ndarray, cluster_of: np.ndarray, singles: set[str],
                         clustering, demand: np.ndarray, ids: np.ndarray, seen: set[frozenset],
                         params: CandidateParams) -> list[_Candidate]:
    """One category's pockets, then the sub-clusters of its clusters.

    Its similarities are computed a block of rows at a time: each block's semantic cosines to the whole
    category, kept only where a cluster to cut again needs them (its own rows) and, with the lexical
    cosines, for the rows that may be pockets.
    """
    v = np.asarray(cl.gather(index.vectors, rows, clustering.release_rows), dtype=np.float32)
    lexical = cl.compact_columns(cl.gather(index.lexical, rows, clustering.release_rows))
    lexical_t = lexical.T.tocsr()
    w, threshold = clustering.semantic_weight, clustering.cluster_similarity
    parents = [(cid, local) for cid, local in pd.Series(np.arange(len(rows))).groupby(cluster_of, sort=False).indices.items()
               if cid not in singles and params.sub_cluster_min_parent <= len(local)]
    semantic = [np.empty((len(local), len(local)), dtype=np.float32) for _, local in parents]
    pockets: list[_Candidate] = []
    for start, stop in _row_blocks(len(rows), params.block_rows):
        s = v[start:stop] @ v.T
        for (_, local), kept in zip(parents, semantic):
            lo, hi = np.searchsorted(local, [start, stop])
            kept[lo:hi] = s[local[lo:hi] - start][:, local]
        # A pocket's listing has demand and at most `pocket_max` look-alikes; the semantic part alone
        # (the lexical one is >= 0) already rules most listings out before their lexical cosines are read.
        maybe = start + np.flatnonzero(demand[rows[start:stop]] > 0)
        maybe = maybe[((w * s[maybe - start]) >= threshold).sum(axis=1) <= params.pocket_max]
        if len(maybe):
            sims = w * s[maybe - start] + (1 - w) * (lexical[maybe] @ lexical_t).toarray()
            pockets += _pockets(category, rows, maybe, sims >= threshold, ids, seen, params)
    out = pockets
    for (cid, local), kept in zip(parents, semantic):
        sims = w * kept + (1 - w) * (lexical[local] @ lexical[local].T).toarray()
        out += _sub_clusters(category, cid, rows[local], sims, params)
    return out


def _row_blocks(n: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) of blocks of `size` rows; a last block of under 32 rows joins the one before it, because
    BLAS multiplies a block of a few rows along another path whose last bits differ from the whole matrix's."""
    starts = list(range(0, n, max(1, size)))
    if len(starts) > 1 and n - starts[-1] < min(32, size):
        starts.pop()
    return list(zip(starts, starts[1:] + [n]))


def _sub_clusters(category: str, cluster_id: str, rows: np.ndarray, sims: np.ndarray,
                  params: CandidateParams) -> list[_Candidate]:
    """A cluster cut again by the landscape's rule (average linkage) at a tighter similarity.

    The landscape merges while the mean similarity stays >= 1 - its cluster distance; a sub-cluster keeps
    it >= 1 - `params.sub_cluster_distance`. Groups of `params.min_size`+ listings and at most
    `params.sub_cluster_max_share` of the cluster are kept: a narrower offer inside a broad one.
    """
    labels = cl.agglomerate(sims, params.sub_cluster_distance)
    return [_Candidate(f"sub-cluster:{cluster_id}/{label}", "sub-cluster", category, rows[labels == label], cluster_id=cluster_id)
            for label, size in enumerate(np.bincount(labels))
            if params.min_size <= size <= params.sub_cluster_max_share * len(rows)]


def _pockets(category: str, rows: np.ndarray, local: np.ndarray, close: np.ndarray, ids: np.ndarray,
             seen: set[frozenset], params: CandidateParams) -> list[_Candidate]:
    """Pockets: a listing with demand and its look-alikes, where it has only a few.

    Look-alikes are listings of the same category at least as similar as the landscape requires inside
    one cluster (`close`: one row per listing of `local`, positions in `rows`, that has demand). A listing
    with 1 to `params.pocket_max` - 1 of them sits in a sparse spot of its market; with its look-alikes it
    is a candidate niche, whatever cluster the landscape put them in.
    """
    counts = close.sum(axis=1)  # the listing itself included
    out = []
    for i in np.flatnonzero((counts >= params.min_size) & (counts <= params.pocket_max)):
        members = np.sort(rows[close[i]])
        key = frozenset(members.tolist())
        if key not in seen:
            seen.add(key)
            out.append(_Candidate(f"pocket:{ids[rows[local[i]]]}", "pocket", category, members))
    return out


def _singleton_ids(landscape) -> set[str]:
    """Ids of the pseudo-clusters that gather a category's singletons: listings like no other, not a group."""
    clusters = landscape.clusters
    return set(clusters.loc[clusters["is_singletons"].astype(bool), "cluster_id"].astype(str))


def _attribute_candidates(index: Index, categories: np.ndarray, params: CandidateParams,
                          progress: Progress | None = None) -> list[_Candidate]:
    """Attribute values and pairs of values that a few listings of a category share.

    Narrow on purpose: at least `params.min_size` listings and at most `params.max_attribute_share` of the
    category; a pair is kept only where it is narrower than each of its two values alone.
    """
    kinds = params.attribute_kinds
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = defaultdict(list)
    for row, cat in enumerate(categories):
        keys = sorted(k for k in listing_attributes(index, row) if k.split(":", 1)[0] in kinds)[:params.max_attribute_keys]
        for k in keys:
            groups[(cat, (k,))].append(row)
        for pair in combinations(keys, 2):
            groups[(cat, pair)].append(row)
        if progress and (row + 1) % 50_000 == 0:
            progress("attributes", row + 1, len(categories))
    if progress:
        progress("attributes", len(categories), len(categories))
    sizes = Counter(categories.tolist())
    out = []
    for (cat, keys), rows in groups.items():
        if not params.min_size <= len(rows) <= params.max_attribute_share * sizes[cat]:
            continue
        if len(keys) == 2 and any(len(groups[(cat, (k,))]) == len(rows) for k in keys):
            continue
        out.append(_Candidate(f"attributes:{cat}|{'+'.join(keys)}", "attributes", cat, np.asarray(rows), list(keys)))
    return out


def _not_a_cluster_again(candidates: list[_Candidate], landscape, params: CandidateParams) -> list[_Candidate]:
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
        if inside >= params.max_overlap * len(c.rows) and sizes[home] <= params.own_cluster_ratio * len(c.rows):
            continue
        out.append(c)
    return out


def brand_share(brands: np.ndarray) -> float:
    """The biggest share one brand holds of a group's listings (`brands`: a code per listing, -1 for none;
    listings without a brand hold no share).

    Listings, not demand: in a market of several brands one best-seller usually holds most of the reviews
    (demand is heavy-tailed), and such a market is still open to a newcomer; on held-out toys entrants,
    also refusing niches whose demand one brand holds cut the lift of the shortlist from 1.33 to 1.12.
    """
    named = brands[brands >= 0]
    return float(np.bincount(np.unique(named, return_inverse=True)[1]).max() / len(brands)) if len(named) else 0.0


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
    opportunity: OpportunityParams = OPPORTUNITY
    candidates: CandidateParams = CANDIDATES
    neighbours: NeighbourParams = NEIGHBOURS
    by_cluster: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # rows, cluster by cluster
    cluster_starts: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    category_clusters: dict[str, np.ndarray] = field(default_factory=dict)  # cluster positions of each category
    big_clusters: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # real, min_size+ listings

    brands: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # brand code per row, -1: none
    brand_words: frozenset[str] = frozenset()  # usps.catalog_brand_words
    category_logs: dict[str, tuple[float, int]] = field(default_factory=dict)  # category_log_sums
    catalog_logs: tuple[float, int] = (0.0, 0)  # the same over the whole catalog
    priced: np.ndarray = field(default_factory=lambda: np.empty(0))  # known prices, cluster by cluster, sorted
    priced_starts: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))

    def members(self, cluster: int) -> np.ndarray:
        """The rows of one cluster (a position in `centroids`), ascending."""
        return self.by_cluster[self.cluster_starts[cluster] : self.cluster_starts[cluster + 1]]

    def cluster_prices(self, cluster: int) -> np.ndarray:
        """The known prices of one cluster's listings, sorted."""
        return self.priced[self.priced_starts[cluster] : self.priced_starts[cluster + 1]]


def _context(index: Index, landscape, opportunity: OpportunityParams, candidates: CandidateParams,
             neighbours: NeighbourParams) -> _Context:
    """Everything candidates are scored against, computed once: demand, prices, groups, centroids, parameters."""
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
    floor = opportunity.competition_floor
    ref = max(floor, float(np.percentile(distinct, opportunity.competition_percentile))) if distinct else floor
    centroids = _centroids(index, landscape)
    position = {cid: i for i, cid in enumerate(centroids[0])}
    codes = np.array([position[str(x)] for x in a["cluster_id"]], dtype=np.int64)
    # Each cluster's rows and each category's clusters, found once instead of by a scan per candidate.
    by_cluster = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[by_cluster], np.arange(len(centroids[0]) + 1))
    _, _, cluster_sizes, cluster_categories, real = centroids
    category_clusters = {str(c): np.asarray(rows, dtype=np.int64)
                         for c, rows in pd.Series(np.arange(len(cluster_categories))).groupby(cluster_categories).indices.items()}
    big = np.flatnonzero(real & (cluster_sizes >= neighbours.min_size))
    known = np.flatnonzero(np.isfinite(prices))
    known = known[np.lexsort((prices[known], codes[known]))]
    priced_starts = np.searchsorted(codes[known], np.arange(len(centroids[0]) + 1))
    demand = catalog_demand(index, params=opportunity)
    logs = category_log_sums(demand, categories)
    catalog_logs = (sum(v[0] for v in logs.values()), sum(v[1] for v in logs.values()))
    return _Context(index, landscape, demand, groups, categories, prices,
                    category_prices, dict(sizes), np.sort(np.array([sizes[c] for c in categories], dtype=float)), ref,
                    centroids, codes, opportunity, candidates, neighbours, by_cluster, starts, category_clusters, big,
                    brand_codes(index.listings["brand"]), catalog_brand_words(index), logs, catalog_logs,
                    prices[known], priced_starts)


def brand_codes(brands: pd.Series) -> np.ndarray:
    """A code per listing for its brand, the same for the same name in any case or spacing; -1 for none."""
    names = brands.fillna("").astype(str).str.casefold().str.split().str.join(" ")
    codes, _ = pd.factorize(names.where(names != "", None), use_na_sentinel=True)
    return codes.astype(np.int64)


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


def _score_all(candidates: list[_Candidate], ctx: _Context, progress: Progress | None = None) -> list[_Scored]:
    """Every candidate scored, category by category, `block_rows` candidates at a time (their crowded
    neighbours come from `_neighbours`)."""
    out: list[_Scored | None] = [None] * len(candidates)
    by_category: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(candidates):
        by_category[c.category].append(i)
    step = max(1, ctx.candidates.block_rows)
    done = 0
    for positions in by_category.values():
        for start in range(0, len(positions), step):
            block = positions[start : start + step]
            for i, neighbour in zip(block, _neighbours([candidates[i] for i in block], ctx)):
                out[i] = _score(candidates[i], ctx, neighbour)
            cl.release_pages(ctx.index.vectors)  # a block's rows are spread over the whole mapped file
            done += len(block)
            if progress:
                progress("scores", done, len(candidates))
    return out


def _score(c: _Candidate, ctx: _Context, neighbour: int | None) -> _Scored:
    """Components and opportunity of one candidate (see OpportunityParams.formula), next to its crowded
    `neighbour` cluster (a position in `_Context.centroids`, see `_neighbours`)."""
    values = ctx.demand.values[c.rows]
    known = values[np.isfinite(values)]
    if ctx.demand.source != "market size":  # no value in the niche: the prior alone (the catalog median)
        source, figure = ctx.demand.source, float(np.median(known)) if len(known) else math.nan
        reference = surroundings_log_mean(ctx.category_logs, c.category, values, ctx.catalog_logs, ctx.candidates.min_size)
        demand = demand_component(values, ctx.demand, params=ctx.opportunity, reference=reference)
    else:
        source, figure = "market size", float(ctx.category_sizes.get(c.category, len(c.rows)))
        demand = _percentile(ctx.sorted_category_sizes, figure)
    distinct = distinct_offers(ctx.groups[c.rows])
    competition = min(1.0, math.log1p(distinct) / math.log1p(ctx.competition_ref))
    homogenization = 1 - distinct / len(c.rows)
    price_room = _price_room(c, ctx, neighbour)
    parts = {"demand": round(demand, 4), "competition": round(competition, 4),
             "homogenization": round(homogenization, 4), "price_room": round(price_room, 4)}
    room = ctx.opportunity.room(competition, homogenization, price_room)
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
    if neighbour is not None:  # the neighbour's sorted prices without the niche's own listings in it
        pool = ctx.cluster_prices(neighbour)
        inside = np.unique(c.rows[ctx.codes[c.rows] == neighbour])
        drop = np.sort(ctx.prices[inside][np.isfinite(ctx.prices[inside])])
        if len(drop):  # one copy of each dropped price goes (a price several listings share stays for the others)
            pool = np.delete(pool, np.searchsorted(pool, drop) + np.arange(len(drop)) - np.searchsorted(drop, drop))
    if len(pool) < 2:
        pool = ctx.category_prices.get(c.category, np.empty(0))
    if len(pool) < 2:
        return 0.5
    # The median of a few prices is a weak estimate: pulled toward neutral (0.5) with the weight of
    # `prior_listings` listings, as demand is pulled toward the catalog median.
    prior = ctx.opportunity.prior_listings
    room = _percentile(pool, float(np.median(prices)))
    return (len(prices) * room + prior * 0.5) / (len(prices) + prior)


def _select(scored: list[_Scored], top: int, params: CandidateParams) -> list[_Scored]:
    """The best candidates, leaving out one that mostly repeats the listings of a better one."""
    chosen: list[_Scored] = []
    taken: set[int] = set()
    for s in sorted(scored, key=lambda s: (-s.opportunity, -s.components["demand"], s.candidate.niche_id)):
        rows = s.candidate.rows
        if sum(int(r) in taken for r in rows) >= params.max_overlap * len(rows):
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
    step = landscape.clustering.block_elements // max(1, index.vectors.shape[1])
    for start in range(0, len(codes), step):  # in row order, as one np.add.at over all rows would add them
        np.add.at(sums, codes[start : start + step], index.vectors[start : start + step])
        cl.release_pages(index.vectors)
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


def _neighbours(block: list[_Candidate], ctx: _Context) -> list[int | None]:
    """The crowded cluster next to each niche of one category: the most similar real cluster, preferring its
    own category and clusters at least `NeighbourParams.ratio` times its size (a sub-niche's own cluster counts
    without it); one of another category only when its own has none, and only at `other_category_similarity`.

    The niches' centres are compared with their category's centroids (and, for those whose category has
    no such cluster, with the centroids of the catalog's clusters big enough to be one), never with all.
    """
    _, cents, sizes, cats, real = ctx.centroids
    p = ctx.neighbours
    category = block[0].category
    centres = np.stack([np.asarray(ctx.index.vectors[c.rows], dtype=np.float32).mean(axis=0) for c in block])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)
    cols = ctx.category_clusters.get(category, np.empty(0, dtype=np.int64))
    sims = centres @ cents[cols].T
    out: list[int | None] = []
    elsewhere = []
    for j, c in enumerate(block):
        own, counts = np.unique(ctx.codes[c.rows], return_counts=True)
        least = max(p.min_size, p.ratio * len(c.rows))
        others = sizes[cols] - _counts_at(cols, own, counts)
        picks = [pick for pick in (real[cols] & (others >= least), real[cols] & (others >= p.min_size)) if pick.any()]
        if picks:
            best = int(np.argmax(np.where(picks[0], sims[j], -np.inf)))
            out.append(int(cols[best]) if sims[j, best] >= p.min_similarity else None)
        else:
            out.append(None)
            elsewhere.append((j, own, counts, least))
    if elsewhere:
        big = ctx.big_clusters  # every cluster another category could lend: real, with min_size+ listings
        far = centres[[j for j, *_ in elsewhere]] @ cents[big].T
        outside = cats[big] != category
        for row, (j, own, counts, least) in enumerate(elsewhere):
            pick = outside & (sizes[big] - _counts_at(big, own, counts) >= least)
            if pick.any():
                best = int(np.argmax(np.where(pick, far[row], -np.inf)))
                out[j] = int(big[best]) if far[row, best] >= p.other_category_similarity else None
    return out


def _counts_at(cols: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """How many of a niche's listings (`counts` per cluster in `codes`) sit in each cluster of `cols` (sorted)."""
    out = np.zeros(len(cols), dtype=np.int64)
    at = np.searchsorted(cols, codes)
    hit = at < len(cols)
    hit[hit] = cols[at[hit]] == codes[hit]
    out[at[hit]] = counts[hit]
    return out


def _compared(c: _Candidate, ctx: _Context, neighbour: int) -> np.ndarray:
    """The neighbour's listings (not the niche's) nearest the niche's centre: what its USPs are measured on."""
    members = np.setdiff1d(ctx.members(neighbour), c.rows)
    vectors = ctx.index.vectors
    return members[np.argsort(-(vectors[members] @ _centre(c, ctx)), kind="stable")[:ctx.neighbours.compared]]


def _niche_usps(c: _Candidate, compared: np.ndarray, index: Index, params: NeighbourParams) -> list[Point]:
    """What at least `params.usp_min_share` of the niche's listings state and few of the compared neighbours
    state (`params.usp`: fewer than 20%)."""
    own = [listing_stated(index, int(r)) for r in c.rows]
    in_niche = count_keys(own)
    need = max(2, math.ceil(len(own) * params.usp_min_share)) if len(own) > 1 else 1
    wordings: dict[str, str] = {}
    for s in own:  # claims: attributes, and phrases some niche listing puts in its title
        claims = {k: w for k, w in s.candidates().items() if not k.startswith("phrase:") or k[len("phrase:"):] in s.title_phrases}
        for key, wording in claims.items():
            if in_niche[key] >= need:
                wordings.setdefault(key, wording)
    counts = count_keys([listing_stated(index, int(r)) for r in compared])
    titles = " | ".join(s_title for s_title in index.listings["title"].to_numpy()[c.rows][:20])
    return pick_usps(wordings, counts, len(compared), titles, params=params.usp)


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
    keywords = cl.ctfidf_keywords(titles, brands, labels, 2, segmenter=catalog_segmenter(ctx.index))
    return [display(k) for k in keywords[1]]


def _name(c: _Candidate, ctx: _Context, keywords: list[str], usps: list[Point]) -> str:
    """A readable name: the product its listings say they sell (`product_phrase`), then what sets it apart
    (an attribute niche's attributes, its USPs, then its most distinctive keywords), each saying words the
    name does not say yet ('bedside table lamp - bamboo - dimmer'); the keywords alone when no phrase is shared."""
    head = product_phrase([listing_stated(ctx.index, int(r)) for r in c.rows], c.category)
    parts = [display(head)] if head else []
    said = set(head.split()) if head else set()
    for text in [describe(k) for k in c.attributes] + [u.text for u in usps] + keywords:
        new = set(words(text))
        if new and not (new & said) and len(parts) < 3:
            parts.append(text)
            said |= new
    return " - ".join(parts) or c.niche_id


def product_phrase(stated_list: list, category: str, min_share: float = 0.5) -> str | None:
    """The phrase most of a niche's titles say that names its product: among title phrases (no brand words,
    no bare numbers) that at least `min_share` of the listings say, one with a word of the category's leaf
    ('dice game' in Dice & Dice Games), then the longest of those nearly as said as the most said one;
    None when none is shared."""
    counts = Counter(p for s in stated_list for p in s.title_phrases
                     if not any(ch.isdigit() for ch in p) and not attribute_keys(p))
    need = max(2, math.ceil(min_share * len(stated_list)))
    leaf = set(words(category.split(">")[-1]))
    leaf |= {w[:-1] for w in leaf if w.endswith("s")}  # 'games' -> 'game'
    shared = [p for p, n in counts.items() if n >= need]
    if not shared:
        return None
    named = [p for p in shared if set(p.split()) & leaf] or shared
    most = max(counts[p] for p in named)
    # Nearly as said as the most said one: the longer phrase says more ('water bottle', not 'bottle').
    return max((p for p in named if counts[p] >= 0.75 * most), key=lambda p: (len(p.split()), counts[p], p))


def _top_competitors(c: _Candidate, ctx: _Context, median: float | None = None) -> list[dict]:
    """The niche's listings with the most demand: who a new listing would compete with, each price read
    against the niche's `median` price."""
    df = ctx.index.listings
    values = np.nan_to_num(ctx.demand.values[c.rows], nan=-1.0)
    order = c.rows[np.argsort(-values, kind="stable")[:ctx.candidates.top_competitors]]
    out = []
    for r in order:
        rec = df.iloc[int(r)]
        price = _num(rec["price"])
        url = rec["url"] if "url" in rec else ""
        out.append({"title": str(rec["title"]), "price": price,
                    "price_vs_niche": price_position(price, median),
                    "rating": _num(rec["rating"]), "review_count": _num(rec["review_count"]), "brand": str(rec["brand"]),
                    "url": url if isinstance(url, str) else "", "listing_id": str(rec["listing_id"])})
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
                neighbour: dict | None, *, usp: UspParams = USP) -> str:
    """A draft positioning line from a template: the USPs, the demand and the crowd it stands apart from.

    "<category leaf> with <material, feature...> for <audience, use> that say '<phrase>': <demand> across
    only <n> distinct offers, set apart from <N> look-alike '<neighbour>' listings, where under 20% say
    '<first USP>'." (20%: `usp.usp_max_share`, the rule the USPs were picked by.)
    """
    leaf = name if category == NO_CATEGORY else category.split(">")[-1].strip() or name
    if not usps:
        if not neighbour:
            return (f"{leaf} ({name}): {demand_text} across {plural(distinct, 'distinct offer')}, with no crowded "
                    "look-alike cluster next to it.")
        return (f"{leaf} ({name}): {demand_text} across {plural(distinct, 'distinct offer')}; no claim sets it apart "
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
    line += f": {demand_text} across only {plural(distinct, 'distinct offer')}"
    if neighbour:
        line += (f", set apart from {neighbour['size']:,} look-alike '{neighbour['label']}' listings, "
                 f"where under {usp.usp_max_share:.0%} say '{top[0].text}'")
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
    # A brand's, product line's or licence's words name no market a new seller can enter.
    keywords = [k for k in keywords if not _has_brand_word(k, ctx.brand_words)]
    neighbour = None
    compared = np.empty(0, dtype=np.int64)
    if s.neighbour is not None:
        compared = _compared(c, ctx, s.neighbour)
        neighbour_id = ctx.centroids[0][s.neighbour]
        n_label, n_keywords = labels.get(neighbour_id, (neighbour_id, []))
        if n_label and _has_brand_word(n_label, ctx.brand_words):
            n_label = ", ".join(k for k in n_keywords if not _has_brand_word(k, ctx.brand_words))[:80] or "look-alikes"
        size = int(ctx.centroids[2][s.neighbour])
        neighbour = {"cluster_id": neighbour_id, "label": n_label or neighbour_id, "size": size, "compared": len(compared),
                     "compared_ids": [str(x) for x in index.listings["listing_id"].to_numpy()[compared]]}
    usps = _niche_usps(c, compared, index, ctx.neighbours) if len(compared) else []
    name = _name(c, ctx, keywords, usps)
    band = price_band(ctx.prices[c.rows], ctx.candidates.min_quartile_prices)
    known = ctx.demand.values[c.rows]
    carrying = int((np.nan_to_num(known, nan=0.0) > 0).sum()) if s.source in ("reviews", "sales") else int(np.isfinite(known).sum())
    text = demand_label(s.source, s.demand)
    if s.source == "rating":
        text += " (ratings say what buyers thought, not how many bought: a weak demand signal)"
    attrs = c.attributes or _common_attributes(c, index)
    return Niche(
        rank=rank, niche_id=c.niche_id, kind=c.kind, name=name, keywords=keywords, category=c.category,
        attributes=attrs, size=len(c.rows), distinct_offers=s.distinct, demand_source=s.source,
        demand=round(s.demand, 2) if math.isfinite(s.demand) else None, demand_label=text, opportunity=s.opportunity, components=s.components,
        price_low=band["low"], price_median=band["median"], price_high=band["high"], price_min=band["min"],
        price_max=band["max"], price_count=band["count"], demand_listings=carrying,
        demand_weak=carrying < ctx.candidates.min_demand_listings,
        demand_vs_category=relative_demand(ctx.demand, c.rows, ctx.categories == c.category),
        demand_interval=demand_interval(ctx.demand, c.rows),
        brand_leader_share=round(brand_share(ctx.brands[c.rows]), 4), top_competitors=_top_competitors(c, ctx, band["median"]),
        neighbour=neighbour, usps=usps,
        positioning=positioning(name, c.category, usps, len(c.rows), s.distinct, text, neighbour, usp=ctx.neighbours.usp),
        listing_ids=[str(x) for x in index.listings["listing_id"].to_numpy()[c.rows]],
    )


def price_band(prices: np.ndarray, min_quartile_prices: int = 4) -> dict:
    """Lowest, highest and count of the known prices; median and quartiles as real prices (no value between
    two prices is made up), the quartiles only from `min_quartile_prices`+ prices."""
    prices = np.sort(np.asarray(prices, dtype=float)[np.isfinite(prices)])
    n = len(prices)
    if not n:
        return {"min": None, "max": None, "count": 0, "low": None, "median": None, "high": None}
    quartiles = n >= min_quartile_prices
    pick = lambda q: float(np.percentile(prices, q, method="inverted_cdf"))  # noqa: E731 - a real price
    return {"min": float(prices[0]), "max": float(prices[-1]), "count": n, "low": pick(25) if quartiles else None,
            "median": pick(50), "high": pick(75) if quartiles else None}


def relative_demand(demand: _Demand, rows: np.ndarray, category: np.ndarray) -> float | None:
    """A niche's demand against its category's: the ratio of their listings' geometric mean (1 + reviews
    or sales), or the difference of their mean ratings; None without a signal. Entrants of a niche whose
    listings beat their category's are the ones that beat theirs (docs/niches.md, held-out entrants)."""
    if demand.source == "market size":
        return None
    inside, around = demand.values[rows], demand.values[category]
    if demand.source == "rating":
        a, b = inside[np.isfinite(inside)], around[np.isfinite(around)]
        return round(float(a.mean() - b.mean()), 3) if len(a) and len(b) else None
    logs = lambda v: np.log1p(np.maximum(np.nan_to_num(v, nan=0.0), 0.0))  # noqa: E731 - missing: none yet
    return round(float(np.exp(logs(inside).mean() - logs(around).mean())), 3)


def demand_interval(demand: _Demand, rows: np.ndarray, z: float = 1.2816) -> list[float] | None:
    """An 80% interval (z = 1.28) of the niche's typical listing's demand, in the signal's unit: for counts,
    exp(mean log(1 + x) +/- z x its standard error) - 1 (a geometric mean, as reviews are heavy-tailed); for
    ratings, the mean +/- z x its standard error. None with fewer than 2 values (nothing to spread)."""
    if demand.source == "market size":
        return None
    values = demand.values[rows]
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return None
    x = np.log1p(np.maximum(values, 0.0)) if demand.source != "rating" else values
    half = z * float(np.std(x, ddof=1)) / math.sqrt(len(x))
    low, high = float(x.mean()) - half, float(x.mean()) + half
    if demand.source != "rating":
        low, high = math.expm1(low), math.expm1(high)
    return [round(max(low, 0.0), 2), round(high, 2)]


def _has_brand_word(text: str, brand_words: frozenset[str]) -> bool:
    """Whether a keyword or label (words joined by spaces and ', ') says one of the catalog's brand words."""
    return any(w in brand_words for w in words(text.replace(",", " ")))


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
    params: OpportunityParams = OPPORTUNITY,
    candidates: CandidateParams = CANDIDATES,
    neighbours: NeighbourParams = NEIGHBOURS,
    progress: Progress | None = None,
) -> list[Niche]:
    """Rank the catalog's niches by opportunity and describe the `top` best.

    `landscape` is `landscape.analyze_landscape(index)` (computed when not given). `category` keeps
    niches whose category path starts with it; `min_demand` drops niches whose demand figure (in the
    unit of their demand source) is lower. `params` score the niches, `candidates` say which regions are
    candidates and `neighbours` which crowd a niche's USPs are measured against.
    """
    return niches_and_pool(index, landscape, top=top, category=category, min_demand=min_demand, params=params,
                           candidates=candidates, neighbours=neighbours, progress=progress)[0]


def niches_and_pool(index: Index, landscape=None, *, top: int = 20, category: str | None = None,
                    min_demand: float | None = None, params: OpportunityParams = OPPORTUNITY,
                    candidates: CandidateParams = CANDIDATES, neighbours: NeighbourParams = NEIGHBOURS,
                    progress: Progress | None = None) -> tuple[list[Niche], pd.DataFrame]:
    """`find_niches`, and the whole pool it chose from: one row per scored candidate with its niche_id,
    kind, category, cluster_id, rows (index rows), distinct_offers and opportunity (best first)."""
    if top < 1:
        raise QueryError(f"The number of niches asked for (top) must be at least 1, not {top}.", parameter="top")
    if landscape is None:
        landscape = analyze_landscape(index, progress=progress)
    _step(progress, "niches", 0)
    ctx, scored = _candidates_scored(index, landscape, category, params=params, candidates=candidates,
                                     neighbours=neighbours, progress=progress)
    _step(progress, "niches", 1)
    if min_demand is not None:
        scored = [s for s in scored if math.isfinite(s.demand) and s.demand >= min_demand]
    chosen = _select(scored, top, candidates)
    _step(progress, "niches", 2)
    labels = _labels(landscape)
    niches = [_describe(s, rank, ctx, labels) for rank, s in enumerate(chosen, start=1)]
    _step(progress, "niches", 3)
    pool = pd.DataFrame({
        "niche_id": [s.candidate.niche_id for s in scored], "kind": [s.candidate.kind for s in scored],
        "category": [s.candidate.category for s in scored], "cluster_id": [s.candidate.cluster_id for s in scored],
        "rows": [s.candidate.rows for s in scored], "distinct_offers": [s.distinct for s in scored],
        "opportunity": [s.opportunity for s in scored],
    })
    return niches, pool.sort_values("opportunity", ascending=False, kind="stable").reset_index(drop=True)


def _candidates_scored(index: Index, landscape, category: str | None = None, given: list[np.ndarray] = (), *,
                       params: OpportunityParams, candidates: CandidateParams, neighbours: NeighbourParams,
                       progress: Progress | None = None) -> tuple[_Context, list[_Scored]]:
    """Every candidate niche of the catalog (of `category`) with `candidates.min_offers`+ distinct offers
    scored, then the `given` row sets, scored the same way (whatever their offers)."""
    ctx = _context(index, landscape, params, candidates, neighbours)
    found = (_cluster_candidates(landscape, candidates)
             + _local_candidates(index, landscape, ctx.categories, np.nan_to_num(ctx.demand.values, nan=0.0), candidates,
                                 progress)
             + _not_a_cluster_again(_attribute_candidates(index, ctx.categories, candidates, progress), landscape,
                                    candidates))
    found = [c for c in found if _category_matches(c.category, category)
             and distinct_offers(ctx.groups[c.rows]) >= candidates.min_offers
             and brand_share(ctx.brands[c.rows]) <= candidates.max_brand_share]
    found += [_Candidate(f"given:{i}", "given", str(ctx.categories[rows[0]]), np.sort(np.asarray(rows)))
              for i, rows in enumerate(given)]
    return ctx, _score_all(found, ctx, progress)


def candidate_scores(index: Index, landscape, given: list[np.ndarray] = (), *,
                     params: OpportunityParams = OPPORTUNITY, candidates: CandidateParams = CANDIDATES,
                     neighbours: NeighbourParams = NEIGHBOURS) -> pd.DataFrame:
    """Every candidate niche of the catalog scored as `find_niches` scores them, then the `given` row sets
    scored the same way: one row each with `rows` (index rows), `demand` (its demand component),
    `distinct_offers`, `opportunity` and `given` (True for the given sets, in their order, last)."""
    _, scored = _candidates_scored(index, landscape, given=list(given), params=params, candidates=candidates,
                                   neighbours=neighbours)
    return pd.DataFrame({
        "rows": [s.candidate.rows for s in scored],
        "demand": [s.components["demand"] for s in scored],
        "distinct_offers": [s.distinct for s in scored],
        "opportunity": [s.opportunity for s in scored],
        "given": [s.candidate.kind == "given" for s in scored],
    })


def score_row_sets(index: Index, landscape, row_sets: list[np.ndarray], *, params: OpportunityParams = OPPORTUNITY,
                   candidates: CandidateParams = CANDIDATES, neighbours: NeighbourParams = NEIGHBOURS) -> list[float]:
    """The opportunity score `find_niches` would give each set of index rows (NaN for an empty set), without
    scoring the catalog's other candidates: how a niche seen elsewhere (another snapshot) scores here."""
    ctx = _context(index, landscape, params, candidates, neighbours)
    given = [(i, np.sort(np.asarray(rows, dtype=np.int64))) for i, rows in enumerate(row_sets) if len(rows)]
    scored = _score_all([_Candidate(f"given:{i}", "given", str(ctx.categories[rows[0]]), rows) for i, rows in given], ctx)
    out = [float("nan")] * len(row_sets)
    for (i, _), s in zip(given, scored):
        out[i] = s.opportunity
    return out


def _step(progress: Progress | None, stage: str, done: int) -> None:
    """Report progress of the niche stage (3 steps) when a callback is given."""
    if progress:
        progress(stage, done, 3)


# ---- exports ------------------------------------------------------------------------------------------


def _competitor_cell(t: dict) -> str:
    """A top competitor in a spreadsheet cell: its title and price as a seller reads them, no id."""
    price = t.get("price")
    if price is None:
        return t["title"]
    position = t.get("price_vs_niche")
    return f"{t['title']} ({price:,.2f}{', ' + position if position else ''})"


def niches_frame(niches: list[Niche]) -> pd.DataFrame:
    """One row per niche, flat enough for a spreadsheet (lists joined with '; ')."""
    rows = []
    for n in niches:
        rows.append({
            "rank": n.rank, "name": n.name, "kind": n.kind, "category": n.category, "opportunity": n.opportunity,
            "demand_source": n.demand_source, "demand": n.demand, "demand_label": n.demand_label,
            **{f"component_{k}": v for k, v in n.components.items()},
            "size": n.size, "distinct_offers": n.distinct_offers,
            "price_min": n.price_min, "price_low": n.price_low, "price_median": n.price_median, "price_high": n.price_high,
            "price_max": n.price_max, "price_count": n.price_count, "demand_listings": n.demand_listings,
            "demand_weak": n.demand_weak, "demand_vs_category": n.demand_vs_category,
            "demand_interval": "" if n.demand_interval is None else f"{n.demand_interval[0]:g}-{n.demand_interval[1]:g}",
            "brand_leader_share": n.brand_leader_share,
            "usps": [u.text for u in n.usps], "positioning": n.positioning, "keywords": n.keywords,
            "attributes": n.attributes,
            "neighbour": (n.neighbour or {}).get("label", ""), "neighbour_size": (n.neighbour or {}).get("size"),
            "top_competitors": [_competitor_cell(t) for t in n.top_competitors],
            "niche_id": n.niche_id,
        })
    return pd.DataFrame(rows)


def niches_document(niches: list[Niche], index: Index | None = None, *, params: OpportunityParams = OPPORTUNITY,
                    **query) -> dict:
    """The JSON export: schema id, the formula (of the `params` the niches were scored with), the query and
    the niches (see docs/niches.md)."""
    source = index.manifest.get("source", {}).get("name") if index is not None else None
    return {
        "schema": SCHEMA,
        "formula": params.formula(),
        "weights": {k: getattr(params, k) for k in ROOM_WEIGHTS},
        "catalog": source,
        "listings": len(index) if index is not None else None,
        "query": {k: v for k, v in query.items()},
        "niches": [n.to_dict() for n in niches],
    }
