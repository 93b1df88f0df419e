"""What sets one listing apart: a differentiation score, its table stakes, its USPs and suggestions.

The listing is compared with its nearest competitors (`competitors.find_competitors`). A phrase or
attribute the listing states is a **USP** when few of those competitors state it, and **table stakes**
when most do (`usps.UspParams`). Suggestions name what the best-rated or most-reviewed competitors state
and the listing does not, what most competitors state and it lacks, and attributes that sell nearby but
that no close competitor offers (white space). The numbers are `DifferentiationParams`; the score's
formula is `DIFFERENTIATION_FORMULA`. See docs/niches.md.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from diffscan.analyses.competitors import Competitor, find_competitors
from diffscan.analyses.usps import (
    USP,
    Point,
    Stated,
    UspParams,
    catalog_segmenter,
    count_keys,
    listing_attributes,
    listing_stated,
    pick_common,
    stated,
    table_stakes,
    title_brand,
    usps,
)
from diffscan.core.attributes import (
    attribute_keys,
)
from diffscan.core.similarity import COSINE_SCALE, CosineScale
from diffscan.core.text import Segmenter, plural, words
from diffscan.errors import QueryError
from diffscan.index.store import Index


@dataclass(frozen=True)
class DifferentiationParams:
    """How far a listing stands from its nearest competitors and what it is told to add (docs/niches.md).

    Parameters
    ----------
    weights: weight of each part of the score: distance (from the nearest competitors, on `scale`),
        unique_share (share of the title's claims that are USPs), no_near_duplicates (share of the
        competitors that are not near-duplicates); distance weighs most: reading like the rest is the risk.
    scale: the cosine scale of the distance: 1 at `scale.far` and below, 0 at `scale.near` and above.
    nearest: the distance reads the mean cosine to this many nearest competitors (a few: the closest crowd).
    usp: when a claim is a USP or table stakes among the competitors compared.
    leader_share, min_leaders: the leaders are this share of the competitors with the most demand
        (reviews, else ratings), and at least this many of them.
    leader_min_share: a leaders' suggestion is stated by at least this share of the leaders.
    max_suggestions: at most this many suggestions of each kind (leaders, table stakes, white space).
    wider: white-space suggestions look at the competitors ranked k+1 .. wider x k ...
    market_share: ... in the categories holding at least this share of the close competitors (a kettle's
        'electric' a little further from a water bottle is another product, not an attribute to add).
    """

    weights: tuple[tuple[str, float], ...] = (("distance", 0.60), ("unique_share", 0.25), ("no_near_duplicates", 0.15))
    scale: CosineScale = COSINE_SCALE
    nearest: int = 5
    usp: UspParams = USP
    leader_share: float = 0.25
    min_leaders: int = 3
    leader_min_share: float = 0.50
    max_suggestions: int = 5
    wider: int = 5
    market_share: float = 0.25

    @property
    def weight(self) -> dict[str, float]:
        return dict(self.weights)

    def formula(self) -> str:
        """The score's formula as shown in help texts and docs, from these numbers."""
        w = self.weight
        far, near = self.scale.far, self.scale.near
        return (f"score = 100 x ({w['distance']:.2f} distance + {w['unique_share']:.2f} unique_share + "
                f"{w['no_near_duplicates']:.2f} no_near_duplicates); distance = clip(({near:.2f} - s) / "
                f"({near:.2f} - {far:.2f}), 0, 1), s = mean cosine to the {self.nearest} nearest competitors; "
                f"unique_share = share of the title's phrases and attributes stated by fewer than "
                f"{self.usp.usp_max_share:.0%} of the competitors; no_near_duplicates = 1 - near-duplicates / competitors")


DIFFERENTIATION = DifferentiationParams()
DIFFERENTIATION_FORMULA = DIFFERENTIATION.formula()


@dataclass
class Suggestion:
    """Something to add to the listing, and why."""

    text: str
    key: str
    kind: str
    reason: str  # "leaders", "table stakes" or "white space"
    detail: str  # one sentence a seller can act on
    share: float  # share of the close competitors that state it
    examples: list[str] = field(default_factory=list)  # listing ids that state it
    demand_lift: float | None = None  # how much more demand the competitors stating it carry (`demand_lift`)
    example_titles: list[str] = field(default_factory=list)  # their titles, what a seller reads

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Differentiation:
    """How far one listing stands from its nearest competitors, and on what."""

    listing_id: str | None
    title: str
    text: str
    score: float  # 0-100, see DifferentiationParams.formula and docs/niches.md
    components: dict[str, float]  # the score's parts, each 0-1
    nearest_similarity: float  # mean cosine to the `nearest` closest competitors
    compared: int  # how many competitors the shares are computed over
    near_duplicates: int
    demand_source: str | None  # what ranked the leaders: "reviews", "rating" or None
    table_stakes: list[Point]
    usps: list[Point]
    suggestions: list[Suggestion]
    competitors: list[Competitor]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["schema"] = "diffscan.differentiation/1"
        return data


def _demand(listings, rows: list[int]) -> tuple[np.ndarray, str | None]:
    """Demand of the given rows: review counts where any exist, else ratings (0 means unrated)."""
    if not rows:
        return np.zeros(0), None
    reviews = listings["review_count"].to_numpy(dtype=float)[rows]
    if np.isfinite(reviews).any() and np.nansum(reviews) > 0:
        return np.nan_to_num(reviews, nan=0.0), "reviews"
    ratings = listings["rating"].to_numpy(dtype=float)[rows]
    ratings = np.where(ratings > 0, ratings, np.nan)
    if np.isfinite(ratings).any():
        return np.nan_to_num(ratings, nan=0.0), "rating"
    return np.zeros(len(rows)), None


def _title_claims(comp_stated: list[Stated]) -> set[str]:
    """Keys fit for suggestions: attributes, and phrases of 2+ words some competitor puts in its title."""
    out: set[str] = set()
    for s in comp_stated:
        out |= set(s.attributes)
        out |= {f"phrase:{p}" for p in s.title_phrases if len(p.split()) >= 2}
    return out


def _leader_suggestions(own: Stated, comp_stated: list[Stated], demand: np.ndarray, source: str | None,
                        ids: list[str], counts: Counter, params: DifferentiationParams) -> list[Suggestion]:
    """What most of the best-rated / most-reviewed competitors state and the listing does not."""
    n = len(comp_stated)
    if source is None or n == 0:
        return []
    top = max(params.min_leaders, math.ceil(n * params.leader_share))
    leaders = [int(i) for i in np.argsort(-demand, kind="stable")[:top] if demand[i] > 0]
    if len(leaders) < 2:
        return []
    lead_counts = count_keys([comp_stated[i] for i in leaders])
    claims = _title_claims([comp_stated[i] for i in leaders])
    mine = own.keys()
    wanted = {k for k, c in lead_counts.items()
              if c >= params.leader_min_share * len(leaders) and k not in mine and k in claims and not _said_otherwise(k, own)}
    label = "most-reviewed" if source == "reviews" else "best-rated"
    out = []
    for pt in pick_common(wanted, counts, n, _wordings(comp_stated, wanted), params=params.usp)[:params.max_suggestions]:
        examples = [ids[i] for i in leaders if pt.key in comp_stated[i].keys()][:3]  # noqa: SIM118 (Stated.keys)
        detail = f"{lead_counts[pt.key]} of the {len(leaders)} {label} competitors state '{pt.text}'; this listing does not."
        out.append(Suggestion(pt.text, pt.key, pt.kind, "leaders", detail, pt.share, examples))
    return out


def _said_otherwise(key: str, own: Stated) -> bool:
    """A phrase naming an attribute the listing already states in other words ('stainless steel' vs '不锈钢'),
    or what the listing cannot say: another size, count, material or colour than its own (`contradicts`)."""
    if key.startswith("phrase:"):
        named = attribute_keys(key[len("phrase:"):])
        return any(k in own.attributes for k in named) or any(contradicts(k, own.attributes) for k in named)
    return contradicts(key, own.attributes)


# What a listing is, not what it could add: one size, one piece count, its materials, its colour.
EXCLUSIVE_KINDS = ("size", "quantity", "material", "colour")


def contradicts(key: str, attributes: dict[str, str]) -> bool:
    """Whether an attribute key disagrees with the listing's own attributes: another value of a kind the
    listing states and cannot change by rewording ('24 pieces' to a 2000-piece puzzle, 'stainless steel'
    to a glass bottle)."""
    kind, _, value = key.partition(":")
    return kind in EXCLUSIVE_KINDS and any(k.partition(":")[0] == kind and k != key for k in attributes)


def demand_lift(key: str, comp_stated: list[Stated], demand: np.ndarray, source: str | None) -> float | None:
    """How much more demand the competitors that state `key` carry than those that don't: the ratio of their
    geometric means of (1 + reviews), or of mean ratings; None without a signal or without both groups."""
    if source is None or not len(comp_stated):
        return None
    says = np.array([key in s.keys() for s in comp_stated])  # noqa: SIM118 (Stated.keys)
    if says.all() or not says.any():
        return None
    values = np.log1p(np.maximum(demand, 0.0)) if source == "reviews" else np.asarray(demand, dtype=float)
    if source == "reviews":
        return round(float(np.exp(values[says].mean() - values[~says].mean())), 2)
    inside, outside = values[says].mean(), values[~says].mean()
    return round(float(inside / outside), 2) if outside > 0 else None


def _with_lift(found: list[Suggestion], comp_stated: list[Stated], demand: np.ndarray, source: str | None) -> list[Suggestion]:
    """Suggestions with their demand lift, the ones whose stating competitors sell most first (ties keep their
    order); the figure is said in the detail."""
    unit = "reviews" if source == "reviews" else "rating"
    for s_ in found:
        s_.demand_lift = demand_lift(s_.key, comp_stated, demand, source)
        if s_.demand_lift is not None:
            s_.detail += f" Competitors that state it have {s_.demand_lift:.2f}x the {unit} of those that don't."
    return sorted(found, key=lambda s_: -(s_.demand_lift if s_.demand_lift is not None else 0.0))


def _wordings(stated_list: list[Stated], keys: set[str]) -> dict[str, str]:
    """The first wording of each attribute key among the texts."""
    out: dict[str, str] = {}
    for s in stated_list:
        for k, w in s.attributes.items():
            if k in keys:
                out.setdefault(k, w)
    return out


def _missing_table_stakes(own: Stated, counts: Counter, comp_stated: list[Stated],
                          params: DifferentiationParams) -> list[Suggestion]:
    """What at least `params.usp.table_stakes_min_share` of the competitors state and the listing does not."""
    n = len(comp_stated)
    if n == 0:
        return []
    mine, claims = own.keys(), _title_claims(comp_stated)
    missing = {k for k, c in counts.items()
               if c >= params.usp.table_stakes_min_share * n and k not in mine and k in claims and not _said_otherwise(k, own)}
    return [
        Suggestion(pt.text, pt.key, pt.kind, "table stakes",
                   f"{pt.count} of {n} competitors state '{pt.text}'; shoppers may expect it.", pt.share)
        for pt in pick_common(missing, counts, n, _wordings(comp_stated, missing), params=params.usp)[:params.max_suggestions]
    ]


_KIND_ORDER = {"material": 0, "feature": 1, "audience": 2, "use": 3, "colour": 4, "size": 5, "quantity": 6}


def _white_space(own: Stated, counts: Counter, wider_attrs: list[dict[str, str]], wider_ids: list[str],
                 params: DifferentiationParams, segmenter: Segmenter | None = None) -> list[Suggestion]:
    """Attributes that listings a little further away state but no close competitor (nor the listing) does.

    A word the listing already says in another sense is not suggested ('green' to a green tea).
    """
    mine = own.keys()
    found: dict[str, list[int]] = {}
    for i, attrs in enumerate(wider_attrs):
        for key, wording in attrs.items():
            if (key not in mine and counts.get(key, 0) == 0 and " ".join(words(wording, segmenter)) not in own.phrases
                    and not contradicts(key, own.attributes)):
                found.setdefault(key, []).append(i)
    ranked = sorted(found.items(), key=lambda kv: (_KIND_ORDER.get(kv[0].split(":")[0], 9), -len(kv[1]), kv[0]))
    out = []
    for key, rows in ranked[:params.max_suggestions]:
        wording = wider_attrs[rows[0]][key]
        detail = (f"No close competitor offers '{wording}'; {plural(len(rows), 'listing')} a little further away "
                  f"{'does' if len(rows) == 1 else 'do'}.")
        out.append(Suggestion(wording, key, key.split(":")[0], "white space", detail, 0.0, [wider_ids[i] for i in rows[:3]]))
    return out


def _market(close: list[Competitor], own_category: str | None, params: DifferentiationParams) -> set[str]:
    """The categories a listing competes in: its own, its close competitors' most common, and any holding
    `params.market_share` of them. White space is read there only: a kettle's 'electric' or a camping pot's
    'titanium' a little further from a water bottle is another product, not an attribute to add."""
    counts = Counter(c.category for c in close)
    market = {cat for cat, n in counts.items() if n >= params.market_share * len(close)}
    market |= {cat for cat, _ in counts.most_common(1)}
    return market | ({own_category} if own_category is not None else set())


def differentiation_score(semantic: list[float], unique_share: float, near_duplicates: int, *,
                          params: DifferentiationParams = DIFFERENTIATION) -> tuple[float, dict[str, float], float]:
    """(score 0-100, components 0-1, nearest similarity) from the competitors' cosine similarities.

    See `DifferentiationParams.formula`: distance maps the mean cosine of the `params.nearest` nearest
    competitors linearly from `params.scale.near` (near-duplicates: 0) to `params.scale.far` (1).
    """
    if not semantic:
        return 100.0, {"distance": 1.0, "unique_share": 1.0, "no_near_duplicates": 1.0}, 0.0
    near, far = params.scale.near, params.scale.far
    nearest = float(np.mean(sorted(semantic, reverse=True)[:params.nearest]))
    distance = min(1.0, max(0.0, (near - nearest) / (near - far)))
    parts = {"distance": round(distance, 4), "unique_share": round(unique_share, 4),
             "no_near_duplicates": round(1 - near_duplicates / len(semantic), 4)}
    weight = params.weight
    score = 100 * sum(weight[name] * value for name, value in parts.items())
    return round(score, 1), parts, round(nearest, 4)


def _unique_share(title: str, brand: str, counts: Counter, n: int, usp: UspParams,
                  segmenter: Segmenter | None = None) -> float:
    """Share of the title's phrases and attributes that fewer than `usp.usp_max_share` of the competitors state."""
    keys = stated(title, brand, segmenter=segmenter).candidates()
    if not keys or n == 0:
        return 1.0 if n == 0 else 0.0
    return sum(counts.get(k, 0) < usp.usp_max_share * n for k in keys) / len(keys)


def differentiate(
    index: Index,
    text: str | None = None,
    *,
    listing_id: str | None = None,
    k: int = 20,
    encoder=None,
    params: DifferentiationParams = DIFFERENTIATION,
) -> Differentiation:
    """Compare one listing (pasted `text` or a `listing_id` of the index) with its k nearest competitors.

    Shares are over the k competitors; white-space suggestions look at the next (`params.wider` - 1) x k,
    those in the listing's market (`_market`).
    """
    if k < 1:
        raise QueryError(f"The number of competitors to compare with (k) must be at least 1, not {k}.", parameter="k")
    result = find_competitors(index, text, listing_id=listing_id, k=params.wider * k, encoder=encoder, explain=False)
    close, wider = result.competitors[:k], result.competitors[k:]
    segmenter = catalog_segmenter(index)  # Chinese words with the catalog's brands
    df = index.listings
    if listing_id is not None:
        row = index.row_of(str(listing_id))
        own = listing_stated(index, row)
        title, brand = title_brand(index, row)
        own_category = " > ".join(df["category_path"].iat[row])
    else:
        title, brand = result.query_text.split("\n", 1)[0].strip()[:500], ""
        own = stated(result.query_text, brand, title, segmenter=segmenter)
        own_category = None
    rows = [index.row_of(c.listing_id) for c in close]
    comp_stated = [listing_stated(index, r) for r in rows]
    n = len(close)
    counts = count_keys(comp_stated)
    near = sum(c.near_duplicate for c in close)
    score, parts, nearest = differentiation_score([c.semantic for c in close],
                                                  _unique_share(title, brand, counts, n, params.usp, segmenter), near, params=params)
    demand, source = _demand(df, rows)
    market = _market(close, own_category, params)
    wider = [c for c in wider if c.category in market]
    wider_rows = [index.row_of(c.listing_id) for c in wider]
    wider_attrs = [listing_attributes(index, r) for r in wider_rows]
    suggestions = _dedupe(
        _with_lift(_leader_suggestions(own, comp_stated, demand, source, [c.listing_id for c in close], counts, params),
                   comp_stated, demand, source)
        + _with_lift(_missing_table_stakes(own, counts, comp_stated, params), comp_stated, demand, source)
        + _white_space(own, counts, wider_attrs, [c.listing_id for c in wider], params, segmenter)
    )
    titles = df["title"]
    for s in suggestions:
        s.example_titles = [str(titles.iat[r]) for r in (index.row_of(i) for i in s.examples) if r is not None]
    return Differentiation(
        listing_id=None if listing_id is None else str(listing_id), title=title, text=result.query_text,
        score=score, components=parts, nearest_similarity=nearest, compared=n, near_duplicates=near,
        demand_source=source, table_stakes=table_stakes(own, counts, n, title, params=params.usp),
        usps=usps(own, counts, n, title, params=params.usp),
        suggestions=suggestions, competitors=close,
    )


def _dedupe(suggestions: list[Suggestion]) -> list[Suggestion]:
    """One suggestion per key, the first reason wins."""
    seen: set[str] = set()
    out = []
    for s in suggestions:
        if s.key not in seen:
            seen.add(s.key)
            out.append(s)
    return out
